using System.Buffers;
using System.IO.Pipelines;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline;

/// <summary>The request body in a pooled buffer, bounded by the configured maximum size.</summary>
internal sealed class RequestBody : IDisposable
{
    private byte[] _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>A body the gateway wrote itself (a turn of a hosted-tool loop), copied into a pooled buffer.</summary>
    public static RequestBody Of(ReadOnlySpan<byte> json)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, json.Length));
        json.CopyTo(buffer);
        return new RequestBody(buffer, json.Length);
    }

    /// <summary>Reads the whole body. Returns an error (413, 408 or 400) instead of throwing for bad input.</summary>
    public static async ValueTask<(RequestBody? Body, ApiError? Error)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            if (declared <= DrainLimit(maxBytes)) await DrainAsync(request.BodyReader, 0, DrainLimit(maxBytes), false, cancellationToken);
            return (null, TooLarge(maxBytes));
        }
        var reader = request.BodyReader;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength is > 0 ? request.ContentLength.Value : 4096, maxBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                ReadResult result;
                try { result = await reader.ReadAsync(cancellationToken); }
                catch (BadHttpRequestException ex)
                {
                    // Kestrel refused the body (its hard size limit, broken chunked framing, a body that ended early,
                    // or one that arrived too slowly): the connection is closing, but the client still gets the reason.
                    return (null, FromKestrel(ex, maxBytes));
                }
                catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // Kestrel reports a chunk size too large for an int as an IOException, not a BadHttpRequestException.
                    return (null, Malformed(ex.Message));
                }
                var data = result.Buffer;
                if (length + data.Length > maxBytes)
                {
                    reader.AdvanceTo(data.End);
                    await DrainAsync(reader, length + data.Length, DrainLimit(maxBytes), result.IsCompleted, cancellationToken);
                    return (null, TooLarge(maxBytes));
                }
                if (length + data.Length > buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(buffer.Length * 2L, length + data.Length), maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                data.CopyTo(buffer.AsSpan(length));
                length += (int)data.Length;
                reader.AdvanceTo(data.End);
                if (result.IsCompleted) break;
            }
            var body = new RequestBody(buffer, length);
            buffer = [];
            return (body, null);
        }
        finally
        {
            // Returned exactly once, whatever happened, unless the body now owns it.
            if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>How much of an oversized upload is read and discarded so the client can receive its 413.</summary>
    public static long DrainLimit(long maxBytes) => Math.Max(maxBytes * 2, 8L * 1024 * 1024);

    /// <summary>
    /// Reads and discards the rest of an oversized body (up to a limit): a client still uploading would otherwise
    /// see the connection close instead of the 413.
    /// </summary>
    private static async ValueTask DrainAsync(PipeReader reader, long seen, long limit, bool completed, CancellationToken cancellationToken)
    {
        try
        {
            while (!completed && seen <= limit)
            {
                var result = await reader.ReadAsync(cancellationToken);
                seen += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                completed = result.IsCompleted;
            }
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException)
        {
            // Past the server's hard limit, or framing Kestrel cannot read: the connection closes after the response.
        }
    }

    /// <summary>The client's error for a body Kestrel refused to deliver, by the status Kestrel chose.</summary>
    public static ApiError FromKestrel(BadHttpRequestException ex, long? maxBytes) => ex.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => TooLarge(maxBytes),
        StatusCodes.Status408RequestTimeout => new ApiError(408, "The request body arrived too slowly (below the server's minimum data rate); send it without pauses.", "invalid_request_error", "request_timeout"),
        _ => Malformed(ex.Message) with { Status = ex.StatusCode is >= 400 and < 500 ? ex.StatusCode : 400 },
    };

    private static ApiError Malformed(string reason) => new(400, $"Malformed request body: {reason}", "invalid_request_error", "malformed_body");

    private static ApiError TooLarge(long? maxBytes) =>
        new(413, maxBytes is null ? "Request body too large." : $"Request body too large: the limit is {maxBytes} bytes.", "invalid_request_error", "request_too_large");
}
