using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>
/// Which addresses the egress proxy may connect to: public unicast only, unless the operator opted a private network in
/// (<c>sandboxes.egress.allow_private_networks</c>). The table follows IANA's IPv4 and IPv6 special-purpose address
/// registries; System.Net.IPNetwork does the prefix arithmetic. IPv6 forms that carry an IPv4 address (mapped, NAT64,
/// 6to4, IPv4-compatible) are judged by the address they carry as well.
/// </summary>
internal static class EgressAddresses
{
    /// <param name="Always">Refused even inside an opted-in network: nothing legitimate is served there.</param>
    private readonly record struct Range(IPNetwork Network, string What, bool Always = false);

    private const string Metadata = "a cloud metadata address";

    // Checked in order; the always-refused entries come first so that an opt-in of 169.254.0.0/16 or 0.0.0.0/0
    // cannot let a metadata service through.
    private static readonly Range[] Ranges =
    [
        new(Net("169.254.169.254/32"), Metadata, true),   // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        new(Net("169.254.170.2/32"), Metadata, true),     // AWS ECS task credentials
        new(Net("169.254.170.23/32"), Metadata, true),    // AWS EKS pod identity
        new(Net("100.100.100.200/32"), Metadata, true),   // Alibaba Cloud
        new(Net("168.63.129.16/32"), Metadata, true),     // Azure WireServer (a public address)
        new(Net("192.0.0.192/32"), Metadata, true),       // Oracle Cloud Classic
        new(Net("fd00:ec2::254/128"), Metadata, true),    // AWS IMDS over IPv6
        new(Net("fd00:ec2::23/128"), Metadata, true),     // AWS EKS pod identity over IPv6
        new(Net("fd20:ce::254/128"), Metadata, true),     // GCP, IPv6-only instances
        new(Net("fe80::a9fe:a9fe/128"), Metadata, true),  // OpenStack over IPv6
        new(Net("0.0.0.0/8"), "an unspecified address (\"this network\": 0.0.0.0 reaches the host itself)", true),
        new(Net("::/128"), "the unspecified address (it reaches the host itself)", true),
        new(Net("255.255.255.255/32"), "the broadcast address", true),
        new(Net("224.0.0.0/4"), "a multicast address", true),
        new(Net("ff00::/8"), "a multicast address", true),

        new(Net("127.0.0.0/8"), "a loopback address"),
        new(Net("::1/128"), "a loopback address"),
        new(Net("10.0.0.0/8"), "a private address (RFC 1918)"),
        new(Net("172.16.0.0/12"), "a private address (RFC 1918)"),
        new(Net("192.168.0.0/16"), "a private address (RFC 1918)"),
        new(Net("100.64.0.0/10"), "a shared address (carrier-grade NAT, RFC 6598)"),
        new(Net("169.254.0.0/16"), "a link-local address"),
        new(Net("fe80::/10"), "a link-local address"),
        new(Net("fc00::/7"), "a unique local address (RFC 4193)"),
        new(Net("fec0::/10"), "a site-local address (deprecated, private)"),
        new(Net("64:ff9b:1::/48"), "a local-use NAT64 address (RFC 8215)"),
        new(Net("192.0.0.0/24"), "an IETF protocol assignment (reserved)"),
        new(Net("192.0.2.0/24"), "a documentation address (reserved)"),
        new(Net("198.51.100.0/24"), "a documentation address (reserved)"),
        new(Net("203.0.113.0/24"), "a documentation address (reserved)"),
        new(Net("2001:db8::/32"), "a documentation address (reserved)"),
        new(Net("3fff::/20"), "a documentation address (reserved)"),
        new(Net("198.18.0.0/15"), "a benchmarking address (reserved)"),
        new(Net("192.88.99.0/24"), "a deprecated 6to4 relay address (reserved)"),
        new(Net("240.0.0.0/4"), "a reserved address"),
        new(Net("100::/64"), "a discard-only address (reserved)"),
        new(Net("2001::/23"), "an IETF protocol assignment (Teredo, ORCHID, benchmarking: reserved)"),
        new(Net("5f00::/16"), "a segment-routing address (reserved)"),
        new(Net("::/96"), "an IPv4-compatible address (deprecated, reserved)"),
    ];

    private static readonly IPNetwork Nat64 = Net("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = Net("2002::/16");
    private static readonly IPNetwork Compatible = Net("::/96");

    /// <summary>Why the proxy must not connect to <paramref name="address"/>, or null when it may.</summary>
    public static string? Refusal(IPAddress address, ImmutableArray<IPNetwork> allowPrivateNetworks)
    {
        var carried = CarriedIPv4(address);
        foreach (var range in Ranges)
            if (range.Always && (range.Network.Contains(address) || carried is not null && range.Network.Contains(carried))) return Describe(range, carried);
        foreach (var network in allowPrivateNetworks)
            if (network.Contains(address) || carried is not null && network.Contains(carried)) return null;
        foreach (var range in Ranges)
            if (!range.Always && (range.Network.Contains(address) || carried is not null && range.Network.Contains(carried))) return Describe(range, carried);
        return null;
    }

    /// <summary>Why an opted-in network is pointless: it lies inside an always-refused range; or null.</summary>
    public static string? AlwaysRefused(IPNetwork network)
    {
        foreach (var range in Ranges)
            if (range.Always && range.Network.PrefixLength <= network.PrefixLength && range.Network.Contains(network.BaseAddress)) return range.What;
        return null;
    }

    private static string Describe(Range range, IPAddress? carried) => carried is null ? range.What : $"{range.What} (it carries {carried})";

    /// <summary>The IPv4 address an IPv6 address stands for or tunnels to, if it is one of those forms.</summary>
    internal static IPAddress? CarriedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return null;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (Nat64.Contains(address) || Compatible.Contains(address) && !address.Equals(IPAddress.IPv6None) && !address.Equals(IPAddress.IPv6Loopback))
            return new IPAddress(bytes[12..]);
        if (SixToFour.Contains(address)) return new IPAddress(bytes.Slice(2, 4));
        return null;
    }

    /// <summary>The address to connect to: an IPv4-mapped address as plain IPv4, so the socket's family matches.</summary>
    public static IPAddress ForConnect(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static IPNetwork Net(string cidr) => IPNetwork.Parse(cidr);
}
