using System.Net;

namespace AgenticGateway.Edge;

/// <summary>
/// What the edge knows of a request it routed, as a request feature (YARP's habit): the entry point, router and service,
/// the client's address after trusted forwarded headers, and the prefixes middlewares removed (X-Forwarded-Prefix).
/// </summary>
internal sealed class EdgeRequest
{
    public required string EntryPoint { get; init; }
    public string? Router { get; set; }
    public string? Service { get; set; }
    /// <summary>The client's address: the connection's, or the forwarded one when the peer is trusted.</summary>
    public IPAddress? ClientIp { get; set; }
    /// <summary>The prefix stripPrefix or stripPrefixRegex removed, sent upstream as X-Forwarded-Prefix.</summary>
    public string? StrippedPrefix { get; set; }
    /// <summary>The server the load balancer chose (access log, sticky cookie, metrics).</summary>
    public string? Server { get; set; }
    /// <summary>Attempts made so far by the retry middleware (0 for the first).</summary>
    public int Attempt { get; set; }
    /// <summary>
    /// What keeps a conversation on one server (the conversationAffinity middleware sets it from a session header or the
    /// body's previous_response_id); the load balancer picks the server by rendezvous hashing of it. Null: no affinity.
    /// </summary>
    public string? AffinityKey { get; set; }
}

internal static class EdgeRequestExtensions
{
    public static EdgeRequest? Edge(this HttpContext context) => context.Features.Get<EdgeRequest>();
}
