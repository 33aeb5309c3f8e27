using System.Collections.Immutable;
using System.Net;
using AgenticGateway.Sandboxes.Egress;

namespace AgenticGateway.Tests.Sandboxes.Egress;

/// <summary>The address classifier the egress proxy checks every resolved address with.</summary>
[Trait("Category", "unit")]
public class EgressAddressesTests
{
    [Theory]
    [InlineData("127.0.0.1", "a loopback address")]
    [InlineData("127.255.255.254", "a loopback address")]
    [InlineData("::1", "a loopback address")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("10.1.2.3", "private address (RFC 1918)")]
    [InlineData("172.16.0.1", "private address (RFC 1918)")]
    [InlineData("172.31.255.255", "private address (RFC 1918)")]
    [InlineData("192.168.1.1", "private address (RFC 1918)")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("100.127.255.255", "carrier-grade NAT")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fc00::1", "unique local")]
    [InlineData("fd12:3456::1", "unique local")]
    [InlineData("fec0::1", "site-local")]
    [InlineData("169.254.169.254", "cloud metadata")]
    [InlineData("169.254.170.2", "cloud metadata")]
    [InlineData("100.100.100.200", "cloud metadata")]
    [InlineData("168.63.129.16", "cloud metadata")]
    [InlineData("fd00:ec2::254", "cloud metadata")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("192.0.0.8", "reserved")]
    [InlineData("192.0.2.1", "documentation")]
    [InlineData("198.51.100.7", "documentation")]
    [InlineData("203.0.113.9", "documentation")]
    [InlineData("2001:db8::1", "documentation")]
    [InlineData("198.18.0.1", "benchmarking")]
    [InlineData("2001::1", "Teredo")]
    [InlineData("100::1", "discard-only")]
    [InlineData("64:ff9b:1::1", "local-use NAT64")]
    // IPv6 forms that carry an IPv4 address are judged by it.
    [InlineData("::ffff:127.0.0.1", "a loopback address (it carries 127.0.0.1)")]
    [InlineData("::ffff:0.0.0.0", "unspecified")]
    [InlineData("::ffff:10.0.0.1", "private address (RFC 1918) (it carries 10.0.0.1)")]
    [InlineData("::ffff:169.254.169.254", "cloud metadata address (it carries 169.254.169.254)")]
    [InlineData("64:ff9b::7f00:1", "a loopback address (it carries 127.0.0.1)")]
    [InlineData("64:ff9b::a9fe:a9fe", "cloud metadata")]
    [InlineData("2002:7f00:1::", "a loopback address (it carries 127.0.0.1)")]
    [InlineData("2002:c0a8:101::1", "private address (RFC 1918) (it carries 192.168.1.1)")]
    [InlineData("::127.0.0.1", "a loopback address (it carries 127.0.0.1)")]
    [InlineData("::8.8.8.8", "IPv4-compatible")]
    public void Non_public_addresses_are_refused_with_the_reason(string address, string reason)
    {
        var refusal = EgressAddresses.Refusal(IPAddress.Parse(address), []);
        Assert.NotNull(refusal);
        Assert.Contains(reason, refusal);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.216.34")]
    [InlineData("1.1.1.1")]
    [InlineData("11.0.0.1")]          // next to 10/8
    [InlineData("172.32.0.1")]        // next to 172.16/12
    [InlineData("100.128.0.1")]       // next to 100.64/10
    [InlineData("169.255.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("223.255.255.254")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:82b::200e")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]  // NAT64 of a public address (DNS64 on an IPv6-only host)
    [InlineData("2002:808:808::1")]
    public void Public_addresses_pass(string address) =>
        Assert.Null(EgressAddresses.Refusal(IPAddress.Parse(address), []));

    [Theory]
    [InlineData("10.1.2.3", "10.0.0.0/8", null)]
    [InlineData("::ffff:10.1.2.3", "10.0.0.0/8", null)]
    [InlineData("fd12:3456::8", "fd12:3456::/48", null)]
    [InlineData("127.0.0.2", "127.0.0.2/32", null)]
    [InlineData("10.1.2.3", "10.2.0.0/16", "private address")]
    [InlineData("127.0.0.1", "127.0.0.2/32", "loopback")]
    // Metadata, unspecified, multicast and broadcast addresses stay refused inside any opted-in network.
    [InlineData("169.254.169.254", "169.254.0.0/16", "cloud metadata")]
    [InlineData("fd00:ec2::254", "fd00::/8", "cloud metadata")]
    [InlineData("0.0.0.0", "0.0.0.0/0", "unspecified")]
    [InlineData("::", "::/0", "unspecified")]
    [InlineData("224.0.0.1", "0.0.0.0/0", "multicast")]
    [InlineData("255.255.255.255", "0.0.0.0/0", "broadcast")]
    public void An_opted_in_private_network_is_allowed_but_never_metadata_or_unspecified(string address, string network, string? reason)
    {
        var refusal = EgressAddresses.Refusal(IPAddress.Parse(address), ImmutableArray.Create(IPNetwork.Parse(network)));
        if (reason is null) Assert.Null(refusal);
        else Assert.Contains(reason, refusal);
    }

    [Fact]
    public void Mapped_addresses_are_connected_to_as_IPv4()
    {
        Assert.Equal(IPAddress.Parse("8.8.8.8"), EgressAddresses.ForConnect(IPAddress.Parse("::ffff:8.8.8.8")));
        Assert.Equal(IPAddress.Parse("2606:4700::1"), EgressAddresses.ForConnect(IPAddress.Parse("2606:4700::1")));
    }
}
