using System.Globalization;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Spend;
using AgenticGateway.Pricing;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// Spend reporting in LiteLLM's shapes (/spend/logs, /spend/keys, /global/spend/report), seed 000's /v1/usage and the
/// audit log (/audit/logs). The model catalogue (/model/info, /model_group/info) is in Services/Models.
/// </summary>
internal static class SpendEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var spend = routes.ServiceProvider.GetRequiredService<SpendStore>();
        var keys = routes.ServiceProvider.GetRequiredService<IKeyStore>();
        var audit = routes.ServiceProvider.GetRequiredService<AuditLog>();
        var admin = routes.MapGroup("").Gateway(GatewayRoute.Admin);
        static RequestDelegate Admin(Func<KeyRequest, CancellationToken, Task<KeyResult>> action) => c => KeyEndpoints.AdminAsync(c, action);

        admin.MapGet("/spend/logs", Admin((r, ct) => LogsAsync(spend, r, ct)));
        admin.MapGet("/spend/keys", Admin((r, ct) => KeysAsync(keys, r, ct)));
        admin.MapGet("/global/spend/report", Admin((r, ct) => ReportAsync(spend, r, ct)));
        admin.MapGet("/audit/logs", Admin((r, ct) => AuditAsync(audit, r, ct)));
        // What any caller may read about itself.
        var account = routes.MapGroup("").Gateway(GatewayRoute.Account);
        account.MapGet("/v1/usage", c => UsageAsync(c, spend));
        account.MapGet("/usage", c => UsageAsync(c, spend));
    }

    private static async Task<KeyResult> LogsAsync(SpendStore spend, KeyRequest r, CancellationToken ct)
    {
        if (Query(r) is not { } q) return KeyResult.Fail(r.Error!);
        var logs = await spend.LogsAsync(q, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var l in logs) WriteLog(w, l);
            w.WriteEndArray();
        });
    }

    private static async Task<KeyResult> KeysAsync(IKeyStore keys, KeyRequest r, CancellationToken ct)
    {
        var limit = int.TryParse(r.String("limit"), out var n) && n is > 0 and <= 10_000 ? n : 1000;
        var (list, _) = await keys.ListAsync(new KeyQuery(PageSize: limit, BySpend: true), ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var k in list) KeyManager.WriteKey(w, k, null);
            w.WriteEndArray();
        });
    }

    /// <summary>LiteLLM's report: per day (or ?granularity=hour|month), the spend of each team (or ?group_by=api_key|user|model).</summary>
    private static async Task<KeyResult> ReportAsync(SpendStore spend, KeyRequest r, CancellationToken ct)
    {
        if (Query(r) is not { } q) return KeyResult.Fail(r.Error!);
        var (column, listName, nameField) = (r.String("group_by") ?? "team") switch
        {
            "team" => ("team_id", "teams", "team_name"),
            "api_key" => ("api_key", "keys", "api_key"),
            "user" or "customer" => ("user_id", "users", "user_id"),
            "model" => ("model", "models", "model"),
            var other => (null, null, other),
        };
        if (column is null) return KeyResult.Fail(ApiError.BadRequest($"group_by is team, api_key, user or model, not '{nameField}'.", "group_by"));
        if (Granularity(r) is not { } bucket) return KeyResult.Fail(r.Error!);
        var rows = await spend.AggregateAsync(q, bucket, column, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var day in rows.GroupBy(x => x.Bucket))
            {
                w.WriteStartObject();
                w.WriteString("group_by_day", day.Key);
                w.WriteNumber("total_spend", Money.FromNanos(day.Sum(x => x.CostNanos)));
                w.WriteStartArray(listName!);
                foreach (var g in day)
                {
                    w.WriteStartObject();
                    w.WriteString(nameField, g.Group);
                    WriteTotals(w, g);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static async Task<KeyResult> AuditAsync(AuditLog audit, KeyRequest r, CancellationToken ct)
    {
        var limit = int.TryParse(r.String("limit"), out var n) && n is > 0 and <= 10_000 ? n : 100;
        var entries = await audit.ListAsync(r.String("object_type"), r.String("object_id"), limit, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteNumber("id", e.Id);
                w.WriteString("at", e.At);
                w.WriteString("actor", e.Actor);
                w.WriteString("action", e.Action);
                w.WriteString("object_type", e.ObjectType);
                w.WriteString("object_id", e.ObjectId);
                WriteJsonOrNull(w, "before", e.BeforeValue);
                WriteJsonOrNull(w, "after", e.AfterValue);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// Seed 000's usage summary: {"tokens_used", "cost_usd", "requests"} for a key, with a breakdown by hour, day or
    /// month. A key may read its own usage (?key= may be omitted); the master key may read any key's.
    /// </summary>
    private static async Task UsageAsync(HttpContext context, SpendStore spend)
    {
        var caller = context.Features.Get<Caller>();
        var r = new KeyRequest(null, context.Request.Query);
        var named = r.String("key");
        var token = named is null ? caller!.Key?.Token : VirtualKey.TokenOf(named);
        if (token is null)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Name the key in ?key=.", "key"));
            return;
        }
        if (!caller!.IsAdmin && caller.Key?.Token != token)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(403, "A key may only read its own usage.", "permission_error", "not_own_key", "key"));
            return;
        }
        if (Query(r) is not { } q || Granularity(r, "day") is not { } bucket)
        {
            await PipelineErrors.WriteAsync(context, r.Error!);
            return;
        }
        q = q with { ApiKey = token };
        IReadOnlyList<SpendAggregate> breakdown;
        try
        {
            breakdown = await spend.AggregateAsync(q, bucket, null, context.RequestAborted);
        }
        catch (System.Data.Common.DbException ex)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(503, $"The gateway's database is unavailable: {ex.Message}", "server_error", "database_unavailable"));
            return;
        }
        var total = new SpendAggregate("total", "", breakdown.Sum(b => b.PromptTokens), breakdown.Sum(b => b.CompletionTokens), breakdown.Sum(b => b.CostNanos), breakdown.Sum(b => b.Requests));
        var result = KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", token);
            w.WriteNumber("tokens_used", total.PromptTokens + total.CompletionTokens);
            w.WriteNumber("cost_usd", Money.FromNanos(total.CostNanos));
            w.WriteNumber("requests", total.Requests);
            w.WriteNumber("prompt_tokens", total.PromptTokens);
            w.WriteNumber("completion_tokens", total.CompletionTokens);
            w.WriteString("granularity", bucket);
            w.WriteStartArray("breakdown");
            foreach (var b in breakdown)
            {
                w.WriteStartObject();
                w.WriteString("period", b.Bucket);
                WriteTotals(w, b);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(result.Json);
    }

    private static SpendQuery? Query(KeyRequest r)
    {
        var apiKey = r.String("api_key") is { } named ? VirtualKey.TokenOf(named) : null;
        var start = Date(r, "start_date");
        var end = Date(r, "end_date");
        var limit = int.TryParse(r.String("limit"), out var n) && n is > 0 and <= 10_000 ? n : 1000;
        if (r.Error is not null) return null;
        // An end date names a whole day: include it.
        if (end is { } e && e.TimeOfDay == TimeSpan.Zero && r.String("end_date") is { Length: 10 }) end = e.AddDays(1);
        return new SpendQuery(apiKey, r.String("user_id"), r.String("team_id"), r.String("request_id"), start, end, limit);
    }

    private static DateTimeOffset? Date(KeyRequest r, string name)
    {
        var text = r.String(name);
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)) return d;
        r.Errors.Add($"'{name}' must be a date (YYYY-MM-DD) or an ISO-8601 time, got '{text}'");
        return null;
    }

    private static string? Granularity(KeyRequest r, string fallback = "day")
    {
        var g = r.String("granularity") ?? r.String("period") ?? fallback;
        if (g is "hour" or "day" or "month") return g;
        r.Errors.Add($"'granularity' is hour, day or month, not '{g}'");
        return null;
    }

    private static void WriteTotals(Utf8JsonWriter w, SpendAggregate a)
    {
        w.WriteNumber("total_spend", Money.FromNanos(a.CostNanos));
        w.WriteNumber("total_tokens", a.PromptTokens + a.CompletionTokens);
        w.WriteNumber("prompt_tokens", a.PromptTokens);
        w.WriteNumber("completion_tokens", a.CompletionTokens);
        w.WriteNumber("requests", a.Requests);
    }

    private static void WriteLog(Utf8JsonWriter w, SpendLog l)
    {
        w.WriteStartObject();
        w.WriteString("request_id", l.RequestId);
        w.WriteString("call_type", l.CallType);
        w.WriteString("api_key", l.ApiKey);
        w.WriteNumber("spend", l.Cost);
        w.WriteNumber("total_tokens", l.PromptTokens + l.CompletionTokens);
        w.WriteNumber("prompt_tokens", l.PromptTokens);
        w.WriteNumber("completion_tokens", l.CompletionTokens);
        w.WriteString("startTime", l.StartTime);
        w.WriteString("endTime", l.EndTime);
        w.WriteString("model", l.Model);
        JsonOut.Nullable(w, "model_group", l.ModelGroup);
        JsonOut.Nullable(w, "model_id", l.Deployment);
        JsonOut.Nullable(w, "custom_llm_provider", l.Provider);
        JsonOut.Nullable(w, "user", l.UserId);
        JsonOut.Nullable(w, "team_id", l.TeamId);
        JsonOut.Nullable(w, "key_alias", l.KeyAlias);
        w.WriteString("status", l.Status is >= 200 and < 300 ? "success" : "failure");
        w.WriteNumber("http_status", l.Status);
        w.WriteNumber("latency_ms", l.LatencyMs);
        w.WriteBoolean("stream", l.Stream);
        JsonOut.Strings(w, "request_tags", l.Tags);
        JsonOut.Nullable(w, "response_id", l.ResponseId);
        JsonOut.Nullable(w, "organization_id", l.OrganizationId);
        // LiteLLM writes cache_hit as the string "True" or "False".
        w.WriteString("cache_hit", l.CacheHit ? "True" : "False");
        // LiteLLM's SpendLogsMetadata fields that scripts read (test_spend_logs.py reads user_api_key_org_id and _team_id).
        w.WriteStartObject("metadata");
        w.WriteString("user_api_key", l.ApiKey);
        JsonOut.Nullable(w, "user_api_key_alias", l.KeyAlias);
        JsonOut.Nullable(w, "user_api_key_team_id", l.TeamId);
        JsonOut.Nullable(w, "user_api_key_org_id", l.OrganizationId);
        JsonOut.Nullable(w, "user_api_key_user_id", l.UserId);
        JsonOut.Nullable(w, "user_api_key_team_alias", l.TeamAlias);
        if (l.GuardrailInformation is { } guardrails) JsonOut.Raw(w, "guardrail_information", guardrails);
        w.WriteString("status", l.Status is >= 200 and < 300 ? "success" : "failure");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteJsonOrNull(Utf8JsonWriter w, string name, string? json)
    {
        if (json is null) w.WriteNull(name); else JsonOut.Raw(w, name, json);
    }
}
