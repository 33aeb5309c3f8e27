using System.Collections.Immutable;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>Traefik's tls.options clientAuth.clientAuthType values (Go's tls.ClientAuthType).</summary>
internal enum ClientAuthType
{
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// <summary>
/// One of Traefik's tls.options, ready for SslStream: the TLS versions (default minimum TLS 1.2, as Traefik), cipher
/// suites by IANA name (TLS 1.3's suites always allowed, as Go does), client certificates checked against the CA files,
/// sniStrict, and the ALPN protocols offered. curvePreferences has no .NET equivalent and is read but not applied.
/// </summary>
internal sealed class EdgeTlsOptions
{
    /// <summary>What Traefik offers when the client names none of its protocols: HTTP/2, HTTP/1.1 and ACME's tls-alpn-01.</summary>
    public static readonly ImmutableArray<string> DefaultAlpn = ["h2", "http/1.1", "acme-tls/1"];

    public static readonly EdgeTlsOptions Default = new("default", SslProtocols.Tls12 | SslProtocols.Tls13, null, ClientAuthType.NoClientCert, null, false, DefaultAlpn);

    private static readonly Oid ClientAuthUsage = new("1.3.6.1.5.5.7.3.2");
    private readonly X509Certificate2Collection? _clientCas;

    private EdgeTlsOptions(string name, SslProtocols protocols, CipherSuitesPolicy? ciphers, ClientAuthType clientAuth, X509Certificate2Collection? clientCas, bool sniStrict, ImmutableArray<string> alpn)
    {
        Name = name;
        Protocols = protocols;
        Ciphers = ciphers;
        ClientAuth = clientAuth;
        _clientCas = clientCas;
        SniStrict = sniStrict;
        Alpn = [.. alpn.Select(p => new SslApplicationProtocol(p))];
    }

    public string Name { get; }
    public SslProtocols Protocols { get; }
    public CipherSuitesPolicy? Ciphers { get; }
    public ClientAuthType ClientAuth { get; }
    /// <summary>Refuse a handshake whose SNI names no certificate (or has no SNI), instead of serving the default certificate.</summary>
    public bool SniStrict { get; }
    public ImmutableArray<SslApplicationProtocol> Alpn { get; }

