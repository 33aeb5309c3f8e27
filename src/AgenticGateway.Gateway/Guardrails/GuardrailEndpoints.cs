using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Pipeline;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The guardrail runtime's services and routes: the runner, the local types, the <c>guardrails</c> middleware, and
/// LiteLLM's <c>GET /guardrails/list</c> (and <c>/v2/guardrails/list</c>, which LiteLLM's UI reads).
/// </summary>
internal static class GuardrailEndpoints
{
    /// <summary>
    /// Registers the runtime. <paramref name="detectors"/> builds a local detector from a guardrail's definition (null:
    /// not a local type); the remote types register their own <see cref="IGuardrailTypes"/>.
    /// </summary>
    public static void AddGuardrails(IServiceCollection services, Func<GuardrailDefinition, ITextDetector?> detectors)
    {
        services.AddSingleton<IGuardrailTypes>(new LocalGuardrailTypes(detectors));
        services.AddSingleton<GuardrailMetrics>();
        services.AddSingleton<GuardrailRunner>();
        services.AddSingleton<IGuardrailRunner>(sp => sp.GetRequiredService<GuardrailRunner>());
        services.AddSingleton<IGuardrailsMiddleware, GuardrailMiddleware>();
    }

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var path in new[] { "/guardrails/list", "/v2/guardrails/list" })
            app.MapGet(path, (HttpContext c, GuardrailRunner runner) => ListAsync(c, runner)).Gateway(GatewayRoute.Account)
                .WithName(path).WithSummary("List the configured guardrails (LiteLLM's /guardrails/list)");
    }

    /// <summary>
    /// <c>{"guardrails": [{"guardrail_name", "litellm_params": {"guardrail", "mode", "default_on"}, "guardrail_info"}]}</c>:
    /// what a client may ask for in its request's <c>guardrails</c>. Settings (endpoints, keys, patterns) are not shown.
    /// </summary>
    private static async Task ListAsync(HttpContext context, GuardrailRunner runner)
    {
        context.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(context.Response.Body);
        w.WriteStartObject();
        w.WriteStartArray("guardrails");
        foreach (var d in runner.Options.Guardrails)
        {
            w.WriteStartObject();
            w.WriteString("guardrail_name", d.Name);
            w.WriteString("guardrail_id", d.Name);
            w.WriteStartObject("litellm_params");
            w.WriteString("guardrail", d.Type);
            if (d.Modes.Length == 1) w.WriteString("mode", GuardrailNames.Mode(d.Modes[0]));
            else
            {
                w.WriteStartArray("mode");
                foreach (var m in d.Modes) w.WriteStringValue(GuardrailNames.Mode(m));
                w.WriteEndArray();
            }
            w.WriteBoolean("default_on", d.DefaultOn);
            w.WriteEndObject();
            w.WritePropertyName("guardrail_info");
            if (d.InfoJson is { } info) w.WriteRawValue(info); else w.WriteNullValue();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        await w.FlushAsync(context.RequestAborted);
    }
}
