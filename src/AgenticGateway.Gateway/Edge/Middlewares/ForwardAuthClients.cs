using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The HTTP clients forwardAuth calls its authentication servers with: one pooled handler per TLS setting, shared by every
/// router and kept across reloads (a reload builds new middlewares, not new connection pools). Redirects are not
/// followed and cookies not kept, as Traefik's client does: the auth server's answer goes back as it is.
/// </summary>
internal static class ForwardAuthClients
{
    internal readonly record struct TlsSettings(string Ca, string Cert, string Key, bool InsecureSkipVerify);

    private static readonly ConcurrentDictionary<TlsSettings, HttpMessageInvoker> Clients = new();

    /// <summary>The client for these settings; its certificates are read now, so a bad file is reported at build time.</summary>
    public static HttpMessageInvoker? Get(TlsSettings tls, EdgeOptions options, string path)
    {
        if (Clients.TryGetValue(tls, out var existing)) return existing;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        try
        {
            if (tls.Cert.Length > 0 || tls.Key.Length > 0)
            {
                if (tls.Cert.Length == 0 || tls.Key.Length == 0) { options.Error(path, "tls.cert and tls.key go together"); return null; }
                handler.SslOptions.ClientCertificates = [X509Certificate2.CreateFromPemFile(tls.Cert, tls.Key)];
            }
            if (tls.InsecureSkipVerify)
                handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
            else if (tls.Ca.Length > 0)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(tls.Ca);
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null) return false;
                    if (errors == SslPolicyErrors.None) return true;
                    if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(certificate));
                };
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            handler.Dispose();
            options.Error(path, $"unable to create client TLS configuration: {e.Message}");
            return null;
        }
        var client = new HttpMessageInvoker(handler, disposeHandler: true);
        if (Clients.TryAdd(tls, client)) return client;
        client.Dispose();
        return Clients[tls];
    }
}
