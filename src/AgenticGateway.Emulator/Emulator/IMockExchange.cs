namespace AgenticGateway.Emulator;

/// <summary>
/// One request/response as the emulator sees it. Implemented over Kestrel for the standalone emulator and over
/// an in-memory pipe for the in-process <c>mock</c> provider, so both behave byte for byte the same.
/// </summary>
internal interface IMockExchange
{
    string Method { get; }
    string Path { get; }
    /// <summary>The query string including '?', or empty.</summary>
    string Query { get; }
    IEnumerable<KeyValuePair<string, string>> RequestHeaders { get; }
    string? RequestHeader(string name);
    ReadOnlyMemory<byte> RequestBody { get; }

    void SetStatus(int status);
    void SetHeader(string name, string value);
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);
    /// <summary>Sends what was written so far (and the headers, on the first call).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
    /// <summary>Drops the connection abruptly, as a crashed upstream would.</summary>
    void Abort();
}
