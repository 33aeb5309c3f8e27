using System.Buffers;
using System.Globalization;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Keys;
using AgenticGateway.Yaml;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// LiteLLM's key management API, same paths and field names, so existing scripts keep working:
/// /key/generate, /key/update, /key/info, /key/list, /key/delete, /key/block, /key/unblock, /key/regenerate.
/// Only the master key may manage; a virtual key may read its own /key/info, its user's /user/info and its team's
/// /team/info (LiteLLM's self-service reads). A key is named by its secret ("sk-...") or by its token (the hash).
/// </summary>
internal static class KeyEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var m = routes.ServiceProvider.GetRequiredService<KeyManager>();
        var ids = routes.ServiceProvider.GetRequiredService<IdentityManager>();
        var orgs = routes.ServiceProvider.GetRequiredService<OrganizationManager>();
        var app = routes.MapGroup("").Gateway(GatewayRoute.Admin);
        static RequestDelegate Admin(Func<KeyRequest, CancellationToken, Task<KeyResult>> action) => c => AdminAsync(c, action);

        app.MapPost("/key/generate", Admin(m.GenerateAsync));
        app.MapPost("/key/update", Admin(m.UpdateAsync));
        // Self-service reads: any caller, each answer scoped to what the caller owns. Without client auth every caller
        // would be the admin, so they are refused then, as the management routes are.
        var runtimes = routes.ServiceProvider.GetRequiredService<RuntimeHolder>();
        var self = routes.MapGroup("").Gateway(GatewayRoute.Account);
        RequestDelegate Self(Func<KeyRequest, CancellationToken, Task<KeyResult>> action) => c => ClientAuth.IsOn(runtimes.Current)
            ? AdminAsync(c, action)
            : PipelineErrors.WriteAsync(c, new ApiError(403, "Key management needs a master key: set master_key (or general_settings.master_key), or JWT auth with an admin scope.",
                "permission_error", "no_master_key"));
        self.MapGet("/key/info", Self(m.InfoAsync));
        self.MapGet("/user/info", Self(ids.UserInfoAsync));
        self.MapGet("/team/info", Self(ids.TeamInfoAsync));
        app.MapGet("/key/list", Admin(m.ListAsync));
        app.MapPost("/key/delete", Admin(m.DeleteAsync));
        app.MapPost("/key/block", Admin((x, ct) => m.SetBlockedAsync(x, true, ct)));
        app.MapPost("/key/unblock", Admin((x, ct) => m.SetBlockedAsync(x, false, ct)));
        app.MapPost("/key/regenerate", Admin(m.RegenerateAsync));
        app.MapPost("/key/{key}/regenerate", Admin(m.RegenerateAsync));

        app.MapPost("/team/new", Admin(ids.NewTeamAsync));
        app.MapPost("/team/update", Admin(ids.UpdateTeamAsync));
        app.MapGet("/team/list", Admin(ids.ListTeamsAsync));
        app.MapPost("/team/delete", Admin(ids.DeleteTeamsAsync));
        app.MapPost("/team/member_add", Admin(ids.AddMemberAsync));
        app.MapPost("/team/member_delete", Admin(ids.DeleteMemberAsync));
        app.MapPost("/team/member_update", Admin(ids.UpdateMemberAsync));
        // LiteLLM's organization routes; update is PATCH and delete DELETE there, and older clients POST both (and list).
        app.MapPost("/organization/new", Admin(orgs.NewAsync));
        app.MapGet("/organization/info", Admin(orgs.InfoAsync));
        app.MapPost("/organization/info", Admin(orgs.InfoAsync));
        app.MapGet("/organization/list", Admin(orgs.ListAsync));
        app.MapPost("/organization/list", Admin(orgs.ListAsync));
        app.MapMethods("/organization/update", ["PATCH", "POST"], Admin(orgs.UpdateAsync));
        app.MapMethods("/organization/delete", ["DELETE", "POST"], Admin(orgs.DeleteAsync));
        app.MapPost("/organization/member_add", Admin(orgs.MemberAddAsync));
        app.MapPost("/user/new", Admin(ids.NewUserAsync));
        app.MapPost("/user/update", Admin(ids.UpdateUserAsync));
        app.MapPost("/user/delete", Admin(ids.DeleteUsersAsync));
    }

    /// <summary>Runs a management action (the pipeline has checked the caller is the admin): body parsing, and the store's failures as clean errors.</summary>
    internal static async Task AdminAsync(HttpContext context, Func<KeyRequest, CancellationToken, Task<KeyResult>> action)
    {
        JsonElement? body = null;
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            ApiError? bodyError;
            (body, bodyError) = await JsonBody.ReadObjectAsync(context.Request, 1 << 20, context.RequestAborted);
            if (bodyError is not null) { await PipelineErrors.WriteAsync(context, bodyError); return; }
        }
        KeyResult result;
        try
        {
            result = await action(new KeyRequest(body, context.Request.Query, context.Request.RouteValues["key"] as string) { Caller = context.Features.Get<Caller>() }, context.RequestAborted);
        }
        catch (System.Data.Common.DbException ex)
        {
            // The database is down or refused the change: say so in the API's shape, never as a bare 500.
            await PipelineErrors.WriteAsync(context, new ApiError(503, $"The gateway's database is unavailable: {ex.Message}", "server_error", "database_unavailable"));
            return;
        }
        if (result.Error is not null)
        {
            await PipelineErrors.WriteAsync(context, result.Error);
            return;
        }
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(result.Json);
    }
}

