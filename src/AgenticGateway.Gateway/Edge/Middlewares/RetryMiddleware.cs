using Microsoft.Extensions.Primitives;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>retry</c>: up to <c>attempts</c> tries in all. A try is retried when the load balancer reached no
/// server (<see cref="EdgeRequest.ProxyFailed"/>, unless <c>disableRetryOnNetworkError</c>), or when its status is
/// in <c>status</c> (for POST, PATCH and LOCK only with <c>retryNonIdempotentMethod</c>; the body is kept for
/// replay up to <c>maxRequestBodyBytes</c>, beyond which only network errors are retried). Nothing of a retried try
/// reaches the client; the first byte of an answer that is not retried ends the retrying. Waits grow exponentially
/// from <c>initialInterval</c> to twice it, with Traefik's ±50% jitter; <c>timeout</c> bounds the whole.
/// </summary>
internal sealed class RetryType : IEdgeMiddlewareType
{
    private const long DefaultMaxRequestBodyBytes = 2 * 1024 * 1024;

    public string Name => "retry";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var attemptsNode = options.Child("attempts");
        var attempts = options.Int("attempts", 1) ?? 0;
        var initialInterval = options.Duration("initialInterval") ?? TimeSpan.Zero;
        var timeout = options.Duration("timeout") ?? TimeSpan.Zero;
        var maxBody = options.Long("maxRequestBodyBytes", -1) ?? DefaultMaxRequestBodyBytes;
        var status = StatusRanges.Parse(options.Strings("status"), options, EdgeNode.ChildPath(options.Path, "status"));
        var noNetwork = options.Bool("disableRetryOnNetworkError") ?? false;
        var nonIdempotent = options.Bool("retryNonIdempotentMethod") ?? false;
        options.ReportUnknown();
        if (attemptsNode is null) options.Error(EdgeNode.ChildPath(options.Path, "attempts"), "is required: how many tries in all (at least 1)");
        if (noNetwork && status.IsEmpty) options.Error(options.Path, "disableRetryOnNetworkError needs status: otherwise nothing is ever retried");
        if (attempts < 1 || (noNetwork && status.IsEmpty)) return null;

