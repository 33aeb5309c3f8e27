using System.Collections.Immutable;
using System.Net;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>The operator's bounds on sandbox egress (<c>sandboxes.egress:</c>). Defaults: any public host name, no private address.</summary>
internal sealed record EgressOptions
{
    /// <summary>
    /// The ceiling: every entry of a sandbox's <c>allow_hosts</c> must be covered by one of these (the same name, or a
    /// <c>*.domain</c> above it). Null (the default): any public host name may be asked for. Empty: none may.
    /// </summary>
    public ImmutableArray<string>? AllowHosts { get; init; }

    /// <summary>
    /// Private networks (CIDR) the proxy may connect into, for an internal mirror; needs <see cref="AllowHosts"/>.
    /// Default none: loopback, RFC 1918, link-local, CGNAT, ULA and reserved addresses are refused.
    /// </summary>
    public ImmutableArray<IPNetwork> AllowPrivateNetworks { get; init; } = [];

    /// <summary>Whether the ceiling lets a tenant ask for a (normalized, valid) allow_hosts entry.</summary>
    public bool Permits(string entry)
    {
        if (AllowHosts is not { } ceiling) return true;
        foreach (var c in ceiling)
            if (EgressHostNames.Covers(c, entry)) return true;
        return false;
    }
}
