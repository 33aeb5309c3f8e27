using System.Collections.Immutable;
using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>Reads <c>sandboxes.egress:</c>, reporting every bad entry with its path.</summary>
internal static class EgressConfigReader
{
    public static EgressOptions Read(ConfigMap e)
    {
        var options = new EgressOptions();
        if (e.Has("allow_hosts"))
        {
            var ceiling = ImmutableArray.CreateBuilder<string>();
            foreach (var (node, path) in e.Sequence("allow_hosts"))
            {
                if (e.ScalarText(node, path) is not { } text) continue;
                var name = EgressHostNames.Normalize(text);
                if (EgressHostNames.Problem(name, wildcard: true) is { } problem) e.Context.Issues.Error(path, $"'{text}' {problem}");
                else ceiling.Add(name);
            }
            options = options with { AllowHosts = ceiling.ToImmutable() };
        }
        var networks = ImmutableArray.CreateBuilder<IPNetwork>();
        foreach (var (node, path) in e.Sequence("allow_private_networks"))
        {
            if (e.ScalarText(node, path) is not { } text) continue;
            var slash = text.IndexOf('/');
            if (slash < 0 || !IPNetwork.TryParse(text, out var network) || !IPAddress.TryParse(text.AsSpan(0, slash), out var start))
                e.Context.Issues.Error(path, $"'{text}' is not a network in CIDR notation (such as 10.20.0.0/16 or fd12:3456::/48)");
            else if (!start.Equals(network.BaseAddress))
                e.Context.Issues.Error(path, $"'{text}' has bits set beyond its prefix; write {network}");
            else if (EgressAddresses.AlwaysRefused(network) is { } what)
                e.Context.Issues.Error(path, $"'{text}' is {what}, which is refused whatever the configuration");
            else networks.Add(network);
        }
        if (networks.Count > 0)
        {
            if (options.AllowHosts is null)
                e.Context.Issues.Error(e.Child("allow_private_networks"), "needs sandboxes.egress.allow_hosts (a ceiling): without one, a tenant who owns any DNS name could point it into these networks");
            options = options with { AllowPrivateNetworks = networks.ToImmutable() };
        }
        e.ReportUnknownKeys(strict: true);
        return options;
    }
}