        var settings = new RetrySettings(attempts, initialInterval, timeout, maxBody, status, noNetwork, nonIdempotent, context.Name);
        var logger = context.Loggers.CreateLogger<RetryType>();
        var time = context.Time;
        return next => attempts == 1 ? next : http => RetryAsync(http, next, settings, time, logger);
    }

    private sealed record RetrySettings(int Attempts, TimeSpan InitialInterval, TimeSpan Timeout, long MaxBody, StatusRanges Status,
        bool NoNetwork, bool NonIdempotent, string Name);

    private static async Task RetryAsync(HttpContext http, RequestDelegate next, RetrySettings settings, TimeProvider time, ILogger logger)
    {
        var request = http.Request;
        var idempotent = !HttpMethods.IsPost(request.Method) && !HttpMethods.IsPatch(request.Method) && request.Method != "LOCK";
        var retryStatus = (settings.NonIdempotent || idempotent) && !settings.Status.IsEmpty;
        byte[]? body = null;
        if (retryStatus)
        {
            (body, var complete) = await ReadReplayableAsync(request, settings.MaxBody, http.RequestAborted);
            // Too large to keep: the part read is sent first, then the rest, and only network errors are retried.
            if (!complete) retryStatus = false;
        }

        var edge = http.Edge();
        var start = time.GetTimestamp();
        var headers = Snapshot(http.Response.Headers);
        var backoff = new Backoff(settings.InitialInterval, settings.Attempts);
        for (var attempt = 1; ; attempt++)
        {
            if (body is not null) request.Body = new MemoryStream(body, writable: false);
            if (edge is not null)
            {
                edge.Attempt = attempt - 1;
                edge.ProxyFailed = false;
            }
            if (attempt == settings.Attempts)
            {
                await next(http);
                return;
            }
            var timedOut = () => settings.Timeout > TimeSpan.Zero && time.GetElapsedTime(start) >= settings.Timeout;
            var gate = new RetryGate(http, edge, settings.NoNetwork, retryStatus ? settings.Status : null, timedOut);
            gate.Install();
            try
            {
                await next(http);
            }
            finally
            {
                await gate.UninstallAsync();
            }
            if (!gate.ShouldRetry || http.Response.HasStarted) return;

            // The try's answer is discarded: the next one starts from the headers outer middlewares had set.
            Restore(http.Response, headers);
            var wait = backoff.Next();
            TrafficLog.Retrying(logger, settings.Name, attempt + 1, request.Path.Value ?? "");
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, http.RequestAborted);
            }
            catch (OperationCanceledException) { }
            // The client left while we waited: there is no one to answer.
            if (http.RequestAborted.IsCancellationRequested) return;
        }
    }

    /// <summary>Reads up to max+1 bytes; when the body is larger, the request keeps what was read followed by the rest.</summary>
    private static async Task<(byte[]? Body, bool Complete)> ReadReplayableAsync(HttpRequest request, long max, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0) return (null, true);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var want = max < 0 ? chunk.Length : (int)Math.Min(chunk.Length, max + 1 - buffer.Length);
            if (want <= 0) break;
            var n = await request.Body.ReadAsync(chunk.AsMemory(0, want), cancellationToken);
            if (n == 0) return (buffer.ToArray(), true);
            buffer.Write(chunk, 0, n);
        }
        request.Body = new PrefixedStream(buffer.ToArray(), request.Body);
        return (null, false);
    }

    private static List<KeyValuePair<string, StringValues>> Snapshot(IHeaderDictionary headers) => [.. headers];

    private static void Restore(HttpResponse response, List<KeyValuePair<string, StringValues>> headers)
    {
        response.Headers.Clear();
        foreach (var (k, v) in headers) response.Headers[k] = v;
        response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>
    /// Cenkalti's exponential backoff as Traefik sets it: the interval grows by 2^(1/(attempts-1)) per try, so it
    /// reaches twice the initial one by the last, each wait randomised by ±50%.
    /// </summary>
    private sealed class Backoff(TimeSpan initial, int attempts)
    {
        private readonly double _multiplier = attempts < 2 ? 1 : Math.Pow(2, 1.0 / (attempts - 1));
        private double _current = initial.TotalMilliseconds;

        public TimeSpan Next()
        {
            if (initial <= TimeSpan.Zero) return TimeSpan.Zero;
            var delta = 0.5 * _current;
            var wait = _current - delta + Random.Shared.NextDouble() * (2 * delta + 1);
            _current = Math.Min(_current * _multiplier, 60_000);
            return TimeSpan.FromMilliseconds(wait);
        }
    }

    /// <summary>
    /// Holds a try's answer until its first byte: a network failure or a retried status is then discarded whole;
    /// anything else passes from there on.
    /// </summary>
    private sealed class RetryGate(HttpContext context, EdgeRequest? edge, bool noNetwork, StatusRanges? status, Func<bool> timedOut)
        : ResponseBodyInterceptor(context)
    {
        private bool? _discard;

        /// <summary>The try should be made again: its answer was (or would have been) discarded.</summary>
        public bool ShouldRetry => _discard ?? Retryable();

        private bool Retryable()
        {
            if (timedOut()) return false;
            if (!noNetwork && edge is { ProxyFailed: true }) return true;
            return status is not null && status.Contains(Context.Response.StatusCode);
        }

        private bool Decide() => _discard ??= Retryable();

        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            Decide() ? ValueTask.CompletedTask : Inner.Stream.WriteAsync(data, cancellationToken);

        protected override Task StartCoreAsync(CancellationToken cancellationToken) =>
            Decide() ? Task.CompletedTask : Inner.StartAsync(cancellationToken);

        protected override Task FlushCoreAsync(CancellationToken cancellationToken) =>
            Decide() ? Task.CompletedTask : Inner.Stream.FlushAsync(cancellationToken);

        protected override Task CompleteCoreAsync() => Decide() ? Task.CompletedTask : Inner.CompleteAsync();
    }
}

/// <summary>A request body whose first bytes were already read: those, then the rest of the original.</summary>
internal sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
{
    private int _offset;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_offset < prefix.Length) return Take(buffer);
        return rest.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _offset < prefix.Length ? ValueTask.FromResult(Take(buffer.Span)) : rest.ReadAsync(buffer, cancellationToken);

    private int Take(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, prefix.Length - _offset);
        prefix.AsSpan(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }
}
