using System.Collections.Immutable;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's tls section: certificates (file paths or PEM text) with their stores, named options (versions, cipher
/// suites, client authentication, SNI strictness, ALPN) and stores (default certificate, generated default).
/// Defaults as Traefik's: ALPN h2, http/1.1 and acme-tls/1; CA files alone mean RequireAndVerifyClientCert.
/// </summary>
internal static class TlsReader
{
    private static readonly string[] Versions = ["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"];

    private static readonly string[] ClientAuthTypes =
        ["NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"];

    /// <summary>Traefik's ALPN protocols when a TLS option does not name them (HTTP/2 first, and the ACME challenge's).</summary>
    public static readonly ImmutableArray<string> DefaultAlpn = ["h2", "http/1.1", "acme-tls/1"];

    public static TlsSection Read(EdgeOptions tls) => new(
        ReadCertificates(tls, "certificates", withStores: true),
        DynamicConfigReader.Named(tls, "options", ReadOptions),
        DynamicConfigReader.Named(tls, "stores", ReadStore));

    /// <summary>A list of certFile/keyFile pairs (and, in tls.certificates, the stores they go to).</summary>
    public static ImmutableArray<CertificateConfig> ReadCertificates(EdgeOptions o, string key, bool withStores)
    {
        var list = ImmutableArray.CreateBuilder<CertificateConfig>();
        foreach (var c in o.MapList(key))
        {
            if (ReadCertificate(c, withStores) is { } cert) list.Add(cert);
            c.ReportUnknown();
        }
        return list.ToImmutable();
    }

    private static CertificateConfig? ReadCertificate(EdgeOptions c, bool withStores)
    {
        var certFile = c.RequiredString("certFile");
        var keyFile = c.RequiredString("keyFile");
        var stores = withStores ? c.Strings("stores") : [];
        return certFile.Length == 0 || keyFile.Length == 0 ? null : new CertificateConfig(certFile, keyFile, stores, c.Path);
    }

    /// <summary>A TLS version by Traefik's name (VersionTLS12), null when absent.</summary>
    public static string? Version(EdgeOptions o, string key)
    {
        var value = o.String(key);
        if (string.IsNullOrEmpty(value)) return null;
        if (Versions.Contains(value, StringComparer.Ordinal)) return value;
        o.Error(EdgeNode.ChildPath(o.Path, key), $"'{value}' is not one of {string.Join(", ", Versions)}");
        return null;
    }

    private static TlsOptionsConfig ReadOptions(string name, EdgeOptions o)
    {
        var min = Version(o, "minVersion");
        var max = Version(o, "maxVersion");
        if (min is not null && max is not null && string.CompareOrdinal(min, max) > 0)
            o.Error(EdgeNode.ChildPath(o.Path, "minVersion"), $"{min} is above maxVersion {max}");
        var cipherSuites = o.Strings("cipherSuites");
        var curves = o.Strings("curvePreferences");
        // .NET's TLS cannot restrict the key exchange curves; a security setting that would not apply is refused.
        if (!curves.IsEmpty)
            o.Error(EdgeNode.ChildPath(o.Path, "curvePreferences"), "is not supported: the gateway's TLS (.NET) cannot restrict the curves; remove it to use the system's defaults");
        ImmutableArray<string> caFiles = [];
        var clientAuthType = "NoClientCert";
        if (o.Map("clientAuth") is { } auth)
        {
            caFiles = auth.Strings("caFiles");
            var written = auth.String("clientAuthType");
            if (string.IsNullOrEmpty(written))
            {
                clientAuthType = caFiles.IsEmpty ? "NoClientCert" : "RequireAndVerifyClientCert";
            }
            else if (ClientAuthTypes.Contains(written, StringComparer.Ordinal))
            {
                clientAuthType = written;
                if (caFiles.IsEmpty && written is "VerifyClientCertIfGiven" or "RequireAndVerifyClientCert")
                    auth.Error(EdgeNode.ChildPath(auth.Path, "caFiles"), $"is required by clientAuthType {written}");
            }
            else
            {
                auth.Error(EdgeNode.ChildPath(auth.Path, "clientAuthType"), $"'{written}' is not one of {string.Join(", ", ClientAuthTypes)}");
            }
            auth.ReportUnknown();
        }
        var sniStrict = o.Bool("sniStrict") ?? false;
        var alpn = o.Node["alpnProtocols"] is null ? DefaultAlpn : o.Strings("alpnProtocols");
        var disableSessionTickets = o.Bool("disableSessionTickets") ?? false;
        // Deprecated and without effect in Traefik too (Go ignores it since 1.18): accepted so that old files load.
        o.Bool("preferServerCipherSuites");
        return new TlsOptionsConfig(name, min, max, cipherSuites, curves, caFiles, clientAuthType, sniStrict, alpn, o.Path)
        {
            DisableSessionTickets = disableSessionTickets,
        };
    }

    private static TlsStoreConfig ReadStore(string name, EdgeOptions o)
    {
        CertificateConfig? defaultCertificate = null;
        if (o.Map("defaultCertificate") is { } dc)
        {
            defaultCertificate = ReadCertificate(dc, withStores: false);
            dc.ReportUnknown();
        }
        string? resolver = null;
        TlsDomain? domain = null;
        if (o.Map("defaultGeneratedCert") is { } gen)
        {
            resolver = gen.RequiredString("resolver");
            if (gen.Map("domain") is { } d)
            {
                domain = DynamicConfigReader.ReadDomain(d);
                d.ReportUnknown();
            }
            else
            {
                gen.Error(EdgeNode.ChildPath(gen.Path, "domain"), "is required (main and sans of the generated default certificate)");
            }
            gen.ReportUnknown();
        }
        return new TlsStoreConfig(name, defaultCertificate, string.IsNullOrEmpty(resolver) ? null : resolver, domain);
    }
}
