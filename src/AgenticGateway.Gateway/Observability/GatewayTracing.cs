using System.Diagnostics;
using AgenticGateway.Configuration;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AgenticGateway.Observability;

/// <summary>
/// Spans of the request path, on one <see cref="ActivitySource"/>. With no listener (tracing not configured)
/// StartActivity returns null and costs next to nothing. Attributes follow OpenTelemetry's GenAI conventions.
/// </summary>
internal static class GatewayTracing
{
    public const string SourceName = Telemetry.TelemetryNames.ActivitySource;
    public static readonly ActivitySource Source = new(SourceName, Telemetry.TelemetryNames.Version);

    /// <summary>
    /// The request span: a child of the server span when ASP.NET Core made one, else of the caller's traceparent.
    /// </summary>
    public static Activity? StartRequest(HttpContext context, string operation)
    {
        if (!Source.HasListeners()) return null;
        ActivityContext parent = default;
        if (Activity.Current is null)
        {
            var headers = context.Request.Headers;
            if (headers.TryGetValue("traceparent", out var traceparent))
                ActivityContext.TryParse(traceparent.ToString(), headers["tracestate"].ToString(), isRemote: true, out parent);
        }
        var activity = Source.StartActivity("gateway " + operation, ActivityKind.Internal, parent);
        activity?.SetTag("gen_ai.operation.name", operation);
        return activity;
    }

    /// <summary>
    /// Registers OpenTelemetry tracing through its hosting package when tracing is configured (an OTLP endpoint in the
    /// config or OTEL_EXPORTER_OTLP_ENDPOINT): our spans, ASP.NET Core's server spans and HttpClient's client spans,
    /// exported over OTLP. The provider starts with the host and is flushed when the host is disposed. Without an
    /// endpoint nothing is registered, so no listener exists and our spans are never created.
    /// </summary>
    public static void Add(IServiceCollection services, TracingOptions options)
    {
        var endpoint = options.OtlpEndpoint ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (string.IsNullOrEmpty(endpoint)) return;
        var grpc = options.Protocol == "grpc";
        var uri = new Uri(endpoint);
        // For HTTP the endpoint given in code is used as is: point it at the traces path.
        if (!grpc && !uri.AbsolutePath.EndsWith("/v1/traces", StringComparison.Ordinal))
            uri = new Uri(uri, uri.AbsolutePath.TrimEnd('/') + "/v1/traces");
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName, serviceVersion: Telemetry.TelemetryNames.Version))
            .WithTracing(t => t
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(options.SampleRatio)))
                .AddSource(SourceName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = uri;
                    o.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
                }));
    }
}
