using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>buffering</c> (oxy's buffer): the whole request body is read before the service sees it (in memory
/// up to <c>memRequestBodyBytes</c>, then in a temporary file) and sent with a Content-Length; one over
/// <c>maxRequestBodyBytes</c> gets 413. The response is held likewise; one over <c>maxResponseBodyBytes</c> gets 500.
/// With <c>retryExpression</c> (Attempts(), ResponseCode(), IsNetworkError(), RequestMethod()) a held answer that
/// matches is discarded and the request sent again, at most ten times.
/// </summary>
internal sealed class BufferingType : IEdgeMiddlewareType
{
    private const int MaxRetryAttempts = 10;
    private const long DefaultMemBytes = 1_048_576;

    public string Name => "buffering";

    private sealed record RetryState(int Attempt, int Status, string Method);

    private static readonly PredicateFunction<RetryState>[] Functions =
    [
        new("IsNetworkError", [], PredicateType.Bool, _ => s => s.Status is StatusCodes.Status502BadGateway or StatusCodes.Status504GatewayTimeout),
        new("Attempts", [], PredicateType.Int, _ => s => (long)s.Attempt),
        new("ResponseCode", [], PredicateType.Int, _ => s => (long)s.Status),
        new("RequestMethod", [], PredicateType.String, _ => s => s.Method),
    ];

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var maxRequest = options.Long("maxRequestBodyBytes", 0) ?? 0;
        var memRequest = options.Long("memRequestBodyBytes", 0) ?? 0;
        var maxResponse = options.Long("maxResponseBodyBytes", 0) ?? 0;
        var memResponse = options.Long("memResponseBodyBytes", 0) ?? 0;
        var expression = options.String("retryExpression") ?? "";
        options.ReportUnknown();
        Func<RetryState, bool>? retry = null;
        if (expression.Length > 0)
        {
            retry = PredicateExpression.Parse(expression, Functions, out var error);
            if (retry is null)
            {
                options.Error(EdgeNode.ChildPath(options.Path, "retryExpression"), error!);
                return null;
            }
        }
        var settings = new Settings(maxRequest, memRequest > 0 ? memRequest : DefaultMemBytes, maxResponse, memResponse > 0 ? memResponse : DefaultMemBytes, retry);
        return next => http => BufferAsync(http, next, settings);
    }

    private sealed record Settings(long MaxRequest, long MemRequest, long MaxResponse, long MemResponse, Func<RetryState, bool>? Retry);

    private static async Task BufferAsync(HttpContext http, RequestDelegate next, Settings settings)
    {
        var request = http.Request;
        if (settings.MaxRequest > 0 && request.ContentLength > settings.MaxRequest)
        {
            await TraefikText.StatusAsync(http, StatusCodes.Status413PayloadTooLarge);
            return;
        }
        await using var body = new FileBufferingReadStream(request.Body, (int)Math.Min(int.MaxValue, settings.MemRequest),
            settings.MaxRequest > 0 ? settings.MaxRequest : null, Path.GetTempPath());
        try
        {
            await body.DrainAsync(http.RequestAborted);
        }
        catch (IOException) when (!http.RequestAborted.IsCancellationRequested && settings.MaxRequest > 0 && body.Length >= settings.MaxRequest)
        {
            await TraefikText.StatusAsync(http, StatusCodes.Status413PayloadTooLarge);
            return;
        }
        var size = body.Length;
        request.Headers.Remove(HeaderNames.TransferEncoding);
        request.ContentLength = size;
        var headers = (List<KeyValuePair<string, StringValues>>)[.. http.Response.Headers];

        for (var attempt = 1; ; attempt++)
        {
            body.Seek(0, SeekOrigin.Begin);
            request.Body = size == 0 ? Stream.Null : new NonClosingStream(body);
            await using var held = new HeldResponse(http, settings.MemResponse, settings.MaxResponse);
            held.Install();
            try
            {
                await next(http);
            }
            finally
            {
                await held.UninstallAsync();
            }
            // An upgraded connection (WebSocket) is no longer an HTTP answer to hold.
            if (http.Response.HasStarted) return;
            if (held.Overflowed)
            {
                Restore(http.Response, headers);
                await TraefikText.StatusAsync(http, StatusCodes.Status500InternalServerError);
                return;
            }
            var status = http.Response.StatusCode;
            if (settings.Retry is { } retry && attempt <= MaxRetryAttempts && retry(new RetryState(attempt, status, request.Method)))
            {
                Restore(http.Response, headers);
                continue;
            }
            if (ExpectsBody(http, status))
            {
                http.Response.ContentLength ??= held.HeldLength;
                await held.CopyToClientAsync(http.RequestAborted);
            }
            return;
        }
    }

    private static bool ExpectsBody(HttpContext http, int status)
    {
        if (HttpMethods.IsHead(http.Request.Method)) return false;
        if (status is (>= 100 and < 200) or 204 or 304) return false;
        var headers = http.Response.Headers;
        if (headers.ContentLength == 0) return false;
        return headers["Grpc-Status"] is not { Count: > 0 } grpc || grpc[0] == "0";
    }

    private static void Restore(HttpResponse response, List<KeyValuePair<string, StringValues>> headers)
    {
        response.Headers.Clear();
        foreach (var (k, v) in headers) response.Headers[k] = v;
        response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>The whole answer, in memory then in a temporary file; nothing reaches the client until it is complete.</summary>
    private sealed class HeldResponse(HttpContext context, long memory, long max) : ResponseBodyInterceptor(context)
    {
        private readonly FileBufferingWriteStream _buffer = new((int)Math.Min(int.MaxValue, memory), max > 0 ? max : null, Path.GetTempPath);

        public bool Overflowed { get; private set; }
        public long HeldLength => _buffer.Length;

        protected override async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (Overflowed) return;
            try
            {
                await _buffer.WriteAsync(data, cancellationToken);
            }
            catch (IOException) when (max > 0)
            {
                // Over maxResponseBodyBytes: the rest is dropped and the client gets 500 (oxy's).
                Overflowed = true;
            }
        }

        protected override Task StartCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        protected override Task FlushCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CopyToClientAsync(CancellationToken cancellationToken) => _buffer.DrainBufferAsync(Inner.Stream, cancellationToken);

        public override async ValueTask DisposeAsync()
        {
            await _buffer.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}

/// <summary>The buffered request body, handed to each attempt without letting the attempt close it.</summary>
internal sealed class NonClosingStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
