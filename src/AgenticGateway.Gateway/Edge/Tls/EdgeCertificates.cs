using System.Collections.Frozen;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>
/// The certificates the edge serves, chosen by SNI the way Traefik's default store does: a certificate naming the server
/// exactly, then one from the ACME store (<see cref="ICertificateSource"/>), then a wildcard naming its parent
/// (<c>*.example.com</c> covers one label), else the store's default certificate (tls.stores.default.defaultCertificate,
/// defaultGeneratedCert from a resolver, or a self-signed "TRAEFIK DEFAULT CERT").
/// </summary>
internal sealed class EdgeCertificates
{
    // Built once per process: a reload must not change the certificate clients pinned while testing, and generating a
    // key on every reload would be wasted work.
    private static readonly Lazy<SslStreamCertificateContext> Generated = new(GenerateDefault);

    private readonly FrozenDictionary<string, SslStreamCertificateContext> _exact;
    private readonly FrozenDictionary<string, SslStreamCertificateContext> _wildcard;
    private readonly IReadOnlyList<ICertificateSource> _sources;
    private readonly SslStreamCertificateContext _default;
    private readonly string? _defaultGeneratedDomain;
    // ACME certificates change behind the source; their chain context is built once per certificate object.
    private readonly ConditionalWeakTable<X509Certificate2, SslStreamCertificateContext> _sourceContexts = new();

    private EdgeCertificates(Dictionary<string, SslStreamCertificateContext> exact, Dictionary<string, SslStreamCertificateContext> wildcard,
        IReadOnlyList<ICertificateSource> sources, SslStreamCertificateContext defaultCertificate, string? defaultGeneratedDomain)
    {
        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _wildcard = wildcard.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _sources = sources;
        _default = defaultCertificate;
        _defaultGeneratedDomain = defaultGeneratedDomain;
    }

    /// <summary>Reads tls.certificates and tls.stores; each unreadable certificate is an error at its path.</summary>
    public static EdgeCertificates Build(TlsSection tls, IReadOnlyList<ICertificateSource> sources, List<string> errors)
    {
        var exact = new Dictionary<string, SslStreamCertificateContext>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, SslStreamCertificateContext>(StringComparer.OrdinalIgnoreCase);
        foreach (var config in tls.Certificates)
        {
            var context = Load(config, errors);
            if (context is null)
                continue;
            foreach (var name in DnsNames(context.TargetCertificate))
            {
                // The first certificate for a name wins, as in Traefik's store (later ones are logged there, ignored here too).
                if (name.StartsWith("*.", StringComparison.Ordinal))
                    wildcard.TryAdd(name[2..], context);
                else
                    exact.TryAdd(name, context);
            }
        }

        var defaultCertificate = Generated.Value;
        string? generatedDomain = null;
        if (tls.Stores.TryGetValue("default", out var store))
        {
            if (store.DefaultCertificate is { } configured && Load(configured, errors) is { } loaded)
                defaultCertificate = loaded;
            if (store.DefaultGeneratedResolver is not null)
                generatedDomain = store.DefaultGeneratedDomain?.Main;
        }
        foreach (var name in tls.Stores.Keys)
        {
            if (name != "default")
                errors.Add($"tls.stores.{name}: only the default store is supported (as in Traefik)");
        }
        return new EdgeCertificates(exact, wildcard, sources, defaultCertificate, generatedDomain);
    }

    /// <summary>The certificate for <paramref name="serverName"/>, or null when none names it (sniStrict refuses then).</summary>
    public SslStreamCertificateContext? Find(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName))
            return null;
        if (_exact.TryGetValue(serverName, out var context))
            return context;
        if (FromSources(serverName) is { } acme)
            return acme;
        var dot = serverName.IndexOf('.');
        if (dot > 0 && _wildcard.TryGetValue(serverName[(dot + 1)..], out context))
            return context;
        return null;
    }

    /// <summary>The certificate to serve: the one naming the server, else the default.</summary>
    public SslStreamCertificateContext Select(string? serverName) => Find(serverName) ?? Default;

    public SslStreamCertificateContext Default =>
        _defaultGeneratedDomain is not null && FromSources(_defaultGeneratedDomain) is { } generated ? generated : _default;

    /// <summary>Wraps a certificate built elsewhere (ACME's tls-alpn-01 challenge certificate).</summary>
    public SslStreamCertificateContext ContextOf(X509Certificate2 certificate) =>
        _sourceContexts.GetValue(certificate, static c => SslStreamCertificateContext.Create(c, null, offline: true));

    private SslStreamCertificateContext? FromSources(string serverName)
    {
        foreach (var source in _sources)
        {
            if (source.Find(serverName) is { } certificate)
                return ContextOf(certificate);
        }
        return null;
    }

    /// <summary>Loads a certificate and its key, each given as a file path or as the PEM text itself (Traefik accepts both).</summary>
    public static SslStreamCertificateContext? Load(CertificateConfig config, List<string> errors)
    {
        var certPem = ReadPem(config.CertFile, $"{config.Path}.certFile", errors);
        var keyPem = ReadPem(config.KeyFile, $"{config.Path}.keyFile", errors);
        if (certPem is null || keyPem is null)
            return null;
        try
        {
            var leaf = X509Certificate2.CreateFromPem(certPem, keyPem);
            var chain = new X509Certificate2Collection();
            chain.ImportFromPem(certPem);
            // The file's later certificates are the intermediates sent after the leaf.
            var intermediates = new X509Certificate2Collection();
            foreach (var certificate in chain)
            {
                if (certificate.Thumbprint != leaf.Thumbprint)
                    intermediates.Add(certificate);
            }
            return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        }
        catch (CryptographicException e)
        {
            errors.Add($"{config.Path}: the certificate or its key cannot be read: {e.Message}");
            return null;
        }
    }

    /// <summary>Reads a list of CA certificates (tls.options clientAuth.caFiles): file paths or PEM text.</summary>
    public static X509Certificate2Collection LoadCas(IEnumerable<string> files, string path, List<string> errors)
    {
        var collection = new X509Certificate2Collection();
        var index = 0;
        foreach (var file in files)
        {
            var pem = ReadPem(file, $"{path}[{index++}]", errors);
            if (pem is null)
                continue;
            try
            {
                collection.ImportFromPem(pem);
            }
            catch (CryptographicException e)
            {
                errors.Add($"{path}[{index - 1}]: the CA certificate cannot be read: {e.Message}");
            }
        }
        return collection;
    }

    private static string? ReadPem(string value, string path, List<string> errors)
    {
        if (value.Contains("-----BEGIN", StringComparison.Ordinal))
            return value;
        try
        {
            return File.ReadAllText(value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add($"{path}: cannot read {value}: {e.Message}");
            return null;
        }
    }

    /// <summary>The DNS names a certificate serves: its subject alternative names, else its common name.</summary>
    public static IReadOnlyList<string> DnsNames(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
                names.AddRange(san.EnumerateDnsNames());
        }
        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.SimpleName, false) is { Length: > 0 } commonName)
            names.Add(commonName);
        return names;
    }

    private static SslStreamCertificateContext GenerateDefault()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=TRAEFIK DEFAULT CERT", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        // Traefik names its generated certificate <random>.<random>.traefik.default so it matches no real host.
        names.AddDnsName($"{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}.traefik.default");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        return SslStreamCertificateContext.Create(certificate, null, offline: true);
    }
}
