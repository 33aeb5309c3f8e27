using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>grpcWeb</c> (its fork of improbable-eng's wrapper): a gRPC-Web request (POST,
/// <c>application/grpc-web[+proto]</c>, or <c>application/grpc-web-text</c> in base64) goes on as gRPC
/// (<c>application/grpc[+proto]</c>, HTTP/2 to the backend), and its answer comes back as gRPC-Web: the content type
/// turned back, the trailers (grpc-status, grpc-message) appended to the body as a frame flagged 0x80, base64 again
/// for the text form. CORS for browsers: a preflight asking for x-grpc-web is answered here (204), and
/// <c>allowOrigins</c> (or <c>*</c>) decides which origins get Access-Control-Allow-Origin, with credentials.
/// Other requests pass untouched.
/// </summary>
internal sealed class GrpcWebType : IEdgeMiddlewareType
{
    private const string GrpcContentType = "application/grpc";
    private const string GrpcWebContentType = "application/grpc-web";
    private const string GrpcWebTextContentType = "application/grpc-web-text";

    public string Name => "grpcWeb";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var origins = options.Strings("allowOrigins");
        options.ReportUnknown();
        return next => http =>
        {
            var request = http.Request;
            var isGrpcWeb = HttpMethods.IsPost(request.Method) && (request.ContentType ?? "").StartsWith(GrpcWebContentType, StringComparison.Ordinal);
            var isPreflight = HttpMethods.IsOptions(request.Method)
                && request.Headers.AccessControlRequestHeaders.ToString().Contains("x-grpc-web", StringComparison.OrdinalIgnoreCase);
            if (!isGrpcWeb && !isPreflight) return next(http);
            return isPreflight ? PreflightAsync(http, origins) : TranslateAsync(http, next, origins);
        };
    }

    private static bool Allowed(ImmutableArray<string> origins, string origin) => origins.Any(o => o == "*" || o == origin);

    /// <summary>rs/cors's preflight as the wrapper configures it: any header, methods GET/POST/HEAD, credentials, ten minutes.</summary>
    private static Task PreflightAsync(HttpContext http, ImmutableArray<string> origins)
    {
        var request = http.Request;
        var headers = http.Response.Headers;
        headers.Append(HeaderNames.Vary, "Origin");
        headers.Append(HeaderNames.Vary, "Access-Control-Request-Method");
        headers.Append(HeaderNames.Vary, "Access-Control-Request-Headers");
        var origin = request.Headers.Origin.ToString();
        var method = request.Headers.AccessControlRequestMethod.ToString().ToUpperInvariant();
        if (origin.Length > 0 && Allowed(origins, origin) && method is "GET" or "POST" or "HEAD")
        {
            headers.AccessControlAllowOrigin = origin;
            headers.AccessControlAllowMethods = method;
            var requested = request.Headers.AccessControlRequestHeaders.ToString();
            if (requested.Length > 0) headers.AccessControlAllowHeaders = requested;
            headers.AccessControlAllowCredentials = "true";
            headers.AccessControlMaxAge = "600";
        }
        http.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private static async Task TranslateAsync(HttpContext http, RequestDelegate next, ImmutableArray<string> origins)
    {
        var request = http.Request;
        var response = http.Response;
        response.Headers.Append(HeaderNames.Vary, "Origin");
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && Allowed(origins, origin))
        {
            response.Headers.AccessControlAllowOrigin = origin;
            response.Headers.AccessControlAllowCredentials = "true";
        }

        var contentType = request.ContentType!;
        var text = contentType.StartsWith(GrpcWebTextContentType, StringComparison.Ordinal);
        var savedBody = request.Body;
        var savedProtocol = request.Protocol;
        if (text) request.Body = new CryptoStream(request.Body, new FromBase64Transform(FromBase64TransformMode.IgnoreWhiteSpaces), CryptoStreamMode.Read, leaveOpen: true);
        request.ContentType = GrpcContentType + contentType[(text ? GrpcWebTextContentType : GrpcWebContentType).Length..];
        request.ContentLength = null;
        // gRPC needs HTTP/2 to the server, whatever the browser spoke.
        request.Protocol = "HTTP/2";

        var trailers = new TrailersFeature();
        var savedTrailers = http.Features.Get<IHttpResponseTrailersFeature>();
        http.Features.Set<IHttpResponseTrailersFeature>(trailers);
        var body = new GrpcWebBody(http, text);
        body.Install();
        try
        {
            await next(http);
            await body.FinishAsync(trailers.Trailers, http.RequestAborted);
        }
        finally
        {
            await body.UninstallAsync();
            http.Features.Set(savedTrailers);
            request.Body = savedBody;
            request.Protocol = savedProtocol;
        }
    }

    private sealed class TrailersFeature : IHttpResponseTrailersFeature
    {
        public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();
    }

    /// <summary>The gRPC answer as gRPC-Web: headers fixed at the first byte, trailers as the last frame, base64 for text.</summary>
    private sealed class GrpcWebBody(HttpContext context, bool text) : ResponseBodyInterceptor(context)
    {
        private readonly byte[] _pending = new byte[3];
        private int _pendingLength;
        private bool _started;
        private HashSet<string>? _sentHeaders;

        private void PrepareHeaders()
        {
            if (_started) return;
            _started = true;
            var headers = Context.Response.Headers;
            headers.Remove(HeaderNames.Trailer);
            headers.ContentLength = null;
            var type = headers.ContentType.ToString();
            var index = type.IndexOf(GrpcContentType, StringComparison.Ordinal);
            if (index >= 0) headers.ContentType = type[..index] + (text ? GrpcWebTextContentType : GrpcWebContentType) + type[(index + GrpcContentType.Length)..];
            // The browser may read every header of the answer, and the status ones that may come as trailers.
            var names = headers.Keys.Where(k => !k.Equals(HeaderNames.AccessControlExposeHeaders, StringComparison.OrdinalIgnoreCase))
                .Select(k => k.ToLowerInvariant()).Append("grpc-status").Append("grpc-message");
            headers.AccessControlExposeHeaders = string.Join(", ", names);
            _sentHeaders = new HashSet<string>(headers.Keys, StringComparer.OrdinalIgnoreCase);
        }

        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            PrepareHeaders();
            return text ? WriteBase64Async(data, cancellationToken) : Inner.Stream.WriteAsync(data, cancellationToken);
        }

        protected override Task StartCoreAsync(CancellationToken cancellationToken)
        {
            PrepareHeaders();
            return Inner.StartAsync(cancellationToken);
        }

        protected override async Task FlushCoreAsync(CancellationToken cancellationToken)
        {
            if (!_started) return;
            // A flush ends a base64 run (padded), as the wrapper's encoder does: the client decodes chunk by chunk.
            await FlushBase64Async(cancellationToken);
            await Inner.Stream.FlushAsync(cancellationToken);
        }

        public async Task FinishAsync(IHeaderDictionary trailers, CancellationToken cancellationToken)
        {
            if (!_started && !Context.Response.HasStarted)
            {
                // A trailers-only answer: its status travels in the headers.
                foreach (var (k, v) in trailers) Context.Response.Headers[k] = v;
                PrepareHeaders();
                await Inner.StartAsync(cancellationToken);
                return;
            }
            PrepareHeaders();
            var block = new StringBuilder();
            foreach (var (k, v) in trailers.OrderBy(t => t.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (_sentHeaders!.Contains(k)) continue;
                foreach (var value in v) block.Append(k.ToLowerInvariant()).Append(": ").Append(value).Append("\r\n");
            }
            var payload = Encoding.UTF8.GetBytes(block.ToString());
            var frame = new byte[5 + payload.Length];
            frame[0] = 0x80;
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(frame, 5);
            if (text) await WriteBase64Async(frame, cancellationToken);
            else await Inner.Stream.WriteAsync(frame, cancellationToken);
            await FlushBase64Async(cancellationToken);
            await Inner.Stream.FlushAsync(cancellationToken);
        }

        private async ValueTask WriteBase64Async(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            var all = new byte[_pendingLength + data.Length];
            _pending.AsSpan(0, _pendingLength).CopyTo(all);
            data.Span.CopyTo(all.AsSpan(_pendingLength));
            var whole = all.Length / 3 * 3;
            _pendingLength = all.Length - whole;
            all.AsSpan(whole).CopyTo(_pending);
            if (whole > 0) await Inner.Stream.WriteAsync(Encoding.ASCII.GetBytes(Convert.ToBase64String(all, 0, whole)), cancellationToken);
        }

        private async Task FlushBase64Async(CancellationToken cancellationToken)
        {
            if (!text || _pendingLength == 0) return;
            var rest = Convert.ToBase64String(_pending, 0, _pendingLength);
            _pendingLength = 0;
            await Inner.Stream.WriteAsync(Encoding.ASCII.GetBytes(rest), cancellationToken);
        }
    }
}
