using System.Net;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>
/// Resolves the names sandboxes ask the egress proxy for. The proxy checks every answer and connects to those very
/// addresses, so what a name resolves to is asked once per connection (a replaceable seam: tests answer without DNS).
/// </summary>
internal interface IEgressResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The host's resolver (getaddrinfo: /etc/hosts, then DNS).</summary>
internal sealed class SystemEgressResolver : IEgressResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}
