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
    /// <summary>The path as the client sent it, before middlewares rewrote it (the access log's, as Traefik logs it).</summary>
    public string? OriginalPath { get; init; }
    /// <summary>The client's address: the connection's, or the forwarded one when the peer is trusted.</summary>
    public IPAddress? ClientIp { get; set; }
    /// <summary>The prefix stripPrefix or stripPrefixRegex removed, sent upstream as X-Forwarded-Prefix.</summary>
    public string? StrippedPrefix { get; set; }
    /// <summary>The server the load balancer chose (access log, sticky cookie, metrics).</summary>
    public string? Server { get; set; }
    /// <summary>Attempts made so far by the retry middleware (0 for the first).</summary>
    public int Attempt { get; set; }
    /// <summary>
    /// Set by the load balancer when the request never reached a server (connection refused or reset before the request
    /// was sent, DNS, TLS handshake): set it before writing the 502, and the retry middleware discards that answer and
    /// tries again (Traefik's retry-on-network-error). Whatever is written after a server was reached leaves it false,
    /// so a request a server may have seen is not replayed. The retry middleware clears it before each attempt.
    /// </summary>
    public bool ProxyFailed { get; set; }
    /// <summary>
    /// Conversation affinity: requests with the same key go to the same server while it is healthy (rendezvous hashing
    /// in the load balancer), set by the gateway's affinity middleware from a session or conversation id.
    /// </summary>
    public string? AffinityKey { get; set; }
    /// <summary>The headers middleware removed X-Forwarded-For (<c>customRequestHeaders: {X-Forwarded-For: ""}</c>): Traefik
    /// then sends none upstream, rather than a new one with the client's address, so the load balancer must not add it.</summary>
    public bool OmitForwardedFor { get; set; }
    /// <summary>The user basicAuth let in, or forwardAuth's headerField named (Traefik's access log ClientUsername).</summary>
    public string? User { get; set; }
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
