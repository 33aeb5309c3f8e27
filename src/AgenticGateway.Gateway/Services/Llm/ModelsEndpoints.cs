using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Status;

namespace AgenticGateway.Services.Llm;

/// <summary>GET /v1/models and /v1/models/{id}: the public model names (groups and visible aliases).</summary>
internal static class ModelsEndpoints
{
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static async Task ListAsync(HttpContext context, RuntimeHolder runtimes)
    {
        var runtime = runtimes.Current;
        var caller = context.Features.Get<Keys.Caller>();
        // A key restricted to some models sees only those.
        var data = runtime.Catalog.PublicModels().Where(m => caller!.MayUse(m.Id, m.Id, Pipeline.PayloadStep.AccessGroupsOf(runtime, m.Id)))
            .Select(m => new ModelObject(m.Id, "model", Created, m.OwnedBy)).ToList();
        if (caller is { IsAdmin: true })
        {
            await WriteWithDeploymentsAsync(context, runtime, data);
            return;
        }
        await context.Response.WriteAsJsonAsync(new ModelList("list", data), GatewayJsonContext.Default.ModelList);
    }

    /// <summary>
    /// For an admin, OpenAI's list with one addition per model: <c>deployments</c>, each with the live metrics routing
    /// policies read (<see cref="DeploymentMetricsJson"/>). Others get OpenAI's shape unchanged.
    /// </summary>
    private static async Task WriteWithDeploymentsAsync(HttpContext context, GatewayRuntime runtime, List<ModelObject> models)
    {
        var nowTicks = (context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow().UtcTicks;
        context.Response.ContentType = "application/json";
        await using (var w = new System.Text.Json.Utf8JsonWriter(context.Response.BodyWriter))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var m in models)
            {
                w.WriteStartObject();
                w.WriteString("id", m.Id);
                w.WriteString("object", m.Object);
                w.WriteNumber("created", m.Created);
                w.WriteString("owned_by", m.OwnedBy);
                w.WriteStartArray("deployments");
                if (runtime.Catalog.TryResolve(m.Id, out var group))
                {
                    foreach (var d in group.Deployments) DeploymentMetricsJson.Write(w, d, nowTicks);
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    public static async Task GetAsync(HttpContext context, RuntimeHolder runtimes, string id)
    {
        var runtime = runtimes.Current;
        var caller = context.Features.Get<Keys.Caller>();
        var match = runtime.Catalog.PublicModels().FirstOrDefault(m => m.Id == id && caller!.MayUse(m.Id, m.Id, Pipeline.PayloadStep.AccessGroupsOf(runtime, m.Id)));
        if (match.Id is null)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"The model '{id}' does not exist", "invalid_request_error", "model_not_found", "model"));
            return;
        }
        await context.Response.WriteAsJsonAsync(new ModelObject(match.Id, "model", Created, match.OwnedBy), GatewayJsonContext.Default.ModelObject);
    }
}
