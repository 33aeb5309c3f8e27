using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// The sandbox API: lifecycle here, with execute, commands, files and the WebSocket in their own files. Every route
/// is scoped to the caller: another key's sandbox is a 404. Seed 000's paths (/v1/sandbox/...) are aliases.
/// </summary>
internal static class SandboxEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var http = routes.ServiceProvider.GetRequiredService<SandboxHttp>();
        var templates = routes.ServiceProvider.GetRequiredService<AgenticGateway.Sandboxes.Templates.TemplateStore>();
        var app = routes.MapGroup("").Gateway(GatewayRoute.Sandboxes);
        var sb = "/v1/sandboxes/{id}";

        app.MapPost("/v1/sandboxes", (HttpContext c) => CreateAsync(c, http, templates)).WithSummary("Create a sandbox");
        app.MapPost("/v1/sandbox/create", (HttpContext c) => CreateAsync(c, http, templates)).WithSummary("Create a sandbox (seed 000 path)");
        app.MapGet("/v1/sandboxes", (HttpContext c) => ListAsync(c, http)).WithSummary("List your sandboxes (filter with metadata.key=value)");
        app.MapGet(sb, (HttpContext c, string id) => GetAsync(c, http, id)).WithSummary("Describe a sandbox");
        app.MapDelete(sb, (HttpContext c, string id) => DeleteAsync(c, http, id)).WithSummary("Delete a sandbox");
        app.MapPost("/v1/sandbox/{id}/destroy", (HttpContext c, string id) => DeleteAsync(c, http, id)).WithSummary("Delete a sandbox (seed 000 path)");
        app.MapPost(sb + "/timeout", (HttpContext c, string id) => ExtendAsync(c, http, id)).WithSummary("Set a sandbox's remaining lifetime");

        ExecuteEndpoints.Map(app, http);
        CommandEndpoints.Map(app, http);
        FileEndpoints.Map(app, http);
        SandboxSocket.Map(app, http);
        PersistenceEndpoints.Map(app, http);
        TemplateEndpoints.Map(app, http, templates);
        MetricsEndpoints.Map(app, http);
    }

    private static async Task CreateAsync(HttpContext context, SandboxHttp http, AgenticGateway.Sandboxes.Templates.TemplateStore templates)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var (spec, error) = SandboxSpec.Parse(body, http.Manager.Options, name => templates.ForSandbox(owner, name));
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        var snapshot = PersistenceEndpoints.SnapshotOf(body, out var badSnapshot);
        if (badSnapshot is not null) { await PipelineErrors.WriteAsync(context, badSnapshot); return; }
        var (sandbox, refused) = snapshot is not null
            ? await http.Manager.CreateFromSnapshotAsync(owner, snapshot, spec!, context.RequestAborted)
            : await http.Manager.CreateAsync(owner, spec!, context.RequestAborted);
        if (refused is not null) { await PipelineErrors.WriteAsync(context, refused); return; }
        await SandboxHttp.JsonAsync(context.Response, 201, w => Write(w, sandbox!, "ready"));
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        var filter = MetadataFilter(context.Request.Query);
        var sandboxes = http.Manager.List(owner).Where(s => filter.All(f => s.Spec.Metadata.TryGetValue(f.Key, out var v) && v == f.Value)).ToList();
        // With several hosts, the owner's sandboxes on the others too, as their hosts last described them.
        var remote = http.Registry is null ? [] : await http.Registry.RemoteAsync(owner, context.RequestAborted);
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var s in sandboxes) Write(w, s, "running");
            foreach (var p in http.Manager.ListPaused(owner).Where(p => filter.All(f => p.Spec.Metadata.TryGetValue(f.Key, out var v) && v == f.Value)))
                PersistenceEndpoints.WritePaused(w, p);
            foreach (var r in remote)
            {
                using var described = JsonDocument.Parse(r.Json);
                if (filter.All(f => described.RootElement.TryGetProperty("metadata", out var m) && m.TryGetProperty(f.Key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() == f.Value))
                    described.RootElement.WriteTo(w);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary><c>?metadata.team=a</c>, or E2B's <c>?metadata=team%3Da%26user%3Db</c>.</summary>
    private static List<KeyValuePair<string, string>> MetadataFilter(IQueryCollection query)
    {
        var filter = new List<KeyValuePair<string, string>>();
        foreach (var (key, values) in query)
        {
            if (key.StartsWith("metadata.", StringComparison.Ordinal)) filter.Add(new(key["metadata.".Length..], values.ToString()));
            else if (key == "metadata")
            {
                foreach (var encoded in values)
                    foreach (var pair in (encoded ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var eq = pair.IndexOf('=');
                        if (eq > 0) filter.Add(new(Uri.UnescapeDataString(pair[..eq]), Uri.UnescapeDataString(pair[(eq + 1)..])));
                    }
            }
        }
        return filter;
    }

    private static async Task GetAsync(HttpContext context, SandboxHttp http, string id)
    {
        if (await PersistenceEndpoints.PausedAsync(context, http, id, deleted: false)) return;
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        await SandboxHttp.JsonAsync(context.Response, 200, w => Write(w, sandbox, "running"));
    }

    private static async Task DeleteAsync(HttpContext context, SandboxHttp http, string id)
    {
        if (await PersistenceEndpoints.PausedAsync(context, http, id, deleted: true)) return;
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        await http.Manager.EndAsync(sandbox, "deleted");
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", sandbox.Id);
            w.WriteString("object", "sandbox.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteString("status", "destroyed");
            w.WriteEndObject();
        });
    }

    private static async Task ExtendAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        if (!body.TryGetProperty("timeout", out var t) || t.ValueKind != JsonValueKind.Number)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("timeout (seconds from now) is required.", "timeout"));
            return;
        }
        // A number beyond the maximum (even one no TimeSpan can hold) is refused by Extend, which names the range.
        var timeout = JsonValues.TrySeconds(t, 0, http.Manager.Options.Max.Timeout, out var seconds) ? seconds : TimeSpan.Zero;
        if (http.Manager.Extend(sandbox, timeout) is { } error) { await PipelineErrors.WriteAsync(context, error); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w => Write(w, sandbox, "running"));
    }

    public static void Write(Utf8JsonWriter w, Sandbox s, string status)
    {
        var r = s.Spec.Resources;
        w.WriteStartObject();
        w.WriteString("id", s.Id);
        w.WriteString("sandbox_id", s.Id);
        w.WriteString("object", "sandbox");
        w.WriteString("status", status);
        w.WriteString("runtime", s.Runtime);
        if (s.Spec.Template is { } template) w.WriteString("template", template.Name);
        if (s.Spec.E2bTemplate is { } e2b) w.WriteString("e2b_template", e2b);
        w.WriteString("isolation", s.Instance.Isolation);
        if (s.Instance.Image is { } image) w.WriteString("image", image);
        w.WriteString("created_at", s.CreatedAt);
        w.WriteString("expires_at", s.ExpiresAt);
        w.WriteNumber("timeout", Math.Round(r.Timeout.TotalSeconds));
        w.WriteNumber("memory_mb", r.MemoryMb);
        w.WriteNumber("cpu", r.Cpu);
        w.WriteNumber("disk_mb", r.DiskMb);
        w.WriteString("network", s.Spec.Network.Mode == NetworkMode.None ? "none" : "allowlist");
        w.WriteStartArray("allow_hosts");
        foreach (var h in s.Spec.Network.AllowHosts) w.WriteStringValue(h);
        w.WriteEndArray();
        w.WriteStartArray("packages");
        foreach (var p in s.Spec.Packages) w.WriteStringValue(p);
        w.WriteEndArray();
        w.WriteStartObject("metadata");
        foreach (var (k, v) in s.Spec.Metadata) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
