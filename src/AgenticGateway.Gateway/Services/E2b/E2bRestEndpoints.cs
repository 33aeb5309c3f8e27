using System.Globalization;
using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Services.Sandboxes;
using AgenticGateway.Services.Sandboxes.Hosts;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's REST API (openapi.yml, the paths the e2b SDK calls) over the native sandboxes: the same owner as the native
/// API (<see cref="SandboxHttp.OwnerAsync"/>), so a sandbox created either way is listed both ways, and another
/// owner's sandbox is a 404. Errors leave in E2B's <c>{code, message}</c> (the route's error shape).
/// </summary>
internal sealed class E2bRestEndpoints(SandboxHttp http, E2bSandboxes records, TimeProvider time, AgenticGateway.Sandboxes.Templates.TemplateStore? templates = null)
{
    /// <summary>
    /// The envd version create and connect report. The SDK gates features on it: 0.5.7 turns on octet-stream uploads
    /// and closeStdin (from 0.5.2), and stays below 0.6.2, from which it expects file metadata envd here does not keep.
    /// </summary>
    public const string EnvdVersion = "0.5.7";
    private const string ClientId = "agentic-gateway";
    private const int MaxPage = 100;

    private SandboxManager Manager => http.Manager;

    public static void Map(IEndpointRouteBuilder group)
    {
        var sp = group.ServiceProvider;
        var api = new E2bRestEndpoints(sp.GetRequiredService<SandboxHttp>(), sp.GetRequiredService<E2bSandboxes>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<AgenticGateway.Sandboxes.Templates.TemplateStore>());
        const string sb = "/sandboxes/{sandboxID}";
        group.MapPost("/sandboxes", (HttpContext c) => api.CreateAsync(c)).WithSummary("E2B: create a sandbox");
        group.MapPost("/v2/sandboxes", (HttpContext c) => api.CreateAsync(c)).WithSummary("E2B: create a sandbox");
        group.MapGet("/sandboxes", (HttpContext c) => api.ListAsync(c, v2: false)).WithSummary("E2B: list running sandboxes");
        group.MapGet("/v2/sandboxes", (HttpContext c) => api.ListAsync(c, v2: true)).WithSummary("E2B: list sandboxes (state, metadata, template filters; pages)");
        group.MapGet("/sandboxes/metrics", (HttpContext c) => api.ManyMetricsAsync(c)).WithSummary("E2B: metrics of several sandboxes");
        group.MapGet(sb, (HttpContext c, string sandboxID) => api.GetAsync(c, sandboxID)).WithSummary("E2B: describe a sandbox");
        group.MapDelete(sb, (HttpContext c, string sandboxID) => api.KillAsync(c, sandboxID)).WithSummary("E2B: kill a sandbox");
        group.MapPost(sb + "/timeout", (HttpContext c, string sandboxID) => api.TimeoutAsync(c, sandboxID)).WithSummary("E2B: set a sandbox's timeout");
        group.MapPost(sb + "/refreshes", (HttpContext c, string sandboxID) => api.RefreshAsync(c, sandboxID)).WithSummary("E2B: extend a sandbox's time to live");
        group.MapPost(sb + "/connect", (HttpContext c, string sandboxID) => api.ConnectAsync(c, sandboxID)).WithSummary("E2B: connect (resumes a paused sandbox)");
        group.MapPost("/v2" + sb + "/connect", (HttpContext c, string sandboxID) => api.ConnectAsync(c, sandboxID)).WithSummary("E2B: connect (resumes a paused sandbox)");
        group.MapPost(sb + "/pause", (HttpContext c, string sandboxID) => api.PauseAsync(c, sandboxID)).WithSummary("E2B: pause a sandbox");
        group.MapPost(sb + "/resume", (HttpContext c, string sandboxID) => api.ResumeAsync(c, sandboxID)).WithSummary("E2B: resume a paused sandbox");
        group.MapGet(sb + "/logs", (HttpContext c, string sandboxID) => api.LogsAsync(c, sandboxID, v2: false)).WithSummary("E2B: a sandbox's lifecycle log");
        group.MapGet("/v2" + sb + "/logs", (HttpContext c, string sandboxID) => api.LogsAsync(c, sandboxID, v2: true)).WithSummary("E2B: a sandbox's lifecycle log");
        group.MapGet(sb + "/metrics", (HttpContext c, string sandboxID) => api.MetricsAsync(c, sandboxID)).WithSummary("E2B: a sandbox's metrics");
        group.MapPost(sb + "/snapshots", (HttpContext c, string sandboxID) => api.SnapshotAsync(c, sandboxID)).WithSummary("E2B: snapshot a sandbox (it keeps running)");
        group.MapPost(sb + "/fork", (HttpContext c, string sandboxID) => api.ForkAsync(c, sandboxID)).WithSummary("E2B: fork a sandbox into new ones");
        group.MapGet("/snapshots", (HttpContext c) => api.ListSnapshotsAsync(c)).WithSummary("E2B: list snapshots");
        group.MapDelete("/templates/{templateID}", (HttpContext c, string templateID) => api.DeleteTemplateAsync(c, templateID)).WithSummary("E2B: delete a snapshot");
    }

