using System.Net;
using System.Text.RegularExpressions;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>
/// Which names the egress proxy deals in, and how list entries match them. One rule set serves a tenant's
/// <c>allow_hosts</c>, the operator's ceiling and every proxied request, so no spelling passes one check and not another.
/// </summary>
internal static partial class EgressHostNames
{
    /// <summary>Lower case without the one trailing dot DNS allows (<c>PyPI.org.</c> and <c>pypi.org</c> are one name).</summary>
    public static string Normalize(string name)
    {
        var lower = name.ToLowerInvariant();
        return lower.Length > 1 && lower[^1] == '.' ? lower[..^1] : lower;
    }

    /// <summary>
    /// Why a normalized name (or, with <paramref name="wildcard"/>, a <c>*.domain</c> entry) is refused, or null.
    /// Addresses in every spelling and localhost are refused: the proxy connects from the gateway's own network.
    /// </summary>
    public static string? Problem(string name, bool wildcard)
    {
        var host = wildcard && name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        if (host.Length is 0 or > 253 || !Syntax().IsMatch(host))
            return IPAddress.TryParse(host.Trim('[', ']'), out _) ? IsAddress : "is not a host name (letters, digits, hyphens and dots; or *.domain)";
        // Resolvers read a name whose last label is a number (127.1, 2130706433, 0x7f.1, *.0.0.1) as an IPv4 address,
        // as the WHATWG URL standard does; no top-level domain is numeric.
        if (NumericLabel().IsMatch(host[(host.LastIndexOf('.') + 1)..])) return IsAddress;
        // RFC 6761: localhost and every name under it resolve to loopback.
        if (host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal)) return "names the gateway's own machine (localhost)";
        return null;
    }

    private const string IsAddress = "is an IP address: name a host (addresses and localhost are refused, since the proxy connects from the gateway's network)";

    /// <summary>Whether a normalized host matches a list entry: the same name, or a name under <c>*.domain</c>.</summary>
    public static bool Matches(string host, string entry) =>
        entry.StartsWith("*.", StringComparison.Ordinal)
            ? host.Length > entry.Length - 1 && host.EndsWith(entry.AsSpan(1), StringComparison.Ordinal)
            : host == entry;

    /// <summary>Whether a host matches any entry of a list.</summary>
    public static bool MatchesAny(string host, IReadOnlyList<string> entries)
    {
        foreach (var entry in entries)
            if (Matches(host, entry)) return true;
        return false;
    }

    /// <summary>Whether a ceiling entry covers a tenant's entry: every host the tenant's entry matches, the ceiling's matches.</summary>
    public static bool Covers(string ceiling, string entry) =>
        entry.StartsWith("*.", StringComparison.Ordinal)
            ? ceiling.StartsWith("*.", StringComparison.Ordinal) && (entry == ceiling || Matches(entry[2..], ceiling))
            : Matches(entry, ceiling);

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,62}(\.[a-z0-9][a-z0-9-]{0,62})*$")]
    private static partial Regex Syntax();

    [GeneratedRegex("^([0-9]+|0x[0-9a-f]*)$")]
    private static partial Regex NumericLabel();
}
