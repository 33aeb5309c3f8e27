using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Templates;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's template build API over the gateway's templates, as the SDK's <c>Template.build()</c> drives it: request a
/// build (<c>POST /v3/templates</c>: ids handed out), start it with the steps (<c>POST /v2/templates/{id}/builds/{build}</c>),
/// poll its status and logs (<c>GET /templates/{id}/builds/{build}/status</c>); list, describe and check aliases.
/// Steps map onto the native spec: RUN, ENV, WORKDIR; USER user/root (both are the sandbox's one user); COPY from the
/// archive the SDK uploaded for it (<see cref="E2bTemplateFiles"/>: <c>GET /templates/{id}/files/{hash}</c> hands out a
/// signed link, the SDK PUTs the tar there); the base is one of our runtimes (fromTemplate, or fromImage naming
/// e2bdev/base, python or node). Errors are E2B's <c>{code, message}</c>.
/// </summary>
internal static class E2bTemplateEndpoints
{
    /// <summary>A build requested through v3 and not started yet (the SDK uploads files in between).</summary>
    internal sealed record Requested(string Owner, string Name, string TemplateId, string BuildId, DateTimeOffset At);

    /// <summary>A COPY step's upload: the step, the SDK's hash of its files, where its archive goes in the build's upload.</summary>
    private sealed record CopyUpload(int Step, string Source, string Hash, string Under);

    /// <summary>
    /// The upload link's PUT: no API key (the SDK sends none to the link it was given), its signature is the authority;
    /// errors still in E2B's shape.
    /// </summary>
    public static readonly GatewayRoute UploadRoute = new(GatewayRoute.SandboxesRouter, "e2b.template_upload", RouteAuth.None);

