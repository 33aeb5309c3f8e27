using System.Net;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>
/// Sends a call, as it came, to the host that serves it (YARP's forwarder over one pooled handler): the body and the
/// answer stream through unbuffered (SSE, NDJSON, Connect streams, file transfers, the terminal's WebSocket), the
/// client's credentials go along for that host to check again, and the call carries this host's signature.
/// </summary>
internal sealed class HostForwarder : IDisposable
{
    private readonly IHttpForwarder _forwarder;
    private readonly HostSignature _signature;
    private readonly long _maxBodyBytes;
    private readonly HttpMessageInvoker _invoker;
    private static readonly ForwarderRequestConfig RequestConfig = new()
    {
        // No idle cut on the host's long streams (a watch, a long command); the client's own disconnect ends them.
        ActivityTimeout = TimeSpan.FromHours(1),
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        AllowResponseBuffering = false,
    };

    public HostForwarder(IHttpForwarder forwarder, HostSignature signature, TimeSpan connectTimeout, long maxBodyBytes)
    {
        _forwarder = forwarder;
        _signature = signature;
        _maxBodyBytes = maxBodyBytes;
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            // A host that is gone answers at once (refused) or not at all: the connect timeout bounds the second.
            ConnectTimeout = connectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            MaxConnectionsPerServer = int.MaxValue,
            ActivityHeadersPropagator = null,
        }, disposeHandler: true);
    }

    /// <summary>Forwards the call to host <paramref name="host"/> at <paramref name="url"/>; the error is None when the host answered.</summary>
    public ValueTask<ForwarderError> SendAsync(HttpContext context, string host, string url)
    {
        // The receiving host applies its own body limits (an upload's max_file_bytes); this one only passes bytes on.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit && limit.MaxRequestBodySize < _maxBodyBytes)
            limit.MaxRequestBodySize = _maxBodyBytes;
        // The answer is the other host's, body and all: this host's error pages must not replace an empty one.
        if (context.Features.Get<IStatusCodePagesFeature>() is { } pages) pages.Enabled = false;
        return _forwarder.SendAsync(context, url, _invoker, RequestConfig, new Transformer(_signature, host));
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>The request as the client sent it (its Host kept, for hosts that serve E2B on their own name), signed for <c>to</c>.</summary>
    private sealed class Transformer(HostSignature signature, string to) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext context, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(context, proxyRequest, destinationPrefix, cancellationToken);
            var request = context.Request;
            proxyRequest.Headers.Host = request.Host.Value;
            proxyRequest.Headers.Remove(HostSignature.Header);
            proxyRequest.Headers.TryAddWithoutValidation(HostSignature.Header, signature.Sign(to, request.Method, request.Path.Value + request.QueryString.Value));
            var remote = context.Connection.RemoteIpAddress;
            if (remote is not null)
            {
                var text = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4().ToString() : remote.ToString();
                var existing = request.Headers["X-Forwarded-For"];
                proxyRequest.Headers.Remove("X-Forwarded-For");
                proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", existing.Count == 0 ? text : $"{existing}, {text}");
            }
        }
    }
}
