using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>What a method's messages look like on the wire: one JSON body each way, or enveloped streams.</summary>
internal enum ConnectKind
{
    Unary,
    ServerStream,
    ClientStream,
}

/// <summary>
/// One Connect RPC over HTTP/1.1 in JSON (connectrpc.com/docs/protocol): unary calls are <c>application/json</c>
/// bodies both ways, errors a JSON object with the code's HTTP status; streams are <c>application/connect+json</c>,
/// each message an envelope (one flag byte, a 4-byte big-endian length, the JSON), the response always 200 and ended by
/// an envelope with flag 0x02 carrying the error, if any. Request messages are limited to
/// <see cref="MaxMessageBytes"/>; a larger one is refused, never read whole.
/// </summary>
internal sealed class ConnectCall(HttpContext context, ConnectKind kind)
{
    public const int MaxMessageBytes = 4 << 20;
    public const string UnaryType = "application/json", StreamType = "application/connect+json";
    private const byte EndStreamFlag = 0x02, CompressedFlag = 0x01;

    private bool _started;
    private bool _ended;

    public HttpContext Context { get; } = context;
    public ConnectKind Kind { get; } = kind;
    public bool IsStream => Kind != ConnectKind.Unary;
    public CancellationToken Aborted => Context.RequestAborted;

    /// <summary>The envd user the call acts as (<see cref="EnvdUser"/>), which the agent's ops carry as <c>user</c>.</summary>
    public string User { get; set; } = EnvdUser.Default;

    /// <summary>
    /// Connect-Timeout-Ms: the deadline the client gives the whole call (at most 10 digits); null when absent. A
    /// malformed value is the client's error.
    /// </summary>
    public TimeSpan? Timeout()
    {
        var raw = Context.Request.Headers["Connect-Timeout-Ms"].ToString();
        if (raw.Length == 0) return null;
        if (raw.Length > 10 || !long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            throw ConnectError.Invalid($"Connect-Timeout-Ms must be a positive integer of at most 10 digits, not '{SandboxHttp.Truncate(raw)}'");
        return ms == 0 ? null : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Keepalive-Ping-Interval (seconds, E2B's header): how often an idle stream sends a keepalive message.</summary>
    public TimeSpan? KeepaliveInterval()
    {
        var raw = Context.Request.Headers["Keepalive-Ping-Interval"].ToString();
        return int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? TimeSpan.FromSeconds(Math.Max(s, 1)) : null;
    }

    /// <summary>The content type the method's kind needs, else the protocol's 415 (nothing else is read).</summary>
    public ConnectError? CheckContentType()
    {
        var type = Context.Request.ContentType ?? "";
        var semicolon = type.IndexOf(';');
        var media = (semicolon >= 0 ? type[..semicolon] : type).Trim();
        var expected = IsStream ? StreamType : UnaryType;
        if (string.Equals(media, expected, StringComparison.OrdinalIgnoreCase)) return null;
        return new ConnectError(ConnectError.Unimplemented, $"content type '{SandboxHttp.Truncate(type)}' is not served here: this envd speaks Connect in JSON ({expected} for this method)");
    }

    /// <summary>The request message of a unary or server-streaming call (an empty unary body is an empty message).</summary>
    public async Task<JsonElement> ReadMessageAsync()
    {
        if (Kind == ConnectKind.Unary)
        {
            var encoding = Context.Request.Headers.ContentEncoding.ToString();
            if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                throw new ConnectError(ConnectError.Unimplemented, $"compression '{SandboxHttp.Truncate(encoding)}' is not supported; send the message uncompressed");
            if (Context.Request.ContentLength > MaxMessageBytes) throw TooLarge();
            var body = await ReadAllAsync(Context.Request.Body, MaxMessageBytes, Aborted);
            return Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
        }
        return await ReadEnvelopeAsync() ?? Parse("{}"u8.ToArray());
    }

    /// <summary>The next message of a request stream, or null at its end.</summary>
    public async Task<JsonElement?> ReadEnvelopeAsync()
    {
        var header = new byte[5];
        var got = await ReadExactlyOrEndAsync(Context.Request.Body, header, Aborted);
        if (got == 0) return null;
        if (got < 5) throw ConnectError.Invalid("the request stream ended inside an envelope header");
        var flags = header[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if ((flags & CompressedFlag) != 0) throw new ConnectError(ConnectError.Unimplemented, "compressed messages are not supported; send them uncompressed");
        if (length > MaxMessageBytes) throw TooLarge();
        var payload = new byte[length];
        if (await ReadExactlyOrEndAsync(Context.Request.Body, payload, Aborted) < length)
            throw ConnectError.Invalid("the request stream ended inside a message");
        if ((flags & EndStreamFlag) != 0) return null;
        return Parse(payload);
    }

    private static ConnectError TooLarge() => new(ConnectError.ResourceExhausted, $"the request message is larger than {MaxMessageBytes} bytes");

    private static JsonElement Parse(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw ConnectError.Invalid("the request message must be a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw ConnectError.Invalid($"the request message is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>A unary call's answer, or one message of a stream (flushed at once: output is live).</summary>
    public async Task SendAsync(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        if (IsStream) buffer.Advance(5);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        await SendRawAsync(buffer, IsStream ? (byte)0 : null);
    }

    /// <summary>One message of a stream, already serialized (shared by every stream that relays it).</summary>
    public async Task SendJsonAsync(ReadOnlyMemory<byte> json)
    {
        if (!_started) Start(200);
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)json.Length);
        var body = Context.Response.Body;
        await body.WriteAsync(header, Aborted);
        await body.WriteAsync(json, Aborted);
        await body.FlushAsync(Aborted);
    }

    private async Task SendRawAsync(ArrayBufferWriter<byte> buffer, byte? flags)
    {
        var response = Context.Response;
        if (!_started) Start(200);
        if (flags is { } f)
        {
            var frame = MemoryMarshalSpan(buffer);
            frame[0] = f;
            BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)(buffer.WrittenCount - 5));
        }
        else response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, Aborted);
        if (flags is not null) await response.Body.FlushAsync(Aborted);
    }

    private static Span<byte> MemoryMarshalSpan(ArrayBufferWriter<byte> buffer) =>
        System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer.WrittenMemory).Span;

