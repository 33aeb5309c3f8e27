using System.Text.Json;
using AgenticGateway.Policies;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>A deployment and its live metrics as JSON: admin <c>/models</c>, <c>/routing/models</c> and <c>/route</c> show the same fields.</summary>
internal static class DeploymentMetricsJson
{
    /// <summary>A deployment with the live values routing policies read (the same names as the resource's attributes).</summary>
    public static void Write(Utf8JsonWriter w, Deployment d, long nowTicks)
    {
        w.WriteStartObject();
        w.WriteString("id", d.Id);
        w.WriteString("model_group", d.GroupName);
        w.WriteString("provider", d.ProviderName);
        w.WriteString("model", d.Options.Model);
        var s = d.State;
        if (double.IsNaN(s.AverageLatencyMs)) w.WriteNull("average_latency_ms");
        else w.WriteNumber("average_latency_ms", RoutingEntities.ToDecimal(s.AverageLatencyMs));
        if (double.IsNaN(s.TimeToFirstTokenMs)) w.WriteNull("time_to_first_token_ms");
        else w.WriteNumber("time_to_first_token_ms", RoutingEntities.ToDecimal(s.TimeToFirstTokenMs));
        w.WriteNumber("current_error_rate", RoutingEntities.ToDecimal(s.ErrorRate(nowTicks)));
        w.WriteNumber("in_flight", s.InFlight);
        w.WriteBoolean("cooling_down", s.IsCoolingDown(nowTicks));
        if (d.Options.Rpm is { } rpm) w.WriteNumber("rpm", rpm);
        if (d.Options.Tpm is { } tpm) w.WriteNumber("tpm", tpm);
        w.WriteEndObject();
    }
}
