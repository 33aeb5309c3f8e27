namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>contentType</c>: a response the service sent without Content-Type gets one detected from its first bytes
/// (<see cref="ContentSniffer"/>); without the middleware none is added, Traefik's default. The type is chosen from the
/// first write, which is never held back, so streams are not delayed. <c>autoDetect</c> is deprecated: false turns the
/// middleware off, as in Traefik.
/// </summary>
internal sealed partial class ContentTypeMiddleware : IEdgeMiddlewareType
{
    public string Name => "contentType";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var autoDetect = options.Bool("autoDetect");
        options.ReportUnknown();
        if (autoDetect is not null) LogAutoDetectDeprecated(context.Loggers.CreateLogger<ContentTypeMiddleware>(), context.Name);
        if (autoDetect == false) return next => next;
        return next => http =>
        {
            http.Response.Body = new SniffingStream(http.Response, http.Response.Body);
            return next(http);
        };
    }

    /// <summary>Sets the detected type on the first bytes written, when the response has none yet.</summary>
    private sealed class SniffingStream(HttpResponse response, Stream inner) : Stream
    {
        private bool _decided;

        private void Decide(ReadOnlySpan<byte> data)
        {
            if (_decided || data.IsEmpty) return;
            _decided = true;
            if (!response.HasStarted && string.IsNullOrEmpty(response.ContentType)) response.ContentType = ContentSniffer.Detect(data);
        }

        public override void Write(byte[] buffer, int offset, int count) { Decide(buffer.AsSpan(offset, count)); inner.Write(buffer, offset, count); }
        public override void Write(ReadOnlySpan<byte> buffer) { Decide(buffer); inner.Write(buffer); }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) { Decide(buffer.AsSpan(offset, count)); return inner.WriteAsync(buffer, offset, count, cancellationToken); }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) { Decide(buffer.Span); return inner.WriteAsync(buffer, cancellationToken); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Middleware {Middleware}: the contentType option autoDetect is deprecated in Traefik; remove it")]
    private static partial void LogAutoDetectDeprecated(ILogger logger, string middleware);
}
