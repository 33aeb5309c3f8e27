using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Admin;

namespace AgenticGateway.Ui;

/// <summary>What the router knows about each deployment right now: health, cooldown, latency and load.</summary>
internal static class DeploymentsView
{
    public static void Write(Utf8JsonWriter w, GatewayRuntime runtime, DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        var minute = ticks / TimeSpan.TicksPerMinute;
        var names = DeploymentNames.Of(runtime);
        w.WriteStartObject();
        w.WriteStartArray("data");
        foreach (var d in runtime.AllDeployments)
        {
            var s = d.State;
            var until = s.CooldownUntilTicks;
            w.WriteStartObject();
            w.WriteString("id", d.Id);
            w.WriteString("name", names[d.Id]);
            w.WriteString("model", d.GroupName);
            w.WriteString("provider", d.ProviderName);
            w.WriteString("upstream_model", d.Options.Model);
            w.WriteString("api_base", d.ApiBaseForDisplay);
            w.WriteString("state", s.IsCoolingDown(ticks) ? "cooldown" : s.IsHealthy ? "healthy" : "half_open");
            if (until > ticks) w.WriteNumber("cooldown_remaining_s", Math.Round(TimeSpan.FromTicks(until - ticks).TotalSeconds, 1));
            else w.WriteNull("cooldown_remaining_s");
            w.WriteNumber("in_flight", s.InFlight);
            WriteMs(w, "latency_ms", s.LatencySeconds);
            WriteMs(w, "ttft_ms", s.TimeToFirstTokenSeconds);
            w.WriteNumber("requests_this_minute", s.RequestsThisMinute(minute));
            w.WriteNumber("tokens_this_minute", s.TokensThisMinute(minute));
            JsonOut.Nullable(w, "rpm", d.Options.Rpm);
            JsonOut.Nullable(w, "tpm", d.Options.Tpm);
            if (d.Options.Weight is { } weight) w.WriteNumber("weight", weight); else w.WriteNull("weight");
            if (d.Price is { } p)
            {
                w.WriteNumber("input_cost_per_token", p.InputPerToken);
                w.WriteNumber("output_cost_per_token", p.OutputPerToken);
            }
            else
            {
                w.WriteNull("input_cost_per_token");
                w.WriteNull("output_cost_per_token");
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("router");
        w.WriteString("strategy", runtime.Router.Strategy);
        w.WriteNumber("allowed_fails", runtime.Router.AllowedFails);
        w.WriteNumber("cooldown_s", runtime.Router.CooldownTime.TotalSeconds);
        w.WriteNumber("num_retries", runtime.Router.NumRetries);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteMs(Utf8JsonWriter w, string name, double seconds)
    {
        if (double.IsNaN(seconds)) w.WriteNull(name); else w.WriteNumber(name, Math.Round(seconds * 1000, 2));
    }
}
