using System.Collections.Immutable;
using System.Globalization;

namespace AgenticGateway.Edge.Acme;

/// <summary>A certificate a resolver should hold: its domains, the main one first (Traefik's domain: main and SANs).</summary>
internal sealed record AcmeWanted(CertResolverConfig Resolver, ImmutableArray<string> Domains)
{
    /// <summary>The certificate's identity in the store and its lease's name: the domains, comma-separated.</summary>
    public string Key => string.Join(',', Domains);
}

/// <summary>
/// Which certificates the routers ask for, as Traefik finds them: a router (HTTP or TCP) whose tls names a
/// certResolver, or that uses an entry point whose default tls names one, gets one certificate per tls.domains entry
/// (main and sans); with no domains, one certificate for the host names of its rule (Host, or HostSNI for TCP).
/// </summary>
internal static class AcmeDomains
{
    private static readonly IdnMapping Idn = new();

    public static ImmutableArray<AcmeWanted> Wanted(EdgeDynamicConfig dynamic, EdgeStaticConfig statics, List<string> problems)
    {
        var wanted = new Dictionary<(string, string), AcmeWanted>();
        foreach (var router in dynamic.Http.Routers.Values.OrderBy(r => r.Name, StringComparer.Ordinal))
            Add(router.Name, EffectiveTls(router.Tls, router.EntryPoints, statics), () => router.Matcher.HostNames, statics, wanted, problems);
        foreach (var router in dynamic.Tcp.Routers.Values.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            if (router.Tls is { Passthrough: true }) continue;   // the backend holds the certificate
            Add(router.Name, router.Tls, () => router.Matcher.ServerNames, statics, wanted, problems);
        }
        return [.. wanted.Values];
    }

    /// <summary>The router's own tls, else the default tls of its entry points (all default entry points when it names none).</summary>
    private static RouterTlsConfig? EffectiveTls(RouterTlsConfig? own, ImmutableArray<string> entryPoints, EdgeStaticConfig statics)
    {
        if (own is not null) return own;
        IEnumerable<EntryPointConfig> used = entryPoints.IsDefaultOrEmpty
            ? statics.EntryPoints.Values.Where(e => e.AsDefault) is var marked && marked.Any() ? marked : statics.EntryPoints.Values
            : entryPoints.Select(n => statics.EntryPoints.GetValueOrDefault(n)).OfType<EntryPointConfig>();
        return used.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => e.DefaultTls).FirstOrDefault(t => t?.CertResolver is not null);
    }

    private static void Add(string router, RouterTlsConfig? tls, Func<IReadOnlyList<string>> ruleNames, EdgeStaticConfig statics,
        Dictionary<(string, string), AcmeWanted> wanted, List<string> problems)
    {
        if (tls?.CertResolver is not { } name) return;
        if (!statics.CertificatesResolvers.TryGetValue(name, out var resolver))
        {
            problems.Add($"router {router}: certResolver {name} is not defined in certificatesResolvers");
            return;
        }
        var sets = tls.Domains.IsDefaultOrEmpty
            ? [[.. ruleNames()]]
            : tls.Domains.Select(d => (IReadOnlyList<string>)[d.Main, .. d.Sans]).ToList();
        foreach (var set in sets)
        {
            var domains = new List<string>();
            foreach (var raw in set)
            {
                var domain = Normalize(raw, out var error);
                if (domain is null) problems.Add($"router {router}: {error}");
                else if (domain.StartsWith("*.", StringComparison.Ordinal))
                    problems.Add($"router {router}: the wildcard domain {domain} needs the DNS-01 challenge, which certResolver {name} does not have (not supported)");
                else if (!domains.Contains(domain)) domains.Add(domain);
            }
            if (domains.Count == 0)
            {
                if (set.Count == 0) problems.Add($"router {router}: certResolver {name} has no domain to ask for (no tls.domains and no Host in the rule)");
                continue;
            }
            var item = new AcmeWanted(resolver, [.. domains]);
            wanted.TryAdd((name, item.Key), item);
        }
    }

    /// <summary>A domain as the CA wants it: lower case, IDN as punycode, no trailing dot; null with a reason when it is not a host name.</summary>
    public static string? Normalize(string raw, out string? error)
    {
        error = null;
        var text = raw.Trim().TrimEnd('.');
        try
        {
            var wildcard = text.StartsWith("*.", StringComparison.Ordinal);
            var ascii = Idn.GetAscii(wildcard ? text[2..] : text).ToLowerInvariant();
            if (IsHostName(ascii)) return wildcard ? "*." + ascii : ascii;
        }
        catch (ArgumentException)
        {
            // Not a name IDNA accepts: reported below.
        }
        error = $"'{raw}' is not a domain name";
        return null;
    }

    /// <summary>An ASCII DNS name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters.</summary>
    public static bool IsHostName(string name)
    {
        if (name.Length is 0 or > 253) return false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-') return false;
            foreach (var c in label)
                if (!char.IsAsciiLetterOrDigit(c) && c != '-') return false;
        }
        return true;
    }
}
