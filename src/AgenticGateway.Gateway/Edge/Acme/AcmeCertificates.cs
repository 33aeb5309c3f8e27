using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge.Tls;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// The certificates in the ACME store, by server name, for the edge's TLS handshakes: exact names first, then a
/// wildcard one label up. Rebuilt from the store when it changes (by this replica or another); a name held by two
/// certificates gets the one valid longest. Reads are lock-free over an immutable snapshot.
/// </summary>
internal sealed class AcmeCertificates : ICertificateSource
{
    private volatile Snapshot _current = Snapshot.Empty;

    public X509Certificate2? Find(string serverName)
    {
        var byName = _current.ByName;
        if (serverName.Length == 0) return null;
        if (byName.TryGetValue(serverName, out var exact)) return exact.Certificate;
        var dot = serverName.IndexOf('.');
        return dot > 0 && byName.TryGetValue("*" + serverName[dot..], out var wildcard) ? wildcard.Certificate : null;
    }

    /// <summary>The stored certificate of a resolver for a domain list (null when none could be read), for renewal decisions.</summary>
    internal AcmeLoaded? Stored(string resolver, string domains) => _current.ByKey.GetValueOrDefault((resolver, domains));

    /// <summary>The version of the store the snapshot was built from (null: empty or never loaded).</summary>
    internal string? Version => _current.Version;

    /// <summary>Rebuilds the snapshot from the store's rows; returns the rows that could not be read (corrupt PEM), as messages.</summary>
    internal IReadOnlyList<string> Load(IReadOnlyList<AcmeCertificateRecord> rows, string? version)
    {
        var problems = new List<string>();
        var old = _current;
        var byKey = new Dictionary<(string, string), AcmeLoaded>();
        foreach (var row in rows)
        {
            // Unchanged rows keep their certificate objects (handshakes in flight may be using them).
            if (old.ByKey.TryGetValue((row.Resolver, row.Domains), out var kept) && kept.Record.UpdatedAt == row.UpdatedAt)
            {
                byKey[(row.Resolver, row.Domains)] = kept;
                continue;
            }
            try
            {
                byKey[(row.Resolver, row.Domains)] = new AcmeLoaded(row, X509Certificate2.CreateFromPem(row.CertificatePem, row.PrivateKeyPem));
            }
            catch (CryptographicException e)
            {
                problems.Add($"the stored certificate of resolver {row.Resolver} for {row.Domains} cannot be read: {e.Message}");
            }
        }
        var byName = new Dictionary<string, AcmeLoaded>(StringComparer.OrdinalIgnoreCase);
        foreach (var loaded in byKey.Values)
        {
            foreach (var domain in loaded.Record.Domains.Split(','))
                if (!byName.TryGetValue(domain, out var other) || other.Record.NotAfter < loaded.Record.NotAfter) byName[domain] = loaded;
        }
        _current = new Snapshot(byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), byKey.ToFrozenDictionary(), version);
        // Replaced certificates are not disposed: a handshake may still hold one; the GC reclaims them.
        return problems;
    }

    private sealed record Snapshot(FrozenDictionary<string, AcmeLoaded> ByName, FrozenDictionary<(string, string), AcmeLoaded> ByKey, string? Version)
    {
        public static readonly Snapshot Empty = new(FrozenDictionary<string, AcmeLoaded>.Empty, FrozenDictionary<(string, string), AcmeLoaded>.Empty, null);
    }
}

/// <summary>A stored certificate and its X509Certificate2 (with the private key) for handshakes.</summary>
internal sealed record AcmeLoaded(AcmeCertificateRecord Record, X509Certificate2 Certificate);
