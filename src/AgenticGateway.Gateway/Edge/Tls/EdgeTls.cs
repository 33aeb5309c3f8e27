using System.Collections.Frozen;
using System.Net.Security;

namespace AgenticGateway.Edge.Tls;

/// <summary>
/// The TLS side of one configuration snapshot: the certificates by SNI, the named tls.options (Traefik's <c>default</c>
/// unless the configuration redefines it), and ACME's tls-alpn-01 challenge when a resolver uses it.
/// </summary>
internal sealed class EdgeTls
{
    private readonly FrozenDictionary<string, EdgeTlsOptions> _options;

    private EdgeTls(EdgeCertificates certificates, FrozenDictionary<string, EdgeTlsOptions> options, IAcmeTlsChallenge? acme)
    {
        Certificates = certificates;
        _options = options;
        Acme = acme;
    }

    public EdgeCertificates Certificates { get; }
    public IAcmeTlsChallenge? Acme { get; }
    public EdgeTlsOptions DefaultOptions => _options["default"];

    public static EdgeTls Build(TlsSection tls, IReadOnlyList<ICertificateSource> sources, IAcmeTlsChallenge? acme, List<string> errors)
    {
        var options = new Dictionary<string, EdgeTlsOptions>(StringComparer.Ordinal) { ["default"] = EdgeTlsOptions.Default };
        foreach (var (name, config) in tls.Options)
        {
            if (EdgeTlsOptions.Build(config, errors) is { } built)
                options[name] = built;
        }
        return new EdgeTls(EdgeCertificates.Build(tls, sources, errors), options.ToFrozenDictionary(StringComparer.Ordinal), acme);
    }

    /// <summary>The options named <paramref name="name"/> (<c>name@file</c> or plain; null or empty = default), or null when unknown.</summary>
    public EdgeTlsOptions? Options(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return DefaultOptions;
        if (_options.TryGetValue(name, out var options))
            return options;
        var at = name.IndexOf('@');
        return at > 0 && _options.TryGetValue(name[..at], out options) ? options : null;
    }

    /// <summary>
    /// The server options for a handshake with SNI <paramref name="serverName"/> under <paramref name="options"/>: the
    /// certificate naming it, else the default one — or null when the options are sniStrict and none names it.
    /// </summary>
    public SslServerAuthenticationOptions? ServerOptions(string? serverName, EdgeTlsOptions options, bool http2)
    {
        var certificate = Certificates.Find(serverName);
        if (certificate is null)
        {
            if (options.SniStrict)
                return null;
            certificate = Certificates.Default;
        }
        return options.ServerOptions(certificate, http2);
    }
}
