using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Templates;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's template build API over the gateway's templates, as the SDK's <c>Template.build()</c> drives it: request a
/// build (<c>POST /v3/templates</c>: ids handed out), start it with the steps (<c>POST /v2/templates/{id}/builds/{build}</c>),
/// poll its status and logs (<c>GET /templates/{id}/builds/{build}/status</c>); list, describe and check aliases.
/// Steps map onto the native spec: RUN, ENV, WORKDIR; USER user/root (both are the sandbox's one user); the base is
/// one of our runtimes (fromTemplate, or fromImage naming e2bdev/base, python or node). COPY needs E2B's file upload
/// links, which this gateway does not serve: it is refused (with E2B's error shape) and the native multipart API
/// (POST /v1/templates) named instead. Errors are E2B's <c>{code, message}</c>.
/// </summary>
internal static class E2bTemplateEndpoints
{
    /// <summary>A build requested through v3 and not started yet (the SDK uploads files in between).</summary>
    private sealed record Requested(string Owner, string Name, string TemplateId, string BuildId, DateTimeOffset At);

    public static void Map(IEndpointRouteBuilder group)
    {
        var sp = group.ServiceProvider;
        var http = sp.GetRequiredService<SandboxHttp>();
        var store = sp.GetRequiredService<TemplateStore>();
        var time = sp.GetRequiredService<TimeProvider>();
        var requested = new ConcurrentDictionary<string, Requested>(StringComparer.Ordinal);

        group.MapPost("/v3/templates", (HttpContext c) => RequestAsync(c, http, store, requested, time)).WithSummary("E2B: request a template build");
        group.MapPost("/v2/templates/{templateID}/builds/{buildID}", (HttpContext c, string templateID, string buildID) => StartAsync(c, http, store, requested, templateID, buildID))
            .WithSummary("E2B: start a template build with its steps");
        group.MapGet("/templates/{templateID}/builds/{buildID}/status", (HttpContext c, string templateID, string buildID) => StatusAsync(c, http, store, requested, templateID, buildID))
            .WithSummary("E2B: a template build's status and logs");
        group.MapGet("/templates/{templateID}/files/{hash}", (HttpContext c) =>
            ErrorAsync(c, 400, "COPY is not supported through the E2B template API on this gateway; build with POST /v1/templates (multipart: the spec and the files)."))
            .WithSummary("E2B: file upload links (refused: use the native multipart build)");
        group.MapGet("/templates", (HttpContext c) => ListAsync(c, http, store)).WithSummary("E2B: list templates");
        group.MapGet("/v2/templates", (HttpContext c) => ListAsync(c, http, store)).WithSummary("E2B: list templates");
        group.MapGet("/templates/{templateID}", (HttpContext c, string templateID) => GetAsync(c, http, store, templateID)).WithSummary("E2B: a template with its builds");
        group.MapGet("/templates/aliases/{alias}", (HttpContext c, string alias) => AliasAsync(c, http, store, alias)).WithSummary("E2B: whether a template name exists");
    }

    /// <summary>
    /// For E2B's <c>DELETE /templates/{templateID}</c>, whose route also deletes snapshots: deletes the caller's
    /// template of that id or name and answers 204; false (nothing written) when there is none.
    /// </summary>
    public static async Task<bool> TryDeleteAsync(HttpContext context, string templateID)
    {
        var http = context.RequestServices.GetRequiredService<SandboxHttp>();
        var store = context.RequestServices.GetRequiredService<TemplateStore>();
        var owner = await http.OwnerAsync(context);
        if (owner is null) return true;
        if (!store.Delete(owner, templateID)) return false;
        context.Response.StatusCode = 204;
        return true;
    }

    /// <summary>
    /// E2B's create (<c>templateID</c>) from one of the caller's templates (or a public one): the spec started from its
    /// layer, env and start command; null when the caller has no template of that name (or an error to answer).
    /// </summary>
    public static (SandboxTemplate? Template, OpenAi.ApiError? Error) ForSandbox(HttpContext context, string owner, string templateID) =>
        context.RequestServices.GetRequiredService<TemplateStore>().ForSandbox(owner, templateID);

