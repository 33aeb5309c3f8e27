using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// An LLM request as its payload step read it: the body (pooled, released when the response is done), what the gateway
/// acts on in it, the model group it resolved to, and what it reserves against the caller's limits. Immutable; the
/// service's outcome is the <see cref="LlmExchange"/>.
/// </summary>
internal sealed class LlmRequest(GatewayRuntime runtime, LlmOperation operation, RequestBody body, ParsedRequest parsed, ModelGroup group, long promptEstimate, Reservation reservation)
{
    /// <summary>The configuration the request started with: a reload meanwhile does not change it.</summary>
    public GatewayRuntime Runtime { get; } = runtime;
    public LlmOperation Operation { get; } = operation;
    public RequestBody Body { get; } = body;
    public ParsedRequest Parsed { get; } = parsed;
    public ModelGroup Group { get; } = group;
    /// <summary>Prompt tokens estimated before the call (0 for callers without limits: nothing needs them).</summary>
    public long PromptEstimate { get; } = promptEstimate;
    /// <summary>The most the request may use and cost on any deployment it may reach.</summary>
    public Reservation Reservation { get; } = reservation;
}

/// <summary>
/// Step 3: the router's parser. An LLM route's body is read (size-limited, pooled), parsed in one pass (model, stream,
/// max_tokens, n), its model resolved to a group the caller may use and that is priced when a budget binds the caller,
/// and what it reserves is worked out. The result is the <see cref="LlmRequest"/> feature. Other routes read their
/// bodies in their services.
/// </summary>
internal sealed class PayloadStep(RequestDelegate next, RuntimeHolder runtimes)
{
    // Not async on the usual path (a small body is already in Kestrel's buffer): an await here would box a state
    // machine per request. A body still arriving is awaited in ReadThenContinueAsync.
    public Task InvokeAsync(HttpContext context)
    {
        var route = context.Route();
        if (route.Payload == RoutePayload.None) return next(context);
        var runtime = runtimes.Current;
        var reading = RequestBody.ReadAsync(context.Request, runtime.Options.Server.MaxRequestBodyBytes, context.RequestAborted);
        if (!reading.IsCompletedSuccessfully) return ReadThenContinueAsync(context, route, runtime, reading);
        return Continue(context, route, runtime, reading.Result);
    }

    private async Task ReadThenContinueAsync(HttpContext context, GatewayRoute route, GatewayRuntime runtime, ValueTask<(RequestBody? Body, ApiError? Error)> reading) =>
        await Continue(context, route, runtime, await reading);

    private Task Continue(HttpContext context, GatewayRoute route, GatewayRuntime runtime, (RequestBody? Body, ApiError? Error) read)
    {
        if (read.Body is not { } body) return PipelineErrors.WriteAsync(context, read.Error!);
        context.Response.RegisterForDispose(body);
        var operation = route.Payload == RoutePayload.LlmCountTokens ? LlmOperation.Messages : route.Payload.Operation()!.Value;
        var caller = context.Features.Get<Caller>()!;
        if (Read(context, route, runtime, caller, operation, body) is { } error) return PipelineErrors.WriteAsync(context, error);
        return next(context);
    }

    private static ApiError? Read(HttpContext context, GatewayRoute route, GatewayRuntime runtime, Caller caller, LlmOperation operation, RequestBody body)
    {
        if (RequestReader.TryParse(body.Span, operation, out var parsed) is { } parseError) return parseError;
        // A key's aliases (LiteLLM's key "aliases") and its team's model_aliases name another model: the alias is what
        // the client asked for, the target is what serves it and what model access is checked against.
        var alias = caller.Identity is { } id && (id.Key.Aliases.Count > 0 || id.Team?.ModelAliases.Count > 0) ? id.Key.AliasTarget(parsed.Model, id.Team) : null;
        if (!runtime.Catalog.TryResolve(alias ?? parsed.Model, out var group)) return ModelNotFound(runtime, parsed.Model, caller);
        if (!caller.MayUse(alias ?? parsed.Model, group.Name, group.AccessGroups))
            return new ApiError(403, $"This key may not use the model '{parsed.Model}'.", "permission_error", "model_not_allowed", "model");
        if (route.Payload == RoutePayload.LlmCountTokens)
        {
            context.Features.Set(new LlmRequest(runtime, operation, body, parsed, group, 0, default));
            return null;
        }
        if (caller.HasBudget && !runtime.Options.Budgets.AllowUnpricedModels && !GroupAccess.IsPriced(group, runtime.Catalog.WildcardName(parsed.Model)))
            return GroupAccess.Unpriced(parsed.Model);
        // Limits and budgets apply to virtual keys: only they need the estimate and the reservation.
        var prompt = caller.Identity is null ? 0 : TokenEstimator.EstimatePromptTokens(body.Span);
        var reservation = caller.Identity is null ? default : Reservation.For(runtime, caller, group, parsed, operation, prompt);
        context.Features.Set(new LlmRequest(runtime, operation, body, parsed, group, prompt, reservation));
        return null;
    }

    /// <summary>The access groups of the group a public model name resolves to (none when it resolves to none).</summary>
    internal static IReadOnlyList<string> AccessGroupsOf(GatewayRuntime runtime, string model) =>
        runtime.Catalog.TryResolve(model, out var g) ? g.AccessGroups : [];

    /// <summary>The 404 for an unknown model, naming only the models this caller may use (as GET /v1/models does).</summary>
    private static ApiError ModelNotFound(GatewayRuntime runtime, string model, Caller caller)
    {
        var available = string.Join(", ", runtime.Catalog.PublicModels().Where(m => caller.MayUse(m.Id, m.Id, AccessGroupsOf(runtime, m.Id))).Select(m => m.Id).Order(StringComparer.Ordinal));
        return new ApiError(404, $"The model '{model}' does not exist on this gateway. Available models: {available}.", "invalid_request_error", "model_not_found", "model");
    }
}
