using System.Reflection;

namespace AgenticGateway.Telemetry;

/// <summary>The names the gateway's telemetry is published under, and its version: one definition for every project.</summary>
internal static class TelemetryNames
{
    /// <summary>The Meter of every gateway instrument (gateway, limits, sandboxes).</summary>
    public const string Meter = "AgenticGateway";

    /// <summary>The ActivitySource of the request path's spans.</summary>
    public const string ActivitySource = "AgenticGateway";

    /// <summary>The gateway's version (its informational version without the commit suffix).</summary>
    public static readonly string Version = typeof(TelemetryNames).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
