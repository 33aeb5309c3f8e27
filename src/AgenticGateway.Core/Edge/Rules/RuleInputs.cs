using System.Net;

namespace AgenticGateway.Edge.Rules;

/// <summary>
/// What an HTTP rule reads of a request. The gateway implements it over an HttpContext as a struct, so matching a
/// request against every router allocates nothing (rules take it as a generic argument, never boxed).
/// </summary>
internal interface IHttpRuleInput
{
    /// <summary>The request's host without the port, as sent (Host matchers compare without regard to case).</summary>
    string Host { get; }
    /// <summary>The decoded path (Traefik matches req.URL.Path).</summary>
    string Path { get; }
    string Method { get; }
    /// <summary>The client's address, after the entry point's trusted forwarded headers; null when unknown.</summary>
    IPAddress? ClientIp { get; }
    /// <summary>How many values the header has (0 when absent), each reachable by <see cref="HeaderAt"/>.</summary>
    int HeaderCount(string name);
    string HeaderAt(string name, int index);
    /// <summary>How many values the query parameter has (0 when absent; a parameter with no value has one empty value).</summary>
    int QueryCount(string name);
    string QueryAt(string name, int index);
}

/// <summary>What a TCP rule reads of a connection: its SNI and ALPN (when it starts with a TLS ClientHello) and the client's address.</summary>
internal readonly record struct TcpRuleInput(string? ServerName, IReadOnlyList<string> Alpn, IPAddress? ClientIp, bool IsTls);
