namespace AgenticGateway.Observability;

/// <summary>Log messages about exposure and authentication (event ids 60-79).</summary>
internal static partial class Log
{
    [LoggerMessage(60, LogLevel.Warning, "No master key and no JWT auth: the API is open, so the gateway listens on loopback only ({Urls}). Set master_key (or JWT auth) to listen on the network, or accept an open gateway there with --insecure")]
    public static partial void OpenOnLoopbackOnly(ILogger logger, string urls);

    [LoggerMessage(61, LogLevel.Warning, "--insecure: no master key and no JWT auth, listening on {Urls}: anyone who can reach it can call the models and run code in sandboxes")]
    public static partial void OpenOnNetwork(ILogger logger, string urls);

    [LoggerMessage(62, LogLevel.Warning, "JWT auth has neither an audience (JWT_AUDIENCE) nor an issuer (JWT_ISSUER): a token any application of the identity provider obtained is accepted")]
    public static partial void JwtUnscoped(ILogger logger);

    [LoggerMessage(65, LogLevel.Information, "/metrics is served on its own listener at {Urls}")]
    public static partial void MetricsListening(ILogger logger, string urls);
}