    private void Start(int status)
    {
        _started = true;
        var response = Context.Response;
        response.StatusCode = status;
        response.ContentType = IsStream ? StreamType : UnaryType;
        if (IsStream) Context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    /// <summary>Ends a stream: the end-of-stream envelope, with the error when there is one. Unary calls end by their answer.</summary>
    public async Task EndAsync(ConnectError? error = null)
    {
        if (_ended) return;
        _ended = true;
        if (!IsStream)
        {
            if (error is not null) await WriteUnaryErrorAsync(error);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(128);
        buffer.Advance(5);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (error is not null)
            {
                w.WriteStartObject("error");
                w.WriteString("code", error.Code);
                w.WriteString("message", error.Message);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        try { await SendRawAsync(buffer, EndStreamFlag); }
        catch (Exception ex) when (ex is IOException or OperationCanceledException) { }
    }

    /// <summary>Fails the call: a unary error with its status, or (for a stream) the end-of-stream error with a 200.</summary>
    public Task FailAsync(ConnectError error) => EndAsync(error);

    private async Task WriteUnaryErrorAsync(ConnectError error)
    {
        var response = Context.Response;
        if (response.HasStarted) return;
        _started = true;
        response.StatusCode = ConnectError.HttpStatus(error.Code);
        response.ContentType = UnaryType;
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("code", error.Code);
            w.WriteString("message", error.Message);
            w.WriteEndObject();
        }
        response.ContentLength = buffer.WrittenCount;
        try { await response.Body.WriteAsync(buffer.WrittenMemory, Aborted); }
        catch (Exception ex) when (ex is IOException or OperationCanceledException) { }
    }

    /// <summary>Whether the client has gone (a write would fail).</summary>
    public bool Gone => Aborted.IsCancellationRequested;

    private static async Task<byte[]> ReadAllAsync(Stream body, int max, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            var n = await body.ReadAsync(memory, ct);
            if (n == 0) return buffer.WrittenSpan.ToArray();
            buffer.Advance(n);
            if (buffer.WrittenCount > max) throw TooLarge();
        }
    }

    private static async Task<int> ReadExactlyOrEndAsync(Stream body, byte[] into, CancellationToken ct)
    {
        var got = 0;
        while (got < into.Length)
        {
            var n = await body.ReadAsync(into.AsMemory(got), ct);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

}
