namespace AgenticGateway.Edge.Rules;

/// <summary>A parsed HTTP router rule (Traefik v3 syntax). CONTRACT STUB: edge-config fills this in.</summary>
internal sealed class HttpRule
{
    /// <summary>Parses <paramref name="text"/>; on failure returns null and an error naming the position.</summary>
    public static HttpRule? Parse(string text, out string? error) => throw new NotImplementedException();

    public bool Matches<T>(T input) where T : struct, IHttpRuleInput => throw new NotImplementedException();

    /// <summary>The literal host names of the rule's Host matchers (for TLS certificates, options and ACME domains).</summary>
    public IReadOnlyList<string> HostNames => throw new NotImplementedException();
}
