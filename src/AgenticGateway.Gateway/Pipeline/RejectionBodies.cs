using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using AgenticGateway.OpenAi;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Gives the error responses Kestrel writes by itself (a request line or headers it cannot parse: 400, 414, 431, and
/// 505 for a version it does not speak, answered as the 400 it is: the client's malformed request line;
/// a method the target form does not allow, as <c>TRACE *</c>: 405; request headers that arrive too slowly: 408; a bad
/// Content-Length or Transfer-Encoding: 400) a JSON body in OpenAI's shape (the path may be unknown). Kestrel writes them
/// with an empty body, before (or instead of) running the application, and offers no hook.
/// </summary>
/// <remarks>
/// <para>How: a connection middleware puts a <see cref="Writer"/> in front of the transport's output, and the first
/// middleware of the application marks each request it sees as the application's until the response is complete
/// (<c>OnCompleted</c> runs after Kestrel has handed every byte of that response to the transport). Kestrel only
/// writes on its own between two of the application's requests, and then only such a rejection, after which it
/// closes the connection: so the writer holds back just what is written while no request of the application is in
/// progress (before the first request too), and, if it is a 4xx/5xx response with <c>Content-Length: 0</c> and nothing
/// after it, adds the body. A BadHttpRequestException that escapes a handler ends the same way (OnCompleted runs first).
/// Anything else held back is passed on unchanged.</para>
/// <para>Why this is safe: the bytes of the application's responses (JSON, SSE streams, file downloads that may look
/// like an HTTP response, WebSocket frames after an upgrade) are never inspected; they pass straight through, at the
/// cost of one field check per call. An HTTP/2 or TLS connection shows non-HTTP/1.1 bytes first and is passed through
/// for good.</para>
/// </remarks>
internal static class RejectionBodies
{
    /// <summary>Adds the connection middleware to an endpoint (all endpoints, through ConfigureEndpointDefaults).</summary>
    public static void Use(ListenOptions listen) => listen.Use(next => async connection =>
    {
        var transport = connection.Transport;
        var writer = new Writer(transport.Output);
        connection.Transport = new DuplexPipe(transport.Input, writer);
        connection.Features.Set(writer);
        try { await next(connection); }
        finally { connection.Transport = transport; }
    });

    /// <summary>Marks each request as the application's while it runs (the application's first middleware).</summary>
    public static void TrackRequests(IApplicationBuilder app) => app.Use(static (context, next) =>
    {
        // Kestrel looks a feature it does not know up in the connection's features, where Use put the writer.
        if (context.Features.Get<Writer>() is { IsPassThrough: false } writer)
        {
            writer.ApplicationStarted();
            context.Response.OnCompleted(static state =>
            {
                ((Writer)state).ApplicationCompleted();
                return Task.CompletedTask;
            }, writer);
        }
        return next(context);
    });

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    /// <summary>The transport's output, holding back what Kestrel writes on its own until it is flushed.</summary>
    internal sealed class Writer(PipeWriter inner) : PipeWriter
    {
        private volatile bool _application;
        private bool _passThrough;
        private ArrayBufferWriter<byte>? _held;
        private bool _holding;

        /// <summary>For good: the connection is not HTTP/1.x in the clear.</summary>
        public bool IsPassThrough => _passThrough;

        public void ApplicationStarted() => _application = true;

        public void ApplicationCompleted() => _application = false;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            _holding = !_application && !_passThrough;
            return _holding ? (_held ??= new ArrayBufferWriter<byte>(512)).GetMemory(sizeHint) : inner.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            _holding = !_application && !_passThrough;
            return _holding ? (_held ??= new ArrayBufferWriter<byte>(512)).GetSpan(sizeHint) : inner.GetSpan(sizeHint);
        }

        public override void Advance(int bytes)
        {
            if (_holding) _held!.Advance(bytes);
            else inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_held is { WrittenCount: > 0 }) Release();
            return inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            if (_held is { WrittenCount: > 0 }) Release();
            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            if (_held is { WrittenCount: > 0 }) Release();
            return inner.CompleteAsync(exception);
        }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes + (_held?.WrittenCount ?? 0);

        /// <summary>Passes on what was held back, with a body added when it is one of Kestrel's empty error responses.</summary>
        private void Release()
        {
            var held = _held!.WrittenSpan;
            if (!held.StartsWith("HTTP/1."u8)) _passThrough = true;
            if (!_passThrough && WithBody(held) is { } rewritten) inner.Write(rewritten);
            else inner.Write(held);
            _held.ResetWrittenCount();
        }
    }

    /// <summary>
    /// The response with a JSON body, when <paramref name="response"/> is exactly an error status line and headers that
    /// declare an empty body (<c>Content-Length: 0</c>, as Kestrel's SetErrorResponseHeaders writes); otherwise null.
    /// </summary>
    internal static byte[]? WithBody(ReadOnlySpan<byte> response)
    {
        var end = response.IndexOf("\r\n\r\n"u8);
        if (end < 0 || end + 4 != response.Length) return null;
        var head = response[..end];
        var lineEnd = head.IndexOf("\r\n"u8);
        if (lineEnd < 0) return null;
        var statusLine = head[..lineEnd];
        // "HTTP/1.1 431 Request Header Fields Too Large"
        if (statusLine.Length < 12 || statusLine[8] != (byte)' ' || !int.TryParse(statusLine.Slice(9, 3), out var status) || status is < 400 or > 599) return null;

        var headers = head[lineEnd..];
        var contentLength = headers.IndexOf("\r\nContent-Length: 0"u8);
        if (contentLength < 0) return null;
        var afterLength = headers[(contentLength + "\r\nContent-Length: 0"u8.Length)..];
        if (!afterLength.IsEmpty && !afterLength.StartsWith("\r\n"u8)) return null;

        var error = Error(status);
        var body = Body(error);
        var output = new ArrayBufferWriter<byte>(response.Length + body.Length + 64);
        // A version Kestrel does not speak is the client's malformed request line: a 400, never a 5xx.
        output.Write(error.Status == status ? statusLine : Encoding.ASCII.GetBytes($"{Encoding.ASCII.GetString(statusLine[..8])} {error.Status} Bad Request"));
        output.Write(headers[..contentLength]);
        output.Write(Encoding.ASCII.GetBytes($"\r\nContent-Length: {body.Length}\r\nContent-Type: application/json"));
        output.Write(afterLength);
        output.Write("\r\n\r\n"u8);
        output.Write(body);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Body(ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        ErrorWriter.Write(buffer, error);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>What each of Kestrel's own refusals means for the client (Kestrel does not say which rule was broken).</summary>
    internal static ApiError Error(int status) => status switch
    {
        408 => new(408, "The request headers did not arrive in time.", "invalid_request_error", "request_timeout"),
        413 => new(413, "The request body is too large.", "invalid_request_error", "request_too_large"),
        414 => new(414, "The request line (method and URL) is too long.", "invalid_request_error", "uri_too_long"),
        431 => new(431, "The request headers are too large or too many.", "invalid_request_error", "headers_too_large"),
        505 => new(400, "This HTTP version is not supported: use HTTP/1.1 (or HTTP/2).", "invalid_request_error", "http_version_not_supported"),
        _ => new(status, "The HTTP request is malformed: its request line, headers or framing could not be parsed.", "invalid_request_error", "malformed_request"),
    };
}
