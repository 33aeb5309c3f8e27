namespace AgenticGateway.Edge.Rules;

/// <summary>A parsed TCP router rule: HostSNI, HostSNIRegexp, ClientIP, ALPN. CONTRACT STUB: edge-config fills this in.</summary>
internal sealed class TcpRule
{
    public static TcpRule? Parse(string text, out string? error) => throw new NotImplementedException();

    public bool Matches(in TcpRuleInput input) => throw new NotImplementedException();

    /// <summary>Whether the rule can only match a TLS connection (a HostSNI other than <c>*</c>, HostSNIRegexp or ALPN).</summary>
    public bool NeedsTls => throw new NotImplementedException();

    /// <summary>The literal server names of its HostSNI matchers (for TLS certificates and options).</summary>
    public IReadOnlyList<string> ServerNames => throw new NotImplementedException();
}
