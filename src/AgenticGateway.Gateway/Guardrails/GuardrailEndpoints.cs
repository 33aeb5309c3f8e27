using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
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
        services.AddSingleton<GuardrailMiddleware>();
        services.AddKeyedSingleton<IRouterMiddleware>(GuardrailMiddleware.Type, (sp, _) => sp.GetRequiredService<GuardrailMiddleware>());
    }

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var path in new[] { "/guardrails/list", "/v2/guardrails/list" })
            app.MapGet(path, (HttpContext c, GuardrailRunner runner) => ListAsync(c, runner)).Gateway(GatewayRoute.Account)
                .WithName(path).WithSummary("List the configured guardrails (LiteLLM's /guardrails/list)");
        app.MapPost("/guardrails/apply_guardrail", (HttpContext c, GuardrailRunner runner, Runtime.RuntimeHolder runtimes) => ApplyAsync(c, runner, runtimes))
            .Gateway(GatewayRoute.Account).WithName("/guardrails/apply_guardrail").WithSummary("Run one guardrail on a text (LiteLLM's /guardrails/apply_guardrail)");
    }

    /// <summary>
    /// LiteLLM's <c>POST /guardrails/apply_guardrail</c>: <c>{"guardrail_name", "text", "language"?, "entities"?}</c> in,
    /// <c>{"response_text"}</c> out (the text as the guardrail leaves it: masked, or the same). A block is a 400 naming
    /// the guardrail. The guardrail runs in its first configured mode, counted in the metrics like any other check; a
    /// dry-run guardrail only reports. A caller whose team may not change its guardrails may only run the ones that
    /// apply to it. <c>language</c> and <c>entities</c> are accepted; the guardrail's own configuration decides what it finds.
    /// </summary>
    private static async Task ApplyAsync(HttpContext context, GuardrailRunner runner, Runtime.RuntimeHolder runtimes)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(context.Request, runtimes.Current.Options.Server.MaxRequestBodyBytes, context.RequestAborted);
        if (error is not null)
        {
            await PipelineErrors.WriteAsync(context, error);
            return;
        }
        var root = body!.Value;
        if (!root.TryGetProperty("guardrail_name", out var nameValue) || nameValue.ValueKind != JsonValueKind.String || nameValue.GetString() is not { Length: > 0 } name)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Missing required parameter: 'guardrail_name' (a string).", "guardrail_name", "missing_required_parameter"));
            return;
        }
        if (!root.TryGetProperty("text", out var textValue) || textValue.ValueKind != JsonValueKind.String)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Missing required parameter: 'text' (a string).", "text", "missing_required_parameter"));
            return;
        }
        if (root.TryGetProperty("language", out var language) && language.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'language': expected a string.", "language", "invalid_type"));
            return;
        }
        if (root.TryGetProperty("entities", out var entities) && entities.ValueKind is not JsonValueKind.Null
            && (entities.ValueKind != JsonValueKind.Array || entities.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String)))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'entities': expected a list of strings.", "entities", "invalid_type"));
            return;
        }
        var caller = context.Features.Get<Keys.Caller>() ?? Keys.Caller.Anonymous;
        var scope = GuardrailScope.Of(caller);
        if (!runner.Current.ByName.TryGetValue(name, out var guardrail) || guardrail.Definition.Modes.Length == 0
            || (!scope.MayModify && !((guardrail.Definition.DefaultOn && !scope.DisableGlobal) || scope.Names.Contains(name))))
        {
            // A guardrail the caller may not run is answered as one that does not exist: its name is not confirmed.
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"Guardrail '{name}' not found.", "not_found_error", "guardrail_not_found", "guardrail_name"));
            return;
        }
        var mode = guardrail.Definition.Modes[0];
        var (verdict, decision) = await runner.CheckAsync(guardrail, new GuardrailCheck(mode, [textValue.GetString()!], caller, null, context.RequestId()), context.RequestAborted);
        var text = textValue.GetString()!;
        if (!decision.DryRun)
        {
            if (verdict.Action == GuardrailAction.Block)
            {
                await PipelineErrors.WriteAsync(context, GuardrailMiddleware.Violation(name, verdict.Reason, "text"));
                return;
            }
            if (verdict.Action == GuardrailAction.Mask && verdict.Masked is [var masked]) text = masked;
        }
        context.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(context.Response.Body);
        w.WriteStartObject();
        w.WriteString("response_text", text);
        w.WriteEndObject();
        await w.FlushAsync(context.RequestAborted);
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