/// <summary>The parsed body (if any) and query string of a management request, with typed, validated reads.</summary>
internal sealed class KeyRequest(JsonElement? body, IQueryCollection query, string? routeKey = null)
{
    /// <summary>The key named in the path (/key/{key}/regenerate), if any.</summary>
    public string? RouteKey => routeKey;

    /// <summary>Who is acting, for the audit log. Only the master key manages today.</summary>
    public string Actor { get; init; } = "master_key";

    /// <summary>Who is calling (null in unit tests of the managers: the admin).</summary>
    public Caller? Caller { get; init; }

    /// <summary>Whether the caller may read anything (the master key, an admin JWT, or no auth at all).</summary>
    public bool IsAdmin => Caller is null || Caller.IsAdmin;

    /// <summary>A body field that is a JSON object of strings (aliases, model_aliases); null when absent.</summary>
    public Dictionary<string, string>? StringMap(string name)
    {
        if (Element(name) is not { } e) return null;
        if (e.ValueKind == JsonValueKind.Object && e.EnumerateObject().All(p => p.Value.ValueKind == JsonValueKind.String))
            return e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        Errors.Add($"'{name}' must be an object of model names (\"alias\": \"model\")");
        return null;
    }

    /// <summary>A body field as it is, or null when absent or null.</summary>
    public JsonElement? Element(string name) =>
        body is { } b && b.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public List<string> Errors { get; } = [];

    public bool Has(string name) => body is { } b && b.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public string? String(string name)
    {
        if (body is { } b && b.TryGetProperty(name, out var v))
        {
            if (v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.String) return v.GetString();
            Errors.Add($"'{name}' must be a string");
            return null;
        }
        return query.TryGetValue(name, out var q) ? q.ToString() : null;
    }

