using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AgenticGateway.Edge.Observability;

/// <summary>
/// What the edge records of each request it routes: Traefik's Prometheus metrics, under Traefik's names and labels
/// (<c>traefik_entrypoint_requests_total{code,entrypoint,method,protocol}</c>, the router and service ones, their
/// duration histograms with the static <c>metrics.prometheus.buckets</c>, config reloads), and one access-log line.
/// The edge step calls <see cref="Start"/> and <see cref="Done"/>; nothing here allocates per request: tags are a
/// <see cref="TagList"/> of cached strings (status codes, methods, protocols, the configuration's names).
/// </summary>
/// <remarks>
/// The instruments live on the gateway's meter, so the gateway's /metrics exporter renders them: dots become
/// underscores, counters get <c>_total</c> and histograms in seconds <c>_seconds</c>, which gives Traefik's names exactly.
/// A request a router sent into the gateway's own services (<c>gateway@internal</c>, <c>llm@internal</c>, ...) is
/// counted here too, but its access-log line is the gateway's (written when the gateway's pipeline finishes it).
/// </remarks>
internal sealed partial class EdgeTelemetry
{
    /// <summary>The gateway's access log category: the edge's lines sit beside the gateway's own, filtered alike.</summary>
    public const string AccessLogCategory = "AgenticGateway.Pipeline.RequestContextStep";

    private const string Meter = Telemetry.TelemetryNames.Meter;
    private static readonly string[] Codes = Enumerable.Range(0, 1000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly PrometheusConfig _config;
    private readonly ILogger _access;
    private readonly Counter<long> _entryPointRequests;
    private readonly Histogram<double> _entryPointDuration;
    private readonly Counter<long> _routerRequests;
    private readonly Histogram<double> _routerDuration;
    private readonly Counter<long> _serviceRequests;
    private readonly Histogram<double> _serviceDuration;
    private readonly Counter<long> _configReloads;
    private long _lastReloadUnixSeconds;

    public EdgeTelemetry(IMeterFactory meters, PrometheusConfig config, ILoggerFactory loggers)
    {
        _config = config;
        _access = loggers.CreateLogger(AccessLogCategory);
        var meter = meters.Create(Meter);
        // Traefik's buckets (metrics.prometheus.buckets, default 0.1, 0.3, 1.2, 5), passed to the exporter as advice.
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = config.Buckets.IsDefaultOrEmpty ? PrometheusConfig.Default.Buckets : config.Buckets };
        _entryPointRequests = meter.CreateCounter<long>("traefik.entrypoint.requests", null, "How many HTTP requests processed on an entrypoint, partitioned by status code, protocol, and method.");
        _entryPointDuration = meter.CreateHistogram("traefik.entrypoint.request.duration", "s", "How long it took to process the request on an entrypoint, partitioned by status code, protocol, and method.", null, advice);
        _routerRequests = meter.CreateCounter<long>("traefik.router.requests", null, "How many HTTP requests are processed on a router, partitioned by service, status code, protocol, and method.");
        _routerDuration = meter.CreateHistogram("traefik.router.request.duration", "s", "How long it took to process the request on a router, partitioned by service, status code, protocol, and method.", null, advice);
        _serviceRequests = meter.CreateCounter<long>("traefik.service.requests", null, "How many HTTP requests processed on a service, partitioned by status code, protocol, and method.");
        _serviceDuration = meter.CreateHistogram("traefik.service.request.duration", "s", "How long it took to process the request on a service, partitioned by status code, protocol, and method.", null, advice);
        _configReloads = meter.CreateCounter<long>("traefik.config.reloads", null, "Config reloads");
    }

    /// <summary>Whether the access log is on (the log level lets information through), for Traefik's overview.</summary>
    public bool AccessLogEnabled => _access.IsEnabled(LogLevel.Information);

    /// <summary>When the last configuration was applied (Unix seconds), Traefik's <c>traefik_config_last_reload_success</c>; 0 before the first.</summary>
    public long LastReloadUnixSeconds => Interlocked.Read(ref _lastReloadUnixSeconds);

    /// <summary>A configuration was built and swapped in (the first one counts, as in Traefik).</summary>
    public void ConfigApplied(DateTimeOffset now)
    {
        _configReloads.Add(1);
        Interlocked.Exchange(ref _lastReloadUnixSeconds, now.ToUnixTimeSeconds());
    }

    /// <summary>The request's start, as a timestamp (no allocation, no state).</summary>
    public static long Start() => Stopwatch.GetTimestamp();

