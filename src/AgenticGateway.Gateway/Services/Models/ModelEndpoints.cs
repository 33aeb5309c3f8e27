using System.Globalization;
using AgenticGateway.Keys;
using AgenticGateway.Models;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Admin;

namespace AgenticGateway.Services.Models;

/// <summary>
/// LiteLLM's model routes. Writes (/model/new, /model/update, PATCH /model/{model_id}/update, /model/delete) need the
/// master key; reads (/model/info, /v1/model/info, /v2/model/info, /model_group/info) are LiteLLM's "info routes":
/// any key may call them and sees the models it may use.
/// </summary>
internal static class ModelEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var m = routes.ServiceProvider.GetRequiredService<ModelManager>();
        var runtimes = routes.ServiceProvider.GetRequiredService<RuntimeHolder>();
        var stored = routes.ServiceProvider.GetRequiredService<StoredModels>();
        var admin = routes.MapGroup("").Gateway(GatewayRoute.Admin);
        admin.MapPost("/model/new", c => RunAsync(c, m.NewAsync));
        admin.MapPost("/model/update", c => RunAsync(c, m.UpdateAsync));
        admin.MapPatch("/model/{model_id}/update", c => RunAsync(c, m.PatchAsync));
        admin.MapPost("/model/delete", c => RunAsync(c, m.DeleteAsync));

        var account = routes.MapGroup("").Gateway(GatewayRoute.Account);
        account.MapGet("/model/info", c => InfoAsync(c, runtimes, stored, paged: false));
        account.MapGet("/v1/model/info", c => InfoAsync(c, runtimes, stored, paged: false));
        account.MapGet("/v2/model/info", c => InfoAsync(c, runtimes, stored, paged: true));
        account.MapGet("/model_group/info", c => GroupInfoAsync(c, runtimes));
    }

    /// <summary>A write: the body (POST or PATCH), and the store's failures as errors in the API's shape, never a bare 500.</summary>
    private static async Task RunAsync(HttpContext context, Func<KeyRequest, CancellationToken, Task<KeyResult>> action)
    {
        var (body, bodyError) = await JsonBody.ReadObjectAsync(context.Request, 1 << 20, context.RequestAborted);
        if (bodyError is not null) { await PipelineErrors.WriteAsync(context, bodyError); return; }
        KeyResult result;
        try
        {
            result = await action(new KeyRequest(body, context.Request.Query, context.Request.RouteValues["model_id"] as string), context.RequestAborted);
        }
        catch (ModelSecretsException ex)
        {
            result = KeyResult.Fail(ApiError.BadRequest(ex.Message, "litellm_params", "model_credentials"));
        }
        catch (System.Data.Common.DbException ex)
        {
            result = KeyResult.Fail(new ApiError(503, $"The gateway's database is unavailable: {ex.Message}", "server_error", "database_unavailable"));
        }
        await WriteAsync(context, result);
    }

    /// <summary>
    /// One entry per deployment the caller may use. /model/info takes ?litellm_model_id=; /v2/model/info pages
    /// (?page=, ?size=, answered with total_count, current_page, total_pages, size) and filters (?model= exact name,
    /// ?modelId=, ?search= part of a name or id), sorted by ?sortBy=model_name|created_at|updated_at and ?sortOrder=asc|desc.
    /// </summary>
    private static async Task InfoAsync(HttpContext context, RuntimeHolder runtimes, StoredModels stored, bool paged)
    {
        var runtime = runtimes.Current;
        var models = stored.Models;
        var caller = context.Features.Get<Caller>()!;
        var q = context.Request.Query;
        StoredModel? Row(Deployment d) => runtime.StoredIds.Contains(d.Id) && models.TryGetValue(d.Id, out var m) ? m : null;
        IEnumerable<Deployment> deployments = runtime.AllDeployments.Where(d => caller.MayUse(d.GroupName, d.GroupName));
        if (q["litellm_model_id"].ToString() is { Length: > 0 } litellmId) deployments = deployments.Where(d => d.Id == litellmId);
        if (!paged)
        {
            var all = deployments.ToList();
            await WriteAsync(context, KeyResult.Ok(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("data");
                foreach (var d in all) ModelJson.WriteInfo(w, d, Row(d));
                w.WriteEndArray();
                w.WriteEndObject();
            }));
            return;
        }

        var page = PositiveInt(q, "page", 1, int.MaxValue);
        var size = PositiveInt(q, "size", 50, 1000);
        if (page is null || size is null)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest(page is null ? "'page' must be a whole number from 1" : "'size' must be a whole number from 1 to 1000", page is null ? "page" : "size"));
            return;
        }
        if (q["model"].ToString() is { Length: > 0 } exact) deployments = deployments.Where(d => d.GroupName == exact);
        if (q["modelId"].ToString() is { Length: > 0 } modelId) deployments = deployments.Where(d => d.Id == modelId);
        if (q["search"].ToString() is { Length: > 0 } search)
            deployments = deployments.Where(d => d.GroupName.Contains(search, StringComparison.OrdinalIgnoreCase) || d.Id.Contains(search, StringComparison.OrdinalIgnoreCase));
        var descending = string.Equals(q["sortOrder"], "desc", StringComparison.OrdinalIgnoreCase);
        Func<Deployment, string> key = q["sortBy"].ToString() switch
        {
            "created_at" => d => Row(d)?.CreatedAt ?? "",
            "updated_at" => d => Row(d)?.UpdatedAt ?? "",
            "model_name" => d => d.GroupName,
            _ => _ => "",
        };
        var matching = (descending ? deployments.OrderByDescending(key, StringComparer.Ordinal) : deployments.OrderBy(key, StringComparer.Ordinal)).ToList();
        var totalPages = (int)Math.Ceiling(matching.Count / (double)size.Value);
        var slice = matching.Skip((int)Math.Min(int.MaxValue, ((long)page.Value - 1) * size.Value)).Take(size.Value).ToList();
        await WriteAsync(context, KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("data");
            foreach (var d in slice) ModelJson.WriteInfo(w, d, Row(d));
            w.WriteEndArray();
            w.WriteNumber("total_count", matching.Count);
            w.WriteNumber("current_page", page.Value);
            w.WriteNumber("total_pages", totalPages);
            w.WriteNumber("size", size.Value);
            w.WriteEndObject();
        }));
    }

    /// <summary>LiteLLM's /model_group/info: one entry per group the caller may use, with its providers, price and limits.</summary>
    private static async Task GroupInfoAsync(HttpContext context, RuntimeHolder runtimes)
    {
        var caller = context.Features.Get<Caller>()!;
        var groups = runtimes.Current.AllDeployments.Where(d => caller.MayUse(d.GroupName, d.GroupName)).GroupBy(d => d.GroupName).ToList();
        await WriteAsync(context, KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("data");
            foreach (var g in groups)
            {
                var first = g.First();
                w.WriteStartObject();
                w.WriteString("model_group", g.Key);
                w.WriteStartArray("providers");
                foreach (var p in g.Select(d => d.ProviderName).Distinct()) w.WriteStringValue(p);
                w.WriteEndArray();
                ModelJson.WritePrice(w, first.Price);
                if (first.Options.MaxInputTokens is { } max) w.WriteNumber("max_input_tokens", max); else w.WriteNull("max_input_tokens");
                if (g.Sum(d => d.Options.Rpm ?? 0) is > 0 and var rpm) w.WriteNumber("rpm", rpm); else w.WriteNull("rpm");
                if (g.Sum(d => d.Options.Tpm ?? 0) is > 0 and var tpm) w.WriteNumber("tpm", tpm); else w.WriteNull("tpm");
                w.WriteNumber("deployments", g.Count());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }));
    }

    private static int? PositiveInt(IQueryCollection q, string name, int fallback, int max)
    {
        var text = q[name].ToString();
        if (text.Length == 0) return fallback;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= max ? n : null;
    }

    private static async Task WriteAsync(HttpContext context, KeyResult result)
    {
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