    public static void Map(IEndpointRouteBuilder group)
    {
        var sp = group.ServiceProvider;
        var http = sp.GetRequiredService<SandboxHttp>();
        var store = sp.GetRequiredService<TemplateStore>();
        var time = sp.GetRequiredService<TimeProvider>();
        var files = sp.GetRequiredService<E2bTemplateFiles>();
        // One map for every way the API is mapped (/e2b and the E2B host), so a build requested on one goes on on the other.
        var requested = sp.GetRequiredService<E2bPendingBuilds>().Requested;

        group.MapPost("/v3/templates", (HttpContext c) => RequestAsync(c, http, store, requested, time)).WithSummary("E2B: request a template build");
        group.MapPost("/v2/templates/{templateID}/builds/{buildID}", (HttpContext c, string templateID, string buildID) => StartAsync(c, http, store, files, requested, templateID, buildID))
            .WithSummary("E2B: start a template build with its steps");
        group.MapGet("/templates/{templateID}/builds/{buildID}/status", (HttpContext c, string templateID, string buildID) => StatusAsync(c, http, store, requested, templateID, buildID))
            .WithSummary("E2B: a template build's status and logs");
        group.MapGet("/templates/{templateID}/files/{hash}", (HttpContext c, string templateID, string hash) => LinkAsync(c, http, store, files, requested, templateID, hash))
            .WithSummary("E2B: whether a COPY's files are cached, else a signed link to upload them to");
        group.MapPut("/templates/{templateID}/files/{hash}", (HttpContext c, string templateID, string hash) => UploadAsync(c, files, templateID, hash))
            .Gateway(UploadRoute).WithSummary("E2B: a COPY's files (a tar archive, gzipped or not), through a signed upload link");
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

    private static async Task StartAsync(HttpContext c, SandboxHttp http, TemplateStore store, E2bTemplateFiles files, ConcurrentDictionary<string, Requested> requested, string templateID, string buildID)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (!requested.TryGetValue(buildID, out var request) || request.Owner != owner || request.TemplateId != templateID)
        {
            await ErrorAsync(c, 404, $"No requested build '{SandboxHttp.Truncate(buildID)}' of template '{SandboxHttp.Truncate(templateID)}' (request one with POST /v3/templates).");
            return;
        }
        if (await SandboxHttp.BodyAsync(c, TemplatePaths.MaxSpecBytes) is not { } body) return;
        var (spec, copies, problem) = Spec(body);
        if (problem is not null) { await ErrorAsync(c, 400, problem); return; }
        var context = store.NewContext();
        string? refused;
        try { refused = await UploadsAsync(c, files, owner, templateID, copies, context); }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The staging directory goes with the failed build; the client hears why unless it has gone.
            context.Dispose();
            if (!c.RequestAborted.IsCancellationRequested) await ErrorAsync(c, 507, $"The build's files could not be staged: {ex.Message}");
            return;
        }
        if (refused is not null)
        {
            context.Dispose();
            await ErrorAsync(c, 400, refused);
            return;
        }
        if (!requested.TryRemove(buildID, out _)) { context.Dispose(); await ErrorAsync(c, 409, "This build has already been started."); return; }
        var (_, _, error) = store.Build(owner, new TemplateRequest(request.Name, false, spec!), context, request.TemplateId, request.BuildId);
        if (error is not null) { await ErrorAsync(c, error.Status, error.Message); return; }
        c.Response.StatusCode = 202;
    }

    /// <summary>
    /// Each COPY's archive from the owner's uploads into the build's upload, under a directory of its own (so one
    /// COPY sees only the files the SDK sent for it); null, or why not. The archive's entries are checked as the
    /// native build's are (relative names inside the upload; regular files and directories only, so no symlink or
    /// hard link); an archive refused is forgotten, so the next build uploads it again.
    /// </summary>
    private static async Task<string?> UploadsAsync(HttpContext c, E2bTemplateFiles files, string owner, string templateID, List<CopyUpload> copies, TemplateContext context)
    {
        foreach (var copy in copies)
        {
            var at = $"step {copy.Step}: COPY {DockerfileParser.Shown(copy.Source)}";
            string? problem;
            try
            {
                if (files.Find(owner, copy.Hash) is not { } path) throw new FileNotFoundException();
                await using var archive = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous);
                problem = await context.AddTarAsync(archive, copy.Under, c.RequestAborted);
            }
            catch (FileNotFoundException)
            {
                return $"{at}: its files were not uploaded (GET /templates/{SandboxHttp.Truncate(templateID)}/files/{copy.Hash} gives the link to PUT them to).";
            }
            if (problem is not null)
            {
                files.Forget(owner, copy.Hash);
                return $"{at}: the uploaded archive was refused: {problem}.";
            }
        }
        return null;
    }

    /// <summary>TemplateBuildStartV2 as a native spec and the uploads its COPY steps take; null and why when a step cannot be built here.</summary>
    private static (TemplateSpec?, List<CopyUpload>, string?) Spec(JsonElement body)
    {
        var copies = new List<CopyUpload>();
        var (spec, problem) = Spec(body, copies);
        return (spec, copies, problem);
    }

    private static (TemplateSpec?, string?) Spec(JsonElement body, List<CopyUpload> copies)
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
                    // The SDK opens every fromImage/fromDockerfile build with USER root and WORKDIR / of its own: a template
                    // here keeps only the home, so "/" is read as the home (where E2B's commands start anyway).
                    case "WORKDIR" when args.Count == 1 && args[0] == "/":
                        workdir = TemplatePaths.Home;
                        steps.Add(new TemplateStep(TemplateStepKind.Workdir, [TemplatePaths.Home], n));
                        break;
                    case "WORKDIR" when args.Count == 1:
                        if (TemplatePaths.InHome(args[0], workdir) is not { } dir) return (null, $"step {n}: WORKDIR {DockerfileParser.Shown(args[0])} is outside {TemplatePaths.Home} (a template keeps only the home directory).");
                        workdir = dir;
                        steps.Add(new TemplateStep(TemplateStepKind.Workdir, [dir], n));
                        break;
                    case "USER" when args.Count == 1 && args[0] is "user" or "root":
                        break;   // every process runs as the sandbox's one unprivileged user
                    case "COPY" when args.Count >= 2:
                        // args: source, destination, user, mode (octal); filesHash names the archive the SDK uploaded.
                        if (SandboxHttp.String(step, "filesHash") is not { } hash || !E2bTemplateFiles.ValidHash(hash))
                            return (null, $"step {n}: COPY needs the filesHash of its uploaded files.");
                        if (args.Count > 2 && args[2] is not ("" or "user" or "root")) return (null, $"step {n}: COPY as user '{DockerfileParser.Shown(args[2])}': only user (and root, which is the same unprivileged user here) exist.");
                        if (args.Count > 3 && args[3].Length > 0) return (null, $"step {n}: COPY with a mode is not supported (a file keeps its uploaded mode, executable or not); set it with a RUN chmod.");
                        if (args[0].IndexOfAny(['*', '?', '[']) >= 0) return (null, $"step {n}: COPY {DockerfileParser.Shown(args[0])}: wildcards are not supported; name the files or a directory.");
                        if (TemplatePaths.InContext(args[0]) is not { } source) return (null, $"step {n}: COPY {DockerfileParser.Shown(args[0])} leaves the uploaded files (a source is a relative path inside the build's context).");
                        if (TemplatePaths.InHome(args[1], workdir) is not { } target) return (null, $"step {n}: COPY to {DockerfileParser.Shown(args[1])} is outside {TemplatePaths.Home} (a template keeps only the home directory).");
                        var under = "copy-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        var into = args[1].EndsWith('/') || target == TemplatePaths.Home;
                        steps.Add(new TemplateStep(TemplateStepKind.Copy, [source.Length == 0 ? under : under + "/" + source, into ? target.TrimEnd('/') + "/" : target], n));
                        copies.Add(new CopyUpload(n, args[0], hash, under));
                        break;
                    default:
                        return (null, $"step {n}: {DockerfileParser.Shown(type ?? "(no type)")} {(type is "RUN" or "ENV" or "WORKDIR" or "USER" or "COPY" ? "has arguments this gateway cannot build" : "is not supported (RUN, COPY, ENV, WORKDIR and USER user/root are)")}.");
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

    /// <summary>
    /// TemplateBuildFileUpload (201): <c>{present: true}</c> when the caller's uploads hold that hash, else
    /// <c>{present: false, url}</c>: a link on this gateway, as the caller reached it (scheme, host, prefix: /e2b or
    /// the E2B host's root), signed for this owner, template and hash, good for <see cref="E2bTemplateFiles.LinkLifetime"/>.
    /// </summary>
    private static async Task LinkAsync(HttpContext c, SandboxHttp http, TemplateStore store, E2bTemplateFiles files, ConcurrentDictionary<string, Requested> requested,
        string templateID, string hash)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (!E2bTemplateFiles.ValidHash(hash)) { await ErrorAsync(c, 400, "hash must be the files' hash (letters and digits, at most 128)."); return; }
        if (store.Find(owner, templateID) is null && !requested.Values.Any(r => r.Owner == owner && r.TemplateId == templateID))
        {
            await ErrorAsync(c, 404, $"No template '{SandboxHttp.Truncate(templateID)}' (request a build with POST /v3/templates).");
            return;
        }
        if (files.Find(owner, hash) is not null)
        {
            await SandboxHttp.JsonAsync(c.Response, 201, w => { w.WriteStartObject(); w.WriteBoolean("present", true); w.WriteEndObject(); });
            return;
        }
        var request = c.Request;
        var suffix = $"/templates/{Uri.EscapeDataString(templateID)}/files/{hash}";
        var path = request.Path.ToUriComponent();
        var prefix = path.EndsWith(suffix, StringComparison.Ordinal) ? path[..^suffix.Length] : "";
        var url = $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase.ToUriComponent()}{prefix}{suffix}?{files.Sign(owner, templateID, hash)}";
        await SandboxHttp.JsonAsync(c.Response, 201, w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("present", false);
            w.WriteString("url", url);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// The SDK's PUT of a COPY's archive to its link: the signature checked (in constant time) before a byte is read,
    /// the body streamed to disk up to <c>sandboxes.max_file_bytes</c> (413 beyond), stored for the link's owner.
    /// What the archive holds is checked when a build takes it.
    /// </summary>
    private static async Task UploadAsync(HttpContext c, E2bTemplateFiles files, string templateID, string hash)
    {
        var query = c.Request.Query;
        if (!E2bTemplateFiles.ValidHash(hash)) { await ErrorAsync(c, 400, "hash must be the files' hash (letters and digits, at most 128)."); return; }
        switch (files.Verify(query["owner"], query["expires"], query["signature"], templateID, hash))
        {
            case LinkCheck.Missing:
                await ErrorAsync(c, 401, $"This upload needs a signed link: GET /templates/{SandboxHttp.Truncate(templateID)}/files/{hash} (with your API key) gives one.");
                return;
            case LinkCheck.Invalid:
                await ErrorAsync(c, 403, "The upload link's signature is not valid for this template and hash.");
                return;
            case LinkCheck.Expired:
                await ErrorAsync(c, 403, "The upload link has expired: ask for a new one.");
                return;
        }
        // Kestrel's own limit sits above ours, so an oversized body is read (and dropped) far enough to deliver the 413.
        var drainLimit = RequestBody.DrainLimit(files.MaxBytes);
        if (c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = drainLimit;
        if (c.Request.ContentLength > files.MaxBytes)
        {
            if (c.Request.ContentLength <= drainLimit) await DrainAsync(c, drainLimit);
            await TooLargeAsync(c, files);
            return;
        }
        bool stored;
        try
        {
            stored = await files.StoreAsync(query["owner"]!, hash, c.Request.Body, c.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413) { stored = false; }
        catch (BadHttpRequestException ex) { await ErrorAsync(c, 400, $"The upload's body is malformed: {ex.Message}"); return; }
        catch (Exception ex) when ((ex is IOException or OperationCanceledException) && c.RequestAborted.IsCancellationRequested) { return; }
        // The gateway's own disk failed (full, read-only): the client is told, not cut off with an unshaped 500.
        catch (IOException ex) { await ErrorAsync(c, 507, $"The upload could not be stored: {ex.Message}"); return; }
        if (!stored)
        {
            await DrainAsync(c, drainLimit);
            await TooLargeAsync(c, files);
            return;
        }
        c.Response.StatusCode = 200;
    }

    /// <summary>Reads and drops what is left of an oversized upload (up to a limit): a client still sending would otherwise see the connection close, not the 413.</summary>
    private static async Task DrainAsync(HttpContext c, long limit)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long seen = 0;
            int read;
            while (seen <= limit && (read = await c.Request.Body.ReadAsync(buffer, c.RequestAborted)) > 0) seen += read;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException) { }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    private static Task TooLargeAsync(HttpContext c, E2bTemplateFiles files) =>
        ErrorAsync(c, 413, $"The upload is larger than {files.MaxBytes} bytes (sandboxes.max_file_bytes).");

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
                w.WriteString("envdVersion", E2bRestEndpoints.EnvdVersion);
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
                w.WriteString("envdVersion", E2bRestEndpoints.EnvdVersion);
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