    /// <summary>
    /// The request is done: its metrics, and its access-log line unless the gateway's pipeline wrote one
    /// (<paramref name="gatewayLogged"/>). A request no router took (Traefik's 404) counts on its entry point only.
    /// </summary>
    public void Done(HttpContext context, EdgeRequest edge, long start, bool gatewayLogged)
    {
        var entryPoint = edge.EntryPoint;
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var request = context.Request;
        var protocol = Protocol(request.Headers);
        var status = context.Response.StatusCode;
        var code = protocol is "grpc" or "grpc-web" ? GrpcStatus(context) : status;
        var codeText = (uint)code < (uint)Codes.Length ? Codes[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var method = Method(request.Method);
        // Labels in Prometheus' order (sorted by name), as Traefik's client library writes them.
        if (_config.AddEntryPointsLabels && (_entryPointRequests.Enabled || _entryPointDuration.Enabled))
        {
            var tags = new TagList { { "code", codeText }, { "entrypoint", entryPoint }, { "method", method }, { "protocol", protocol } };
            _entryPointRequests.Add(1, in tags);
            _entryPointDuration.Record(seconds, in tags);
        }
        var router = edge.Router;
        var service = edge.Service;
        if (router is not null && service is not null && _config.AddRoutersLabels && (_routerRequests.Enabled || _routerDuration.Enabled))
        {
            var tags = new TagList { { "code", codeText }, { "method", method }, { "protocol", protocol }, { "router", router }, { "service", service } };
            _routerRequests.Add(1, in tags);
            _routerDuration.Record(seconds, in tags);
        }
        if (service is not null && _config.AddServicesLabels && (_serviceRequests.Enabled || _serviceDuration.Enabled))
        {
            var tags = new TagList { { "code", codeText }, { "method", method }, { "protocol", protocol }, { "service", service } };
            _serviceRequests.Add(1, in tags);
            _serviceDuration.Record(seconds, in tags);
        }
        if (!gatewayLogged && _access.IsEnabled(LogLevel.Information))
        {
            var client = edge.ClientIp ?? context.Connection.RemoteIpAddress;
            Log.Access(_access, request.Method, edge.OriginalPath ?? request.Path.Value ?? "", status, entryPoint, router ?? "-", service ?? "-", edge.Server ?? "-",
                client?.IsIPv4MappedToIPv6 == true ? client.MapToIPv4() : client, seconds * 1000);
        }
    }

    /// <summary>Traefik's protocol label: websocket, sse, grpc-web, grpc, else http (checked in that order, as Traefik does).</summary>
    internal static string Protocol(IHeaderDictionary headers)
    {
        if (HasToken(headers.Connection, "upgrade") && HasToken(headers.Upgrade, "websocket")) return "websocket";
        if (HasToken(headers.Accept, "text/event-stream")) return "sse";
        var contentType = headers.ContentType;
        if (contentType.Count > 0 && contentType[0] is { } ct)
        {
            if (ct.StartsWith("application/grpc-web", StringComparison.Ordinal)) return "grpc-web";
            if (ct.StartsWith("application/grpc", StringComparison.Ordinal)) return "grpc";
        }
        return "http";
    }

    /// <summary>Traefik's method label: the standard methods as they are, anything else EXTENSION_METHOD (a bounded label).</summary>
    internal static string Method(string method) => method switch
    {
        "GET" => "GET", "HEAD" => "HEAD", "POST" => "POST", "PUT" => "PUT", "DELETE" => "DELETE", "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS", "TRACE" => "TRACE", "PATCH" => "PATCH", "PRI" => "PRI",
        _ => "EXTENSION_METHOD",
    };

    /// <summary>A comma-separated header holds <paramref name="token"/> (trimmed, compared lowercased: Traefik's containsHeader).</summary>
    private static bool HasToken(StringValues values, string token)
    {
        // Traefik reads the first value only (Header.Get).
        if (values.Count == 0 || values[0] is not { } value) return false;
        foreach (var range in value.AsSpan().Split(','))
        {
            if (value.AsSpan()[range].Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>gRPC's status (grpc-status, in the trailers or a trailers-only answer's headers); Unknown (2) when absent or unreadable.</summary>
    private static int GrpcStatus(HttpContext context)
    {
        var value = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"] ?? default;
        if (value.Count == 0) value = context.Response.Headers["grpc-status"];
        return value.Count > 0 && int.TryParse(value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code) ? code : 2;
    }

    private static partial class Log
    {
        /// <summary>The gateway's access-log shape (method, path, status, then key=value pairs), with what the edge knows.</summary>
        [LoggerMessage(EventId = 1910, Level = LogLevel.Information, Message = "{Method} {Path} {Status} entrypoint={EntryPoint} router={Router} service={Service} server={Server} client_ip={ClientIp} duration_ms={DurationMs:F1}")]
        public static partial void Access(ILogger logger, string method, string path, int status, string entryPoint, string router, string service, string server, System.Net.IPAddress? clientIp, double durationMs);
    }
}