    private static async Task RequestAsync(HttpContext c, SandboxHttp http, TemplateStore store, ConcurrentDictionary<string, Requested> requested, TimeProvider time)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (await SandboxHttp.BodyAsync(c, 64 * 1024) is not { } body) return;
        var name = SandboxHttp.String(body, "name", "alias");
        if (name is not null && name.IndexOf(':') is var colon and > 0) name = name[..colon];   // name:tag; tags are not kept
        if (name is null || !TemplatePaths.ValidName(name)) { await ErrorAsync(c, 400, "name is required: 1-64 letters, digits, '-', '_' or '.'."); return; }
        if (TemplatePaths.BuiltIn.Contains(name)) { await ErrorAsync(c, 400, $"Template '{name}' is built in and cannot be overwritten."); return; }
        // Requests never started are dropped after an hour, so the map stays bounded by what is in flight.
        foreach (var stale in requested.Values.Where(r => time.GetUtcNow() - r.At > TimeSpan.FromHours(1)).ToList()) requested.TryRemove(stale.BuildId, out _);
        if (requested.Count > 10_000) { await ErrorAsync(c, 429, "Too many template builds requested and not started."); return; }
        var templateId = store.Find(owner, name)?.Id ?? TemplateStore.NewTemplateId();
        var request = new Requested(owner, name, templateId, TemplateStore.NewBuildId(), time.GetUtcNow());
        requested[request.BuildId] = request;
        await SandboxHttp.JsonAsync(c.Response, 202, w =>
        {
            w.WriteStartObject();
            w.WriteString("templateID", templateId);
            w.WriteString("buildID", request.BuildId);
            w.WriteBoolean("public", false);
            Names(w, name);
            w.WriteStartArray("tags"); w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task StartAsync(HttpContext c, SandboxHttp http, TemplateStore store, ConcurrentDictionary<string, Requested> requested, string templateID, string buildID)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (!requested.TryGetValue(buildID, out var request) || request.Owner != owner || request.TemplateId != templateID)
        {
            await ErrorAsync(c, 404, $"No requested build '{SandboxHttp.Truncate(buildID)}' of template '{SandboxHttp.Truncate(templateID)}' (request one with POST /v3/templates).");
            return;
        }
        if (await SandboxHttp.BodyAsync(c, TemplatePaths.MaxSpecBytes) is not { } body) return;
        var (spec, problem) = Spec(body);
        if (problem is not null) { await ErrorAsync(c, 400, problem); return; }
        if (!requested.TryRemove(buildID, out _)) { await ErrorAsync(c, 409, "This build has already been started."); return; }
        var (_, _, error) = store.Build(owner, new TemplateRequest(request.Name, false, spec!), store.NewContext(), request.TemplateId, request.BuildId);
        if (error is not null) { await ErrorAsync(c, error.Status, error.Message); return; }
        c.Response.StatusCode = 202;
    }

    /// <summary>TemplateBuildStartV2 as a native spec; null and why when a step cannot be built here.</summary>
    private static (TemplateSpec?, string?) Spec(JsonElement body)
    {
        var from = SandboxHttp.String(body, "fromTemplate") ?? SandboxHttp.String(body, "fromImage") ?? "base";
        var runtime = BaseRuntime(from);
        if (runtime is null) return (null, $"Base '{DockerfileParser.Shown(from)}' is not available: build from one of our runtimes (fromTemplate: base, code-interpreter-v1, python, node, bash; or fromImage e2bdev/base, python:*, node:*).");
        if (body.TryGetProperty("fromImageRegistry", out var registry) && registry.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
            return (null, "fromImageRegistry is not supported: templates start from this gateway's runtimes.");
        var steps = ImmutableArray.CreateBuilder<TemplateStep>();
        var workdir = TemplatePaths.Home;
        if (body.TryGetProperty("steps", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            var n = 0;
            foreach (var step in list.EnumerateArray())
            {
                n++;
                if (n > TemplatePaths.MaxSteps) return (null, $"A template has at most {TemplatePaths.MaxSteps} steps.");
                var type = SandboxHttp.String(step, "type")?.ToUpperInvariant();
                var args = step.TryGetProperty("args", out var a) && a.ValueKind == JsonValueKind.Array
                    ? a.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : "").ToList() : [];
                switch (type)
                {
                    case "RUN" when args.Count >= 1 && args[0].Length is > 0 and <= TemplatePaths.MaxCommandChars:
                        if (args.Count > 1 && args[1] is not ("" or "user" or "root")) return (null, $"step {n}: RUN as user '{DockerfileParser.Shown(args[1])}': only user (and root, which is the same unprivileged user here) exist.");
                        steps.Add(new TemplateStep(TemplateStepKind.Run, [args[0]], n));
                        break;
                    case "ENV" when args.Count % 2 == 0 && args.Count > 0:
                        for (var i = 0; i < args.Count; i += 2)
                        {
                            if (!SandboxSpec.EnvName().IsMatch(args[i])) return (null, $"step {n}: ENV name '{DockerfileParser.Shown(args[i])}' is not a valid variable name.");
                            steps.Add(new TemplateStep(TemplateStepKind.Env, [args[i], args[i + 1]], n));
                        }
                        break;
                    case "WORKDIR" when args.Count == 1:
                        if (TemplatePaths.InHome(args[0], workdir) is not { } dir) return (null, $"step {n}: WORKDIR {DockerfileParser.Shown(args[0])} is outside {TemplatePaths.Home} (a template keeps only the home directory).");
                        workdir = dir;
                        steps.Add(new TemplateStep(TemplateStepKind.Workdir, [dir], n));
                        break;
                    case "USER" when args.Count == 1 && args[0] is "user" or "root":
                        break;   // every process runs as the sandbox's one unprivileged user
                    case "COPY":
                        return (null, $"step {n}: COPY is not supported through the E2B template API on this gateway; build with POST /v1/templates (multipart: the spec and the files).");
                    default:
                        return (null, $"step {n}: {DockerfileParser.Shown(type ?? "(no type)")} {(type is "RUN" or "ENV" or "WORKDIR" or "USER" ? "has arguments this gateway cannot build" : "is not supported (RUN, ENV, WORKDIR and USER user/root are)")}.");
                }
            }
        }
        string? start = null;
        if (SandboxHttp.String(body, "startCmd") is { Length: > 0 } cmd)
        {
            if (cmd.Length > TemplatePaths.MaxCommandChars) return (null, $"startCmd is longer than {TemplatePaths.MaxCommandChars} characters.");
            start = cmd;
        }
        return (new TemplateSpec { Runtime = runtime, Steps = steps.ToImmutable(), StartCommand = start }, null);
    }

    private static string? BaseRuntime(string from)
    {
        var name = from.ToLowerInvariant();
        var colon = name.IndexOf(':');
        var image = colon >= 0 ? name[..colon] : name;
        return image switch
        {
            "e2bdev/base" or "e2bdev/code-interpreter" => "python",
            "python" or "library/python" => "python",
            "node" or "library/node" => "node",
            _ => colon < 0 ? TemplatePaths.BaseRuntime(name) : null,
        };
    }

    private static async Task StatusAsync(HttpContext c, SandboxHttp http, TemplateStore store, ConcurrentDictionary<string, Requested> requested, string templateID, string buildID)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var offset = int.TryParse(SandboxHttp.Query(c, "logsOffset"), out var o) && o > 0 ? o : 0;
        var limit = int.TryParse(SandboxHttp.Query(c, "limit"), out var l) && l is >= 0 and <= 100 ? l : 100;
        if (requested.TryGetValue(buildID, out var waiting) && waiting.Owner == owner && waiting.TemplateId == templateID)
        {
            await SandboxHttp.JsonAsync(c.Response, 200, w => BuildInfo(w, templateID, buildID, "waiting", [], null));
            return;
        }
        if (store.Find(owner, templateID) is not { } template || store.FindBuild(template, buildID) is not { } build)
        {
            await ErrorAsync(c, 404, $"No build '{SandboxHttp.Truncate(buildID)}' of template '{SandboxHttp.Truncate(templateID)}'.");
            return;
        }
        var lines = build.Lines(offset).Take(limit).ToList();
        await SandboxHttp.JsonAsync(c.Response, 200, w => BuildInfo(w, template.Id, build.Id, build.Status, lines, build.Error is null ? null : (build.Error, build.FailedLine)));
    }

    private static void BuildInfo(Utf8JsonWriter w, string templateId, string buildId, string status, List<TemplateLogLine> lines, (string Message, int? Step)? reason)
    {
        w.WriteStartObject();
        w.WriteString("templateID", templateId);
        w.WriteString("buildID", buildId);
        w.WriteString("status", status);
        w.WriteStartArray("logs");
        foreach (var line in lines) w.WriteStringValue($"[{line.Timestamp:O}] {line.Message}");
        w.WriteEndArray();
        w.WriteStartArray("logEntries");
        foreach (var line in lines)
        {
            w.WriteStartObject();
            w.WriteString("timestamp", line.Timestamp);
            w.WriteString("message", line.Message);
            w.WriteString("level", line.Level);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (reason is { } r)
        {
            w.WriteStartObject("reason");
            w.WriteString("message", r.Message);
            if (r.Step is { } step) w.WriteString("step", step.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static async Task ListAsync(HttpContext c, SandboxHttp http, TemplateStore store)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var options = http.Manager.Options.Defaults;
        var list = store.List(owner).ToList();
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartArray();
            foreach (var t in list)
            {
                w.WriteStartObject();
                w.WriteString("templateID", t.Id);
                w.WriteString("buildID", t.LastBuildId ?? "");
                w.WriteNumber("cpuCount", Math.Max(1, (int)Math.Ceiling(options.Cpu)));
                w.WriteNumber("memoryMB", options.MemoryMb);
                w.WriteNumber("diskSizeMB", options.DiskMb);
                w.WriteBoolean("public", t.Public);
                Names(w, t.Name);
                w.WriteString("createdAt", t.CreatedAt);
                w.WriteString("updatedAt", t.UpdatedAt);
                w.WriteNull("createdBy");
                w.WriteNull("lastSpawnedAt");
                w.WriteNumber("spawnCount", 0);
                w.WriteNumber("buildCount", t.BuildCount);
                w.WriteString("envdVersion", "0.5.7");
                var last = t.LastBuildId is { } id ? store.FindBuild(t, id) : null;
                w.WriteString("buildStatus", last?.Status ?? (t.Digest is null ? "error" : "ready"));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static async Task GetAsync(HttpContext c, SandboxHttp http, TemplateStore store, string templateID)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (store.Resolve(owner, templateID) is not { } t) { await ErrorAsync(c, 404, $"No template '{SandboxHttp.Truncate(templateID)}'."); return; }
        var options = http.Manager.Options.Defaults;
        var builds = t.Owner == owner ? store.Builds(t).ToList() : [];
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("templateID", t.Id);
            w.WriteBoolean("public", t.Public);
            Names(w, t.Name);
            w.WriteString("createdAt", t.CreatedAt);
            w.WriteString("updatedAt", t.UpdatedAt);
            w.WriteNull("lastSpawnedAt");
            w.WriteNumber("spawnCount", 0);
            w.WriteStartArray("builds");
            foreach (var b in builds)
            {
                w.WriteStartObject();
                w.WriteString("buildID", b.Id);
                w.WriteString("status", b.Status);
                w.WriteString("createdAt", b.StartedAt);
                w.WriteString("updatedAt", b.FinishedAt ?? b.StartedAt);
                if (b.FinishedAt is { } f) w.WriteString("finishedAt", f);
                w.WriteNumber("cpuCount", Math.Max(1, (int)Math.Ceiling(options.Cpu)));
                w.WriteNumber("memoryMB", options.MemoryMb);
                w.WriteNumber("diskSizeMB", options.DiskMb);
                w.WriteString("envdVersion", "0.5.7");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task AliasAsync(HttpContext c, SandboxHttp http, TemplateStore store, string alias)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (store.Resolve(owner, alias) is not { } t) { await ErrorAsync(c, 404, $"No template '{SandboxHttp.Truncate(alias)}'."); return; }
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("templateID", t.Id);
            w.WriteBoolean("public", t.Public);
            w.WriteEndObject();
        });
    }

    private static void Names(Utf8JsonWriter w, string name)
    {
        w.WriteStartArray("aliases"); w.WriteStringValue(name); w.WriteEndArray();
        w.WriteStartArray("names"); w.WriteStringValue(name); w.WriteEndArray();
    }

    /// <summary>E2B's error body: <c>{"code": status, "message": ...}</c>.</summary>
    private static Task ErrorAsync(HttpContext c, int status, string message) =>
        SandboxHttp.JsonAsync(c.Response, status, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("code", status);
            w.WriteString("message", message);
            w.WriteEndObject();
        });
}