    /// <summary>Reads one tls.options entry; each bad field is an error at its path, and the entry is then unusable (null).</summary>
    public static EdgeTlsOptions? Build(TlsOptionsConfig config, List<string> errors)
    {
        var before = errors.Count;
        var min = config.MinVersion is null ? SslProtocols.Tls12 : Version(config.MinVersion, $"{config.Path}.minVersion", errors);
        var max = config.MaxVersion is null ? SslProtocols.Tls13 : Version(config.MaxVersion, $"{config.Path}.maxVersion", errors);
        var protocols = SslProtocols.None;
#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1 are offered only when the options ask for them, as in Traefik.
        foreach (var version in (ReadOnlySpan<SslProtocols>)[SslProtocols.Tls, SslProtocols.Tls11, SslProtocols.Tls12, SslProtocols.Tls13])
#pragma warning restore SYSLIB0039
        {
            if (version >= min && version <= max)
                protocols |= version;
        }
        if (errors.Count == before && protocols == SslProtocols.None)
            errors.Add($"{config.Path}: minVersion {config.MinVersion} is above maxVersion {config.MaxVersion}");

        CipherSuitesPolicy? ciphers = null;
        if (!config.CipherSuites.IsDefaultOrEmpty)
        {
            var suites = new List<TlsCipherSuite>();
            for (var i = 0; i < config.CipherSuites.Length; i++)
            {
                if (CipherSuite(config.CipherSuites[i]) is { } suite)
                    suites.Add(suite);
                else
                    errors.Add($"{config.Path}.cipherSuites[{i}]: unknown cipher suite {config.CipherSuites[i]} (IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
            }
            // Go does not let TLS 1.3's suites be configured; Traefik's cipherSuites therefore only narrow TLS 1.2.
            if ((protocols & SslProtocols.Tls13) != 0)
                suites.AddRange([TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256]);
            if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
                ciphers = new CipherSuitesPolicy(suites);
            else
                errors.Add($"{config.Path}.cipherSuites: this platform cannot restrict cipher suites");
        }

        ClientAuthType clientAuth = ClientAuthType.NoClientCert;
        if (!string.IsNullOrEmpty(config.ClientAuthType) && !Enum.TryParse(config.ClientAuthType, ignoreCase: false, out clientAuth))
            errors.Add($"{config.Path}.clientAuth.clientAuthType: unknown type {config.ClientAuthType} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)");
        X509Certificate2Collection? cas = null;
        if (!config.ClientCaFiles.IsDefaultOrEmpty)
            cas = EdgeCertificates.LoadCas(config.ClientCaFiles, $"{config.Path}.clientAuth.caFiles", errors);
        if (clientAuth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert && (cas is null || cas.Count == 0) && errors.Count == before)
            errors.Add($"{config.Path}.clientAuth.caFiles: {clientAuth} needs at least one CA file");

        var alpn = config.AlpnProtocols.IsDefaultOrEmpty ? DefaultAlpn : config.AlpnProtocols;
        return errors.Count == before ? new EdgeTlsOptions(config.Name, protocols, ciphers, clientAuth, cas, config.SniStrict, alpn) : null;
    }

    /// <summary>
    /// The server options for one handshake with <paramref name="certificate"/>; <paramref name="http2"/> false drops
    /// <c>h2</c> from the offered protocols (an entry point whose HTTP does not speak HTTP/2).
    /// </summary>
    public SslServerAuthenticationOptions ServerOptions(SslStreamCertificateContext certificate, bool http2)
    {
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = certificate,
            EnabledSslProtocols = Protocols,
            CipherSuitesPolicy = Ciphers,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificateRequired = ClientAuth != ClientAuthType.NoClientCert,
            ApplicationProtocols = http2 ? [.. Alpn] : [.. Alpn.Where(p => p != SslApplicationProtocol.Http2)],
        };
        if (ClientAuth != ClientAuthType.NoClientCert)
            options.RemoteCertificateValidationCallback = ValidateClient;
        return options;
    }

    /// <summary>Go's rules: Request* accepts anything, Require* needs a certificate, *Verify* checks it against the CA files for client authentication.</summary>
    private bool ValidateClient(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
            return ClientAuth is ClientAuthType.RequestClientCert or ClientAuthType.VerifyClientCertIfGiven;
        if (ClientAuth is ClientAuthType.RequestClientCert or ClientAuthType.RequireAnyClientCert)
            return true;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCas!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthUsage);
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        // SslStream hands the client's certificate over as an X509Certificate2 already; anything else is reloaded.
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    private static SslProtocols Version(string name, string path, List<string> errors)
    {
        switch (name)
        {
#pragma warning disable SYSLIB0039
            case "VersionTLS10": return SslProtocols.Tls;
            case "VersionTLS11": return SslProtocols.Tls11;
#pragma warning restore SYSLIB0039
            case "VersionTLS12": return SslProtocols.Tls12;
            case "VersionTLS13": return SslProtocols.Tls13;
            default:
                errors.Add($"{path}: unknown TLS version {name} (VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13)");
                return SslProtocols.None;
        }
    }

    private static TlsCipherSuite? CipherSuite(string name)
    {
        if (!name.StartsWith("TLS_", StringComparison.Ordinal))
            return null;
        if (Enum.TryParse<TlsCipherSuite>(name, ignoreCase: false, out var suite))
            return suite;
        // Go names the ChaCha20 suites without their _SHA256 suffix (TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305).
        return Enum.TryParse(name + "_SHA256", ignoreCase: false, out suite) ? suite : null;
    }
}