    private async Task CreateAsync(HttpContext c)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null || await RefusedForGuardrailsAsync(c)) return;
        if (await SandboxHttp.BodyAsync(c) is not { } body) return;
        // A snapshot's id is a template too (Sandbox.create(snapshotId)): a new sandbox started from it.
        var named = SandboxHttp.String(body, "templateID");
        var snapshot = named is not null ? Manager.FindSnapshot(owner, named) : null;
        // A custom template the caller built (POST /v3/templates or /v1/templates) names its own runtime.
        var custom = snapshot is null && named is not null && E2bTemplates.Runtime(named) is null && templates?.ForSandbox(owner, named) is ({ } found, null) ? found : null;
        var (request, error) = E2bCreateRequest.Parse(body, Manager.Options, snapshot?.Spec.Runtime ?? custom?.Runtime);
        if (error is not null) { await PipelineErrors.WriteAsync(c, error); return; }
        if (custom is not null) request = request! with { Spec = custom.ApplyTo(request!.Spec) };
        var (sandbox, refused) = snapshot is not null
            ? await Manager.CreateFromSnapshotAsync(owner, snapshot.Id, request!.Spec, c.RequestAborted)
            : await Manager.CreateAsync(owner, request!.Spec, c.RequestAborted);
        if (refused is not null) { await PipelineErrors.WriteAsync(c, refused); return; }
        var record = NewRecord(sandbox!, $"Sandbox created from template {request.Template} ({sandbox!.Runtime} on {sandbox.Instance.Isolation})");
        records.Add(record);
        records.Prune();
        await SandboxHttp.JsonAsync(c.Response, 201, w => WriteSandbox(w, record));
    }

    private async Task ListAsync(HttpContext c, bool v2)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var query = c.Request.Query;
        var (filter, filterError) = MetadataFilter(SandboxHttp.Query(c, "metadata"));
        if (filterError is not null) { await PipelineErrors.WriteAsync(c, filterError); return; }
        bool running = true, paused = v2;
        if (v2 && SandboxHttp.Query(c, "state") is not null)
        {
            running = paused = false;
            foreach (var state in query["state"].SelectMany(s => (s ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                if (state == E2bStates.Running) running = true;
                else if (state == E2bStates.Paused) paused = true;
                else { await PipelineErrors.WriteAsync(c, ApiError.BadRequest($"state must be running or paused, not '{SandboxHttp.Truncate(state)}'.", "state")); return; }
            }
        }
        var template = v2 ? SandboxHttp.Query(c, "template") : null;
        DateTimeOffset? startedAfter = null;
        if (v2 && SandboxHttp.Query(c, "startedAfter") is { } after)
        {
            if (!DateTimeOffset.TryParse(after, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("startedAfter must be an RFC 3339 date-time.", "startedAfter")); return; }
            startedAfter = at;
        }
        var ascending = false;
        if (v2 && SandboxHttp.Query(c, "order") is { } order)
        {
            if (order is not ("asc" or "desc")) { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("order must be asc or desc.", "order")); return; }
            ascending = order == "asc";
        }
        var limit = MaxPage;
        if (v2 && SandboxHttp.Query(c, "limit") is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPage))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest($"limit must be an integer between 1 and {MaxPage}.", "limit")); return; }
        var offset = 0;
        if (v2 && SandboxHttp.Query(c, "nextToken") is { } token && (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("nextToken is not one this gateway gave out.", "nextToken")); return; }

        var listed = new List<Listed>();
        if (running)
        {
            foreach (var s in Manager.List(owner)) listed.Add(Listed.Of(s));
            // With several hosts, the owner's running sandboxes on the others too, as their hosts last described them.
            if (http.Registry is { } registry)
                foreach (var remote in await registry.RemoteAsync(owner, c.RequestAborted))
                    if (Listed.Of(remote) is { } described) listed.Add(described);
        }
        if (paused)
            foreach (var p in Manager.ListPaused(owner)) listed.Add(Listed.Of(p));
        var matching = listed.Where(x => filter.All(f => x.Metadata.TryGetValue(f.Key, out var v) && v == f.Value)
                && (template is null || x.Template == template || x.Runtime == template)
                && (startedAfter is null || x.StartedAt >= startedAfter))
            .ToList();
        matching.Sort((a, b) => ascending ? a.StartedAt.CompareTo(b.StartedAt) : b.StartedAt.CompareTo(a.StartedAt));
        var page = matching.Skip(offset).Take(limit).ToList();
        if (v2)
        {
            if (offset + page.Count < matching.Count) c.Response.Headers["X-Next-Token"] = (offset + page.Count).ToString(CultureInfo.InvariantCulture);
            if (running) c.Response.Headers["X-Total-Running"] = matching.Count(x => x.State == E2bStates.Running).ToString(CultureInfo.InvariantCulture);
        }
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartArray();
            foreach (var x in page) WriteListed(w, x, detail: false, token: null);
            w.WriteEndArray();
        });
    }

    private async Task GetAsync(HttpContext c, string id)
    {
        var (owner, live, paused) = await FindAsync(c, id);
        if (owner is null) return;
        var listed = live is not null ? Listed.Of(live) : Listed.Of(paused!);
        // A key under sandbox_output guardrails gets no token here either (see RefusedForGuardrailsAsync).
        var token = Guarded(c) ? null : records.TokenFor(id);
        await SandboxHttp.JsonAsync(c.Response, 200, w => WriteListed(w, listed, detail: true, token));
    }

    private async Task KillAsync(HttpContext c, string id)
    {
        var (owner, live, paused) = await FindAsync(c, id);
        if (owner is null) return;
        if (live is not null) await Manager.EndAsync(live, "deleted");
        else if (!await Manager.DeletePausedAsync(owner, paused!.Id)) { await NotFoundAsync(c, id); return; }
        records.Remove(id);
        c.Response.StatusCode = 204;
    }

    private async Task TimeoutAsync(HttpContext c, string id)
    {
        var (sandbox, body) = await RunningWithBodyAsync(c, id);
        if (sandbox is null) return;
        if (!body.TryGetProperty("timeout", out var t) || t.ValueKind != JsonValueKind.Number)
        {
            await PipelineErrors.WriteAsync(c, ApiError.BadRequest("timeout (seconds from now) is required.", "timeout"));
            return;
        }
        var timeout = JsonValues.TrySeconds(t, 0, Manager.Options.Max.Timeout, out var seconds) ? seconds : TimeSpan.Zero;
        if (Manager.Extend(sandbox, timeout) is { } error) { await PipelineErrors.WriteAsync(c, error); return; }
        RecordFor(sandbox).Log(time.GetUtcNow(), "info", $"Timeout set to {timeout.TotalSeconds:0} s (ends {sandbox.ExpiresAt:O})");
        c.Response.StatusCode = 204;
    }

    /// <summary>Extends the time to live by <c>duration</c> (E2B: at most an hour; the sandbox's own timeout by default), never shortens it.</summary>
    private async Task RefreshAsync(HttpContext c, string id)
    {
        var (sandbox, body) = await RunningWithBodyAsync(c, id);
        if (sandbox is null) return;
        var duration = sandbox.Spec.Resources.Timeout;
        if (body.TryGetProperty("duration", out var d) && d.ValueKind != JsonValueKind.Null && !JsonValues.TrySeconds(d, 0, TimeSpan.FromHours(1), out duration))
        {
            await PipelineErrors.WriteAsync(c, ApiError.BadRequest("duration must be a number of seconds between 0 and 3600.", "duration"));
            return;
        }
        if (time.GetUtcNow() + duration > sandbox.ExpiresAt && Manager.Extend(sandbox, duration) is { } error) { await PipelineErrors.WriteAsync(c, error); return; }
        c.Response.StatusCode = 204;
    }

    /// <summary>A running sandbox: 200, its time to live only extended; a paused one: resumed, 201.</summary>
    private async Task ConnectAsync(HttpContext c, string id)
    {
        var (owner, live, paused) = await FindAsync(c, id);
        if (owner is null || await RefusedForGuardrailsAsync(c)) return;
        if (await SandboxHttp.BodyAsync(c) is not { } body) return;
        if (!TryTimeout(body, out var timeout, out var timeoutError)) { await PipelineErrors.WriteAsync(c, timeoutError!); return; }
        if (live is not null)
        {
            if (timeout is { } t && time.GetUtcNow() + t > live.ExpiresAt && Manager.Extend(live, t) is { } error) { await PipelineErrors.WriteAsync(c, error); return; }
            var record = RecordFor(live);
            await SandboxHttp.JsonAsync(c.Response, 200, w => WriteSandbox(w, record));
            return;
        }
        await ResumedAsync(c, owner, paused!, timeout);
    }

    /// <summary>The deprecated resume: a paused sandbox only (a running one is a 409).</summary>
    private async Task ResumeAsync(HttpContext c, string id)
    {
        var (owner, live, paused) = await FindAsync(c, id);
        if (owner is null || await RefusedForGuardrailsAsync(c)) return;
        if (await SandboxHttp.BodyAsync(c) is not { } body) return;
        if (live is not null) { await PipelineErrors.WriteAsync(c, new ApiError(409, $"Sandbox {id} is already running.", "invalid_request_error", "sandbox_running")); return; }
        if (!TryTimeout(body, out var timeout, out var timeoutError)) { await PipelineErrors.WriteAsync(c, timeoutError!); return; }
        await ResumedAsync(c, owner, paused!, timeout);
    }

    private async Task ResumedAsync(HttpContext c, string owner, PausedSandbox paused, TimeSpan? timeout)
    {
        var (sandbox, error) = await Manager.ResumeAsync(owner, paused.Id, timeout, c.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(c, error); return; }
        var record = RecordFor(sandbox!);
        record.State = E2bStates.Running;
        record.Log(time.GetUtcNow(), "info", "Sandbox resumed");
        await SandboxHttp.JsonAsync(c.Response, 201, w => WriteSandbox(w, record));
    }

    private async Task PauseAsync(HttpContext c, string id)
    {
        var (owner, live, _) = await FindAsync(c, id);
        if (owner is null) return;
        if (live is null) { await PipelineErrors.WriteAsync(c, new ApiError(409, $"Sandbox {id} is already paused.", "invalid_request_error", "sandbox_paused")); return; }
        if (await SandboxHttp.BodyAsync(c) is null) return;
        var record = RecordFor(live);
        // Paused before the sandbox goes, so its envd calls are refused as paused meanwhile and a prune keeps the record.
        record.State = E2bStates.Paused;
        var (_, error) = await Manager.PauseAsync(live, c.RequestAborted);
        if (error is not null)
        {
            if (Manager.Find(owner, id) is not null) record.State = E2bStates.Running;
            await PipelineErrors.WriteAsync(c, error);
            return;
        }
        record.Log(time.GetUtcNow(), "info", "Sandbox paused");
        c.Response.StatusCode = 204;
    }

    private async Task LogsAsync(HttpContext c, string id, bool v2)
    {
        var (owner, live, _) = await FindAsync(c, id);
        if (owner is null) return;
        var record = live is not null ? RecordFor(live) : records.Find(id);
        IEnumerable<E2bLogEntry> entries = record?.Owner == owner ? record.LogEntries.ToList() : [];
        var limit = 1000;
        if (SandboxHttp.Query(c, "limit") is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > 1000))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("limit must be an integer between 0 and 1000.", "limit")); return; }
        if (SandboxHttp.Query(c, v2 ? "cursor" : "start") is { } from)
        {
            if (!long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            { await PipelineErrors.WriteAsync(c, ApiError.BadRequest($"{(v2 ? "cursor" : "start")} must be a timestamp in milliseconds.", v2 ? "cursor" : "start")); return; }
            entries = entries.Where(e => e.Timestamp.ToUnixTimeMilliseconds() >= ms);
        }
        if (v2 && SandboxHttp.Query(c, "level") is { } level)
        {
            var min = Array.IndexOf(Levels, level);
            if (min < 0) { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("level must be debug, info, warn or error.", "level")); return; }
            entries = entries.Where(e => Array.IndexOf(Levels, e.Level) >= min);
        }
        if (v2 && SandboxHttp.Query(c, "search") is { } search) entries = entries.Where(e => e.Message.Contains(search, StringComparison.Ordinal));
        if (v2 && SandboxHttp.Query(c, "direction") == "backward") entries = entries.Reverse();
        var list = entries.Take(limit).ToList();
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartObject();
            if (!v2)
            {
                w.WriteStartArray("logs");
                foreach (var e in list)
                {
                    w.WriteStartObject();
                    w.WriteString("timestamp", e.Timestamp);
                    w.WriteString("line", e.Message);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteStartArray(v2 ? "logs" : "logEntries");
            foreach (var e in list)
            {
                w.WriteStartObject();
                w.WriteString("timestamp", e.Timestamp);
                w.WriteString("level", e.Level);
                w.WriteString("message", e.Message);
                w.WriteStartObject("fields");
                w.WriteString("sandboxID", id);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static readonly string[] Levels = ["debug", "info", "warn", "error"];

    /// <summary>A snapshot of a running sandbox, which keeps running; its id is a template for Sandbox.create.</summary>
    private async Task SnapshotAsync(HttpContext c, string id)
    {
        var (sandbox, body) = await RunningWithBodyAsync(c, id);
        if (sandbox is null) return;
        if (SandboxHttp.String(body, "name") is not null)
        {
            await PipelineErrors.WriteAsync(c, ApiError.BadRequest("Snapshot names are not supported here: create from the snapshotID this answers.", "name"));
            return;
        }
        var (snapshot, error) = await Manager.SnapshotAsync(sandbox, c.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(c, error); return; }
        RecordFor(sandbox).Log(time.GetUtcNow(), "info", $"Snapshot {snapshot!.Id} taken");
        await SandboxHttp.JsonAsync(c.Response, 201, w => WriteSnapshot(w, snapshot));
    }

    private async Task ListSnapshotsAsync(HttpContext c)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var limit = MaxPage;
        if (SandboxHttp.Query(c, "limit") is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPage))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest($"limit must be an integer between 1 and {MaxPage}.", "limit")); return; }
        var offset = 0;
        if (SandboxHttp.Query(c, "nextToken") is { } token && (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("nextToken is not one this gateway gave out.", "nextToken")); return; }
        var from = SandboxHttp.Query(c, "sandboxID");
        var name = SandboxHttp.Query(c, "name");
        var matching = Manager.ListSnapshots(owner).Where(s => (from is null || s.SandboxId == from) && (name is null || s.Id == name)).ToList();
        var page = matching.Skip(offset).Take(limit).ToList();
        if (offset + page.Count < matching.Count) c.Response.Headers["X-Next-Token"] = (offset + page.Count).ToString(CultureInfo.InvariantCulture);
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartArray();
            foreach (var s in page) WriteSnapshot(w, s);
            w.WriteEndArray();
        });
    }

    /// <summary>The SDK deletes a snapshot as a template; this gateway's own templates cannot be deleted.</summary>
    private async Task DeleteTemplateAsync(HttpContext c, string templateId)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        if (!await Manager.DeleteSnapshotAsync(owner, templateId))
        {
            await PipelineErrors.WriteAsync(c, new ApiError(404, $"No snapshot '{SandboxHttp.Truncate(templateId)}' (this gateway's templates cannot be deleted).", "invalid_request_error", "template_not_found"));
            return;
        }
        c.Response.StatusCode = 204;
    }

    /// <summary>
    /// Forks: one snapshot of the running sandbox (which keeps running, its id and end unchanged), <c>count</c> new
    /// sandboxes started from it, each reported on its own (a sandbox or an error), then the snapshot dropped.
    /// </summary>
    private async Task ForkAsync(HttpContext c, string id)
    {
        var (sandbox, body) = await RunningWithBodyAsync(c, id);
        if (sandbox is null) return;
        var count = 1;
        if (body.TryGetProperty("count", out var n) && n.ValueKind != JsonValueKind.Null && (!JsonValues.TryInt32(n, out count) || count is < 1 or > 100))
        { await PipelineErrors.WriteAsync(c, ApiError.BadRequest("count must be an integer between 1 and 100.", "count")); return; }
        if (!TryTimeout(body, out var timeout, out var timeoutError)) { await PipelineErrors.WriteAsync(c, timeoutError!); return; }
        if (await RefusedForGuardrailsAsync(c)) return;
        var (snapshot, error) = await Manager.SnapshotAsync(sandbox, c.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(c, error); return; }
        var results = new List<(E2bSandboxRecord? Record, ApiError? Error)>(count);
        try
        {
            var spec = sandbox.Spec with { Resources = sandbox.Spec.Resources with { Timeout = timeout ?? sandbox.Spec.Resources.Timeout } };
            for (var i = 0; i < count; i++)
            {
                var (fork, refused) = await Manager.CreateFromSnapshotAsync(sandbox.Owner, snapshot!.Id, spec, c.RequestAborted);
                if (fork is null) { results.Add((null, refused)); continue; }
                var record = records.GetOrAdd(NewRecord(fork, $"Sandbox forked from {sandbox.Id}"));
                results.Add((record, null));
            }
        }
        finally
        {
            await Manager.DeleteSnapshotAsync(sandbox.Owner, snapshot!.Id);
        }
        await SandboxHttp.JsonAsync(c.Response, 201, w =>
        {
            w.WriteStartArray();
            foreach (var (record, refused) in results)
            {
                w.WriteStartObject();
                if (record is not null)
                {
                    w.WritePropertyName("sandbox");
                    WriteSandbox(w, record);
                }
                else
                {
                    w.WriteStartObject("error");
                    w.WriteNumber("code", refused!.Status);
                    w.WriteString("message", refused.Message);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static void WriteSnapshot(Utf8JsonWriter w, SandboxSnapshotInfo s)
    {
        w.WriteStartObject();
        w.WriteString("snapshotID", s.Id);
        w.WriteStartArray("names");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private Task MetricsAsync(HttpContext c, string id) => E2bMetrics.SandboxAsync(c, http, id);

    private Task ManyMetricsAsync(HttpContext c) => E2bMetrics.ManyAsync(c, http);

    /// <summary>The caller's sandbox, running or paused; owner null after a 404 (also for another owner's: its existence is not revealed).</summary>
    private async Task<(string? Owner, Sandbox? Live, PausedSandbox? Paused)> FindAsync(HttpContext c, string id)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return (null, null, null);
        if (Manager.Find(owner, id) is { } live) return (owner, live, null);
        if (Manager.FindPaused(owner, id) is { } paused) return (owner, null, paused);
        await NotFoundAsync(c, id);
        return (null, null, null);
    }

    private async Task<(Sandbox? Sandbox, JsonElement Body)> RunningWithBodyAsync(HttpContext c, string id)
    {
        var (owner, live, _) = await FindAsync(c, id);
        if (owner is null) return (null, default);
        if (live is null) { await PipelineErrors.WriteAsync(c, new ApiError(409, $"Sandbox {id} is paused; connect to resume it first.", "invalid_request_error", "sandbox_paused")); return (null, default); }
        if (await SandboxHttp.BodyAsync(c) is not { } body) return (null, default);
        return (live, body);
    }

    /// <summary>
    /// A key under sandbox_output guardrails gets no access token: envd and the code interpreter stream what runs in
    /// the sandbox to the SDK unread, as the provider pass-through forwards unread, and it refuses guarded callers too.
    /// </summary>
    private static async Task<bool> RefusedForGuardrailsAsync(HttpContext c)
    {
        if (!Guarded(c)) return false;
        await PipelineErrors.WriteAsync(c, new ApiError(403, "sandbox_output guardrails apply to this key, and the E2B API's sandbox calls (commands, files, runCode) cannot be checked by them; use the native sandbox API (/v1/sandboxes).", "permission_error", "guardrails_unsupported"));
        return true;
    }

    private static bool Guarded(HttpContext c) => SandboxOutputGuard.Applies(c.RequestServices.GetService<IContentGuardrails>(), c.Features.Get<Keys.Caller>());

    private static Task NotFoundAsync(HttpContext c, string id) =>
        PipelineErrors.WriteAsync(c, new ApiError(404, $"Sandbox {SandboxHttp.Truncate(id)} not found (it may have timed out or been killed).", "invalid_request_error", "sandbox_not_found"));

    /// <summary>The optional <c>timeout</c> (seconds) of connect and resume; E2B's 0 means "unchanged".</summary>
    private bool TryTimeout(JsonElement body, out TimeSpan? timeout, out ApiError? error)
    {
        timeout = null;
        error = null;
        if (!body.TryGetProperty("timeout", out var t) || t.ValueKind == JsonValueKind.Null) return true;
        if (!JsonValues.TrySeconds(t, 0, Manager.Options.Max.Timeout, out var seconds))
        {
            error = ApiError.BadRequest($"timeout must be a number of seconds between 0 and {Manager.Options.Max.Timeout.TotalSeconds:0}.", "timeout");
            return false;
        }
        if (seconds > TimeSpan.Zero) timeout = seconds;
        return true;
    }

    /// <summary>
    /// The E2B record of a live sandbox, made when it has none: a sandbox created through the native API becomes
    /// reachable by the E2B SDK once its owner connects to it.
    /// </summary>
    private E2bSandboxRecord RecordFor(Sandbox sandbox) =>
        records.Find(sandbox.Id) is { } r && r.Owner == sandbox.Owner ? r
        : records.GetOrAdd(NewRecord(sandbox, $"Sandbox created ({sandbox.Runtime} on {sandbox.Instance.Isolation})"));

    private E2bSandboxRecord NewRecord(Sandbox sandbox, string created)
    {
        var record = records.New(sandbox.Id, sandbox.Owner, sandbox.Spec, sandbox.CreatedAt, E2bStates.Running);
        record.Log(sandbox.CreatedAt, "info", created);
        return record;
    }

    /// <summary><c>?metadata=user%3Dabc%26app%3Dprod</c>: pairs whose keys and values the SDK URL-encoded once more.</summary>
    private static (List<KeyValuePair<string, string>> Filter, ApiError? Error) MetadataFilter(string? query)
    {
        var filter = new List<KeyValuePair<string, string>>();
        if (query is null) return (filter, null);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) return (filter, ApiError.BadRequest("metadata must be key=value pairs joined by '&' (URL-encoded).", "metadata"));
            filter.Add(new(Decode(pair[..eq]), Decode(pair[(eq + 1)..])));
        }
        return (filter, null);

        // Form decoding (URLSearchParams wrote it), then the SDK's own encodeURIComponent undone.
        static string Decode(string s) => Uri.UnescapeDataString(Uri.UnescapeDataString(s.Replace('+', ' ')));
    }

    /// <summary>E2B's <c>Sandbox</c>: what create, connect and resume answer, with the envd access token.</summary>
    private void WriteSandbox(Utf8JsonWriter w, E2bSandboxRecord record)
    {
        w.WriteStartObject();
        w.WriteString("templateID", record.TemplateId);
        w.WriteString("sandboxID", record.SandboxId);
        w.WriteString("alias", record.TemplateId);
        w.WriteString("clientID", ClientId);
        w.WriteString("envdVersion", EnvdVersion);
        w.WriteString("envdAccessToken", records.TokenFor(record.SandboxId));
        // E2B hands one out for a sandbox whose ports are private; the code interpreter SDKs send it on their context
        // calls (never the envd token), so here it is what those calls are checked by.
        w.WriteString("trafficAccessToken", records.TrafficTokenFor(record.SandboxId));
        w.WriteNull("domain");
        w.WriteEndObject();
    }

    /// <summary>E2B's <c>ListedSandbox</c>, or with <paramref name="detail"/> its <c>SandboxDetail</c>.</summary>
    private static void WriteListed(Utf8JsonWriter w, Listed x, bool detail, string? token)
    {
        w.WriteStartObject();
        w.WriteString("templateID", x.Template);
        w.WriteString("alias", x.Template);
        w.WriteString("sandboxID", x.Id);
        w.WriteString("clientID", ClientId);
        w.WriteString("startedAt", x.StartedAt);
        w.WriteString("endAt", x.EndAt);
        w.WriteNumber("cpuCount", Math.Max(1, (int)Math.Ceiling(x.Cpu)));
        w.WriteNumber("memoryMB", x.MemoryMb);
        w.WriteNumber("diskSizeMB", x.DiskMb);
        w.WriteStartObject("metadata");
        foreach (var (k, v) in x.Metadata) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteString("state", x.State);
        w.WriteString("envdVersion", EnvdVersion);
        w.WriteStartArray("volumeMounts");
        w.WriteEndArray();
        if (detail)
        {
            if (token is not null) w.WriteString("envdAccessToken", token);
            w.WriteBoolean("allowInternetAccess", x.Internet);
            w.WriteNull("domain");
            w.WriteStartObject("lifecycle");
            w.WriteBoolean("autoResume", false);
            w.WriteString("onTimeout", x.AutoPause ? "pause" : "kill");
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>A sandbox as E2B lists it, running or paused, on this host or another.</summary>
    private sealed record Listed(string Id, string Template, string Runtime, DateTimeOffset StartedAt, DateTimeOffset EndAt, string State,
        double Cpu, int MemoryMb, int DiskMb, IReadOnlyDictionary<string, string> Metadata, bool Internet, bool AutoPause)
    {
        public static Listed Of(Sandbox s) => Of(s.Id, s.Spec, s.CreatedAt, s.ExpiresAt, E2bStates.Running);

        public static Listed Of(PausedSandbox p) => Of(p.Id, p.Spec, p.CreatedAt, p.PausedAt, E2bStates.Paused);

        private static Listed Of(string id, SandboxSpec spec, DateTimeOffset startedAt, DateTimeOffset endAt, string state) =>
            new(id, E2bSandboxes.TemplateOf(spec), spec.Runtime, startedAt, endAt, state, spec.Resources.Cpu, spec.Resources.MemoryMb, spec.Resources.DiskMb,
                spec.Metadata, spec.Network.Mode != NetworkMode.None, spec.AutoPause);

        /// <summary>A running sandbox of another host, from the native description it keeps in the registry; null if that is not one.</summary>
        public static Listed? Of(RemoteSandbox remote)
        {
            try
            {
                using var document = JsonDocument.Parse(remote.Json);
                var d = document.RootElement;
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                if (d.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
                    foreach (var p in m.EnumerateObject())
                        if (p.Value.ValueKind == JsonValueKind.String) metadata[p.Name] = p.Value.GetString()!;
                var template = Text(d, "e2b_template") ?? Text(d, "template") ?? remote.Runtime;
                return new(remote.Id, template, remote.Runtime, d.GetProperty("created_at").GetDateTimeOffset(), d.GetProperty("expires_at").GetDateTimeOffset(),
                    E2bStates.Running, d.GetProperty("cpu").GetDouble(), d.GetProperty("memory_mb").GetInt32(), d.GetProperty("disk_mb").GetInt32(),
                    metadata, Text(d, "network") is "allowlist", AutoPause: false);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // Written by a host of another version, or cut short: left out rather than failing the whole list.
                return null;
            }
        }

        private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
