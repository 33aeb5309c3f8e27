using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Cedar;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Policies;

/// <summary>
/// The routing policies' admin API (docs/policies.md): <c>POST /route</c> (explain a routing decision),
/// <c>POST /evaluate</c> (a Cedar authorization request), <c>GET /policies</c>, <c>POST /policies/reload</c> and
/// <c>GET /routing/models</c> (deployments with live metrics). Admin only: they show configuration and live state.
/// </summary>
internal static class PolicyEndpoints
{
    public static void AddRoutingPolicies(IServiceCollection services)
    {
        services.AddSingleton<PolicyMetrics>();
        services.AddSingleton<RoutingPolicies>();
        services.AddHostedService(sp => sp.GetRequiredService<RoutingPolicies>());
        services.AddSingleton(sp => new PolicyRouter(sp.GetRequiredService<RoutingPolicies>(), sp.GetRequiredService<PolicyMetrics>(),
            sp.GetRequiredService<ILogger<PolicyRouter>>(), sp.GetService<IRoutingDecisionSink>()));
        services.AddSingleton<Services.Llm.IRoutingPolicyHook>(sp => sp.GetRequiredService<PolicyRouter>());
    }

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/route", (HttpContext c, RoutingPolicies p, RuntimeHolder r) => RouteAsync(c, p, r)).Gateway(GatewayRoute.Admin)
            .WithName("/route").WithSummary("Explain which deployment the routing policies choose for a model, user and context");
        app.MapPost("/evaluate", (HttpContext c, RoutingPolicies p, RuntimeHolder r) => EvaluateAsync(c, p, r)).Gateway(GatewayRoute.Admin)
            .WithName("/evaluate").WithSummary("Evaluate a Cedar authorization request (principal, action, resource, context) against the routing policies");
        app.MapGet("/policies", (HttpContext c, RoutingPolicies p) => ListAsync(c, p)).Gateway(GatewayRoute.Admin)
            .WithName("/policies").WithSummary("The loaded routing policies and the last reload's result");
        app.MapPost("/policies/reload", (HttpContext c, RoutingPolicies p) => ReloadAsync(c, p)).Gateway(GatewayRoute.Admin)
            .WithName("/policies/reload").WithSummary("Reload the routing policy files (the old set stays when any has an error)");
        app.MapGet("/routing/models", (HttpContext c, RuntimeHolder r, RoutingPolicies p) => ModelsAsync(c, r, p)).Gateway(GatewayRoute.Admin)
            .WithName("/routing/models").WithSummary("Every deployment with its live routing metrics");
    }

    // /route and /evaluate describe one request: a mebibyte is far beyond any real one and bounds the parse (413 past it).
    internal const long MaxBodyBytes = 1024 * 1024;
    internal const int MaxEntities = 10_000;

    private static async Task RouteAsync(HttpContext context, RoutingPolicies policies, RuntimeHolder runtimes)
    {
        var runtime = runtimes.Current;
        var (body, error) = await JsonBody.ReadObjectAsync(context.Request, Math.Min(runtime.Options.Server.MaxRequestBodyBytes, MaxBodyBytes), context.RequestAborted);
        if (error is not null)
        {
            await PipelineErrors.WriteAsync(context, error);
            return;
        }
        var root = body!.Value;
        if (!root.TryGetProperty("requested_model", out var m) || m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 } model)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Missing required parameter: 'requested_model' (a string).", "requested_model", "missing_required_parameter"));
            return;
        }
        string? userId = null, teamId = null;
        if ((OptionalString(root, "user_id", ref userId) ?? OptionalString(root, "team_id", ref teamId)) is { } badField)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid '{badField}': expected a string.", badField, "invalid_type"));
            return;
        }
        var extra = new List<KeyValuePair<string, CedarValue>>();
        if (root.TryGetProperty("budget_remaining", out var budget) && budget.ValueKind != JsonValueKind.Null)
        {
            if (budget.ValueKind != JsonValueKind.Number || !budget.TryGetDecimal(out var remaining))
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'budget_remaining': expected a number.", "budget_remaining", "invalid_type"));
                return;
            }
            extra.Add(new("cost_budget_remaining", CedarValue.Decimal(remaining)));
        }
        if (root.TryGetProperty("latency_sla_ms", out var sla) && sla.ValueKind != JsonValueKind.Null)
        {
            if (sla.ValueKind != JsonValueKind.Number || !sla.TryGetInt64(out var ms) || ms <= 0)
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'latency_sla_ms': expected a positive whole number of milliseconds.", "latency_sla_ms", "invalid_type"));
                return;
            }
            extra.Add(new("latency_sla_ms", CedarValue.Long(ms)));
        }
        if (root.TryGetProperty("context", out var given) && given.ValueKind != JsonValueKind.Null)
        {
            if (!PolicyJson.TryReadRecord(given, out var record, out var contextError))
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid 'context': {contextError}.", "context", "invalid_type"));
                return;
            }
            extra.AddRange(record.Attributes);
        }
        if (!runtime.Catalog.TryResolve(model, out var group))
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"The model '{model}' does not exist", "invalid_request_error", "model_not_found", "requested_model"));
            return;
        }

        var snapshot = policies.Current;
        var principal = PrincipalEntity.ForUser(userId, teamId);
        var cedarContext = RoutingContext.Build(new RoutingContext.Inputs(null, null, 0, model, group.Name, LlmOperation.ChatCompletions, false, null), policies.Time.GetUtcNow(), extra);
        var candidates = policies.EntitiesOf(group);
        var all = group.Deployments.Length >= 64 ? ulong.MaxValue : (1UL << group.Deployments.Length) - 1;
        var verdict = RoutingSelection.Select(snapshot?.Set ?? PolicySet.Empty, principal, candidates, all, cedarContext, EntityStore.Empty, explain: true);
        var denied = verdict.AllForbidden(all);
        var dryRun = snapshot?.Options.DryRun == true;
        Deployment? chosen = null;
        if (!denied || dryRun)
        {
            var nowTicks = policies.Time.GetUtcNow().UtcTicks;
            var input = new RoutingInput(false, nowTicks / TimeSpan.TicksPerMinute);
            var allowed = denied ? all : verdict.Allowed;
            // An explanation must not move the live strategy (round-robin counters, probes): a side-effect-free choice.
            var index = group.FirstAvailable(verdict.Preferred != 0 && !denied ? verdict.Preferred : allowed, input.NowMinute, nowTicks);
            if (index < 0) index = group.FirstAvailable(allowed, input.NowMinute, nowTicks);
            chosen = index >= 0 ? group.Deployments[index] : null;
        }
        var decision = dryRun ? RoutingDecision.DryRunDecision : denied ? RoutingDecision.Deny : RoutingDecision.Allow;
        ImmutableArray<string> named = denied ? verdict.ForbiddingPolicies : verdict.DecidingPolicy is { } d ? [d] : [];
        await PolicyJson.WriteAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("model_group", group.Name);
            if (chosen is null) { w.WriteNull("deployment"); w.WriteNull("provider"); }
            else { w.WriteString("deployment", chosen.Id); w.WriteString("provider", chosen.ProviderName); }
            w.WriteString("decision", decision);
            if (dryRun) w.WriteString("enforced_decision", denied ? RoutingDecision.Deny : RoutingDecision.Allow);
            PolicyJson.Strings(w, "policies", named);
            w.WriteStartArray("candidates");
            foreach (var c in verdict.Candidates ?? [])
            {
                w.WriteStartObject();
                w.WriteString("deployment", c.Deployment);
                w.WriteString("provider", c.Provider);
                w.WriteBoolean("allowed", c.Allowed);
                w.WriteBoolean("preferred", c.Preferred);
                PolicyJson.Strings(w, "reasons", c.Reasons);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            PolicyJson.Strings(w, "errors", verdict.Errors);
            w.WriteEndObject();
        });
    }

    private static string? OptionalString(JsonElement root, string name, ref string? value)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.String) return name;
        value = e.GetString();
        return null;
    }

    private static async Task EvaluateAsync(HttpContext context, RoutingPolicies policies, RuntimeHolder runtimes)
    {
        var runtime = runtimes.Current;
        var (body, error) = await JsonBody.ReadObjectAsync(context.Request, Math.Min(runtime.Options.Server.MaxRequestBodyBytes, MaxBodyBytes), context.RequestAborted);
        if (error is not null)
        {
            await PipelineErrors.WriteAsync(context, error);
            return;
        }
        var root = body!.Value;
        var given = new Dictionary<EntityUid, ICedarEntity>();
        if (root.TryGetProperty("entities", out var entities) && entities.ValueKind != JsonValueKind.Null)
        {
            if (entities.ValueKind != JsonValueKind.Array)
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'entities': expected a list of {uid, attrs, parents}.", "entities", "invalid_type"));
                return;
            }
            if (entities.GetArrayLength() > MaxEntities)
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid 'entities': more than {MaxEntities} entities.", "entities", "too_many_entities"));
                return;
            }
            var n = 0;
            foreach (var entity in entities.EnumerateArray())
            {
                var read = ReadEntity(entity, runtime, policies);
                if (read.Error is { } entityError)
                {
                    await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid 'entities[{n}]': {entityError}.", "entities", "invalid_entity"));
                    return;
                }
                given[read.Entity!.Uid] = read.Entity;
                n++;
            }
        }
        var parts = new ICedarEntity[3];
        var names = new[] { "principal", "action", "resource" };
        for (var i = 0; i < 3; i++)
        {
            EntityUid uid = default;
            string? uidError = "required";
            if (!root.TryGetProperty(names[i], out var part) || !PolicyJson.TryReadUid(part, out uid, out uidError))
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid or missing '{names[i]}': {uidError}.", names[i], "invalid_entity"));
                return;
            }
            parts[i] = given.TryGetValue(uid, out var known) ? known : Configured(uid, runtime, policies) ?? new CedarEntity(uid, CedarRecord.Empty, []);
        }
        if (!PolicyJson.TryReadRecord(root.TryGetProperty("context", out var contextElement) ? contextElement : null, out var cedarContext, out var contextError))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid 'context': {contextError}.", "context", "invalid_type"));
            return;
        }
        var set = policies.Current?.Set ?? PolicySet.Empty;
        var result = set.IsAuthorized(new CedarRequest(parts[0], parts[1], parts[2], cedarContext), new EntityStore(given.Values));
        await PolicyJson.WriteAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("decision", result.Allowed ? RoutingDecision.Allow : RoutingDecision.Deny);
            PolicyJson.Strings(w, "policies", result.DeterminingPolicies);
            w.WriteStartArray("errors");
            foreach (var e in result.Errors)
            {
                w.WriteStartObject();
                w.WriteString("policy", e.PolicyId);
                w.WriteString("message", e.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>A configured deployment named as <c>Deployment::"id"</c>: its live attributes.</summary>
    private static ICedarEntity? Configured(EntityUid uid, GatewayRuntime runtime, RoutingPolicies policies, CedarRecord? overrides = null)
    {
        if (uid.Type != RoutingEntities.DeploymentType) return null;
        var d = runtime.AllDeployments.FirstOrDefault(d => d.Id == uid.Id);
        return d is null ? null : new DeploymentEntity(d.Options, d.State, policies.Time, overrides);
    }

    private readonly record struct EntityRead(ICedarEntity? Entity, string? Error);

    /// <summary>One entity in Cedar's JSON entity format: <c>{"uid", "attrs", "parents"}</c>.</summary>
    private static EntityRead ReadEntity(JsonElement e, GatewayRuntime runtime, RoutingPolicies policies)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("uid", out var uidElement)) return new(null, "an entity needs a uid");
        if (!PolicyJson.TryReadUid(uidElement, out var uid, out var error)) return new(null, error);
        if (!PolicyJson.TryReadRecord(e.TryGetProperty("attrs", out var attrs) ? attrs : null, out var record, out error)) return new(null, "attrs: " + error);
        var parents = ImmutableArray.CreateBuilder<EntityUid>();
        if (e.TryGetProperty("parents", out var ps) && ps.ValueKind != JsonValueKind.Null)
        {
            if (ps.ValueKind != JsonValueKind.Array) return new(null, "parents: expected a list of entities");
            foreach (var p in ps.EnumerateArray())
            {
                if (!PolicyJson.TryReadUid(p, out var parent, out error)) return new(null, "parents: " + error);
                parents.Add(parent);
            }
        }
        // A configured deployment keeps its live attributes; those given override them.
        return new(Configured(uid, runtime, policies, record) ?? new CedarEntity(uid, record, parents.ToImmutable()), null);
    }

    private static Task ListAsync(HttpContext context, RoutingPolicies policies)
    {
        var snapshot = policies.Current;
        var last = policies.LastReload;
        return PolicyJson.WriteAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("enabled", snapshot is not null);
            if (snapshot is not null)
            {
                w.WriteString("path", snapshot.Options.Path);
                w.WriteBoolean("dry_run", snapshot.Options.DryRun);
                w.WriteNumber("decision_sample_rate", snapshot.Options.DecisionSampleRate);
                w.WriteString("loaded_at", snapshot.LoadedAt);
                PolicyJson.Strings(w, "files", snapshot.Files);
            }
            w.WriteNumber("loaded", snapshot?.Set.Policies.Length ?? 0);
            w.WriteStartArray("policies");
            foreach (var p in snapshot?.Set.Policies ?? [])
            {
                w.WriteStartObject();
                w.WriteString("id", p.Id);
                w.WriteString("effect", p.Effect == PolicyEffect.Permit ? "permit" : "forbid");
                w.WriteNumber("priority", p.Priority);
                w.WriteString("file", p.File);
                w.WriteNumber("line", p.Line);
                w.WriteNumber("column", p.Column);
                w.WriteStartObject("annotations");
                foreach (var (k, v) in p.Annotations) w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteString("text", p.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (last is not null)
            {
                w.WriteStartObject("last_reload");
                w.WriteBoolean("succeeded", last.Succeeded);
                w.WriteString("at", last.At);
                w.WriteString("trigger", last.Trigger);
                w.WriteNumber("loaded", last.Loaded);
                PolicyJson.Strings(w, "errors", last.Errors);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    private static Task ReloadAsync(HttpContext context, RoutingPolicies policies)
    {
        var result = policies.Reload("api");
        if (result.Succeeded)
        {
            return PolicyJson.WriteAsync(context, 200, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("loaded", result.Loaded);
                PolicyJson.Strings(w, "files", result.Files);
                PolicyJson.Strings(w, "policies", result.Policies);
                w.WriteEndObject();
            });
        }
        var notConfigured = policies.Current is null && result.Files.IsEmpty && result.Errors is [var only] && only.StartsWith("routing_policies", StringComparison.Ordinal);
        var message = notConfigured ? "Routing policies are not configured (routing_policies in the config)." : $"The routing policies were not reloaded ({result.Errors.Length} error(s)); the {result.Kept} loaded before stay in force.";
        return PolicyJson.WriteAsync(context, 400, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", "invalid_request_error");
            w.WriteString("code", notConfigured ? "routing_policies_not_configured" : "policy_load_failed");
            w.WriteEndObject();
            PolicyJson.Strings(w, "errors", result.Errors);
            w.WriteNumber("loaded", 0);
            w.WriteNumber("kept", result.Kept);
            w.WriteEndObject();
        });
    }

    private static Task ModelsAsync(HttpContext context, RuntimeHolder runtimes, RoutingPolicies policies)
    {
        var runtime = runtimes.Current;
        var nowTicks = policies.Time.GetUtcNow().UtcTicks;
        return PolicyJson.WriteAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var d in runtime.AllDeployments) Services.Llm.DeploymentMetricsJson.Write(w, d, nowTicks);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }
}
