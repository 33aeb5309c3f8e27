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
    /// The service could not reach a server (connection refused, reset, timed out) before any response byte: the status
    /// is set (502 or 504) but no body is written, so the retry middleware may try again; else the edge writes Traefik's text.
    /// </summary>
    public bool ProxyFailed { get; set; }
    /// <summary>
    /// Conversation affinity: requests with the same key go to the same server while it is healthy (rendezvous hashing
    /// in the load balancer), set by the gateway's affinity middleware from a session or conversation id.
    /// </summary>
    public string? AffinityKey { get; set; }
}

internal static class EdgeRequestExtensions
{
    public static EdgeRequest? Edge(this HttpContext context) => context.Features.Get<EdgeRequest>();
}

/// <summary>
/// The entry point a connection came in on, set as a connection feature by the entry point's listener (and read by
/// the edge for each request on it). Requests on the gateway's own listener (--urls) have none: their entry point is
/// <see cref="Gateway"/>.
/// </summary>
internal sealed record EdgeEntryPoint(string Name)
{
    /// <summary>The entry point of the gateway's own listen addresses (server.urls, --urls, --port).</summary>
    public const string Gateway = "gateway";
}