    public decimal? Decimal(string name)
    {
        if (body is not { } b || !b.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= 0) return d;
        if (v.ValueKind == JsonValueKind.String && decimal.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d) && d >= 0) return d;
        Errors.Add($"'{name}' must be a non-negative number");
        return null;
    }

    public long? Long(string name)
    {
        var d = Decimal(name);
        if (d is null) return null;
        if (d != Math.Floor(d.Value) || d > long.MaxValue) { Errors.Add($"'{name}' must be an integer"); return null; }
        return (long)d.Value;
    }

    public bool? Bool(string name)
    {
        if (body is not { } b || !b.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        Errors.Add($"'{name}' must be true or false");
        return null;
    }

    public List<string>? StringList(string name)
    {
        if (body is not { } b || !b.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return v.EnumerateArray().Select(e => e.GetString()!).ToList();
        Errors.Add($"'{name}' must be a list of strings");
        return null;
    }

    /// <summary>A JSON object kept as raw text (metadata).</summary>
    public string? ObjectText(string name)
    {
        if (body is not { } b || !b.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Object) return v.GetRawText();
        Errors.Add($"'{name}' must be an object");
        return null;
    }

    /// <summary>
    /// The metadata to store over <paramref name="current"/>: the body's <c>metadata</c> (absent keeps the current one),
    /// with LiteLLM's top-level <c>guardrails</c> (names) and <c>disable_global_guardrails</c> of /key/generate,
    /// /key/update, /team/new and /team/update put into it, where LiteLLM keeps them (docs proxy/guardrails/quick_start.md).
    /// </summary>
    public string Metadata(string current)
    {
        var given = ObjectText("metadata");
        if (!Has("guardrails") && !Has("disable_global_guardrails")) return given ?? current;
        var names = StringList("guardrails");
        var disable = Bool("disable_global_guardrails");
        var metadata = System.Text.Json.Nodes.JsonNode.Parse(given ?? current) as System.Text.Json.Nodes.JsonObject ?? [];
        if (names is not null) metadata["guardrails"] = new System.Text.Json.Nodes.JsonArray([.. names.Select(n => (System.Text.Json.Nodes.JsonNode?)n)]);
        if (disable is { } d) metadata["disable_global_guardrails"] = d;
        return metadata.ToJsonString();
    }

    /// <summary>
    /// LiteLLM's object_permission over <paramref name="current"/>: absent or null keeps it; an object replaces the
    /// fields it sends and keeps the others (LiteLLM's merge on /key/update and /team/update).
    /// </summary>
    public ObjectPermission? Permission(string name, ObjectPermission? current) =>
        Element(name) is { } e ? Keys.ObjectPermission.Merge(current, e, name, Errors) ?? current : current;

    /// <summary>A LiteLLM duration ("30d", "12h", "15m", "45s").</summary>
    public TimeSpan? Duration(string name)
    {
        var text = String(name);
        if (text is null) return null;
        if (Durations.TryParse(text, TimeSpan.FromDays(36500), out var span) && span > TimeSpan.Zero) return span;
        Errors.Add($"'{name}' must be a duration such as \"30d\", \"12h\" or \"30s\", got '{text}'");
        return null;
    }

    /// <summary>The budget and limit fields this request sets, over <paramref name="current"/>: a field left out keeps its value, null clears it.</summary>
    public LimitSettings Limits(LimitSettings current) => new()
    {
        MaxBudget = Has("max_budget") ? Decimal("max_budget") : current.MaxBudget,
        BudgetDuration = Has("budget_duration") ? BudgetDuration("budget_duration") : current.BudgetDuration,
        RpmLimit = Has("rpm_limit") ? Long("rpm_limit") : current.RpmLimit,
        TpmLimit = Has("tpm_limit") ? Long("tpm_limit") : current.TpmLimit,
        TpdLimit = Has("tpd_limit") ? Long("tpd_limit") : current.TpdLimit,
        MaxParallelRequests = Has("max_parallel_requests") ? Int("max_parallel_requests") : current.MaxParallelRequests,
    };

    public int? Int(string name)
    {
        var n = Long(name);
        if (n is > int.MaxValue) { Errors.Add($"'{name}' must be at most {int.MaxValue}"); return null; }
        return (int?)n;
    }

    /// <summary>A budget reset period, validated ("30d", "1mo", ...).</summary>
    public string? BudgetDuration(string name)
    {
        var text = String(name);
        if (text is null || BudgetPeriod.TryParse(text, out _)) return text;
        Errors.Add($"'{name}' must be a period such as \"30s\", \"1h\", \"30d\" or \"1mo\", got '{text}'");
        return null;
    }

    public ApiError? Error => Errors.Count == 0 ? null : ApiError.BadRequest(string.Join("; ", Errors));
}

internal sealed record KeyResult(ReadOnlyMemory<byte> Json, ApiError? Error)
{
    public static KeyResult Fail(ApiError error) => new(ReadOnlyMemory<byte>.Empty, error);

    public static KeyResult Ok(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        return new KeyResult(buffer.WrittenMemory, null);
    }

    public string Text => System.Text.Encoding.UTF8.GetString(Json.Span);
}
