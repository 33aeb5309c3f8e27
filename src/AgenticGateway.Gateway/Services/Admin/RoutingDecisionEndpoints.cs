using System.Globalization;
using AgenticGateway.Pipeline;
using AgenticGateway.Policies;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// <c>GET /routing/decisions?limit=&amp;model=&amp;decision=&amp;since=</c> (admin): the stored routing decisions, newest
/// first, as <c>{"object": "list", "data": [...]}</c>. A bad filter is a 400 in the OpenAI error shape naming it. Beside
/// the other admin reports (spend, audit) rather than in Policies/: the request path's services use the policy router,
/// so Policies/ may not use Services/.
/// </summary>
internal static class RoutingDecisionEndpoints
{
    public const int DefaultLimit = 100;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var store = routes.ServiceProvider.GetRequiredService<RoutingDecisionStore>();
        static RequestDelegate Admin(Func<KeyRequest, CancellationToken, Task<KeyResult>> action) => c => KeyEndpoints.AdminAsync(c, action);
        routes.MapGroup("").Gateway(GatewayRoute.Admin)
            .MapGet("/routing/decisions", Admin((r, ct) => ListAsync(store, r, ct)))
            .WithSummary("Routing decisions the policies made, newest first (filters: model, decision, since; limit)");
    }

    private static async Task<KeyResult> ListAsync(RoutingDecisionStore store, KeyRequest r, CancellationToken ct)
    {
        if (Query(r) is not { } query) return KeyResult.Fail(r.Error!);
        var decisions = await store.QueryAsync(query, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var d in decisions) RoutingDecisionJson.WriteDecision(w, d);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    internal static RoutingDecisionQuery? Query(KeyRequest r)
    {
        var limit = DefaultLimit;
        if (r.String("limit") is { } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > RoutingDecisionQuery.MaxLimit))
            r.Errors.Add($"'limit' must be an integer from 1 to {RoutingDecisionQuery.MaxLimit}, got '{limitText}'");
        var decision = r.String("decision");
        if (decision is not (null or RoutingDecision.Allow or RoutingDecision.Deny or RoutingDecision.DryRunDecision))
            r.Errors.Add($"'decision' is {RoutingDecision.Allow}, {RoutingDecision.Deny} or {RoutingDecision.DryRunDecision}, not '{decision}'");
        DateTimeOffset? since = null;
        if (r.String("since") is { } sinceText)
        {
            // An ISO-8601 time or date (UTC unless it says otherwise), or Unix seconds.
            if (long.TryParse(sinceText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= 253402300799)
                since = DateTimeOffset.FromUnixTimeSeconds(seconds);
            else if (DateTimeOffset.TryParse(sinceText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
                since = t;
            else r.Errors.Add($"'since' must be an ISO-8601 time (2026-12-07T05:00:00Z), a date or Unix seconds, got '{sinceText}'");
        }
        var model = r.String("model") is { Length: > 0 } m ? m : null;
        if (model is { Length: > 512 }) r.Errors.Add("'model' is longer than 512 characters");
        return r.Error is null ? new RoutingDecisionQuery(limit, model, decision, since) : null;
    }
}
