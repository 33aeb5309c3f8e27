using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// The pooled connections to HTTP services, one handler per servers transport (Traefik's serversTransport). Kept
/// across reloads, keyed by the transport's settings, so a reload that leaves a transport as it was keeps its warm
/// connections and requests in flight on the old snapshot never lose theirs. Disposed with the gateway.
/// </summary>
internal sealed class EdgeTransports : IDisposable
{
    private readonly ConcurrentDictionary<string, HttpMessageInvoker> _invokers = new(StringComparer.Ordinal);

    /// <summary>Traefik's default transport: 200 idle connections per host, 30 s to connect, 90 s idle.</summary>
    public static readonly ServersTransportConfig Default = new("default", null, false, [], [], 200,
        TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromSeconds(90), false);

    public HttpMessageInvoker For(ServersTransportConfig? transport)
    {
        transport ??= Default;
        return _invokers.GetOrAdd(Key(transport), static (_, t) => new HttpMessageInvoker(Create(t), disposeHandler: true), transport);
    }

    private static string Key(ServersTransportConfig t) => string.Join('\u001f',
        t.Name, t.ServerName, t.InsecureSkipVerify, string.Join(',', t.RootCas), string.Join(',', t.Certificates.Select(c => c.CertFile + "|" + c.KeyFile)),
        t.MaxIdleConnsPerHost, t.DialTimeout, t.ResponseHeaderTimeout, t.IdleConnTimeout, t.DisableHttp2);

    private static SocketsHttpHandler Create(ServersTransportConfig t)
    {
        var handler = new SocketsHttpHandler
        {
            // A proxy passes what it gets: no redirects followed, no decompression, no cookies, no system proxy.
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = t.DialTimeout > TimeSpan.Zero ? t.DialTimeout : TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = t.IdleConnTimeout > TimeSpan.Zero ? t.IdleConnTimeout : TimeSpan.FromSeconds(90),
            // gRPC and long streams share HTTP/2 connections; more than the server's stream limit opens another.
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
        };
        if (t.MaxIdleConnsPerHost > 0) handler.MaxConnectionsPerServer = int.MaxValue;
        if (t.InsecureSkipVerify || t.RootCas.Length > 0 || t.ServerName is not null || t.Certificates.Length > 0)
        {
            var ssl = new SslClientAuthenticationOptions();
            if (t.ServerName is not null) ssl.TargetHost = t.ServerName;
            if (t.InsecureSkipVerify) ssl.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
            else if (t.RootCas.Length > 0)
            {
                var roots = Loaded(errors => Tls.EdgeCertificates.LoadCas(t.RootCas, $"serversTransports.{t.Name}.rootCAs", errors));
                ssl.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
                ssl.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
            }
            if (t.Certificates.Length > 0)
            {
                var certs = new X509Certificate2Collection();
                foreach (var c in t.Certificates) certs.Add(Loaded(errors => Tls.EdgeCertificates.Load(c, errors))!.TargetCertificate);
                ssl.ClientCertificates = certs;
            }
            handler.SslOptions = ssl;
        }
        return handler;
    }

    /// <summary>
    /// Certificates read with the TLS section's loader (file path or PEM text). The transport is made at its first
    /// request, so an unreadable file fails that request, with the loader's errors.
    /// </summary>
    private static T Loaded<T>(Func<List<string>, T> load)
    {
        var errors = new List<string>();
        var loaded = load(errors);
        if (errors.Count > 0 || loaded is null) throw new InvalidOperationException(string.Join("; ", errors));
        return loaded;
    }

    public void Dispose()
    {
        foreach (var invoker in _invokers.Values) invoker.Dispose();
        _invokers.Clear();
    }
}
