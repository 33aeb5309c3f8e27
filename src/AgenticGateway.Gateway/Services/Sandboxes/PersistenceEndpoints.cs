using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Persistence;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Pause, resume and snapshots of the native API. A paused sandbox keeps its id (GET shows it "paused", DELETE drops
/// its state); a snapshot has its own id and forks new sandboxes (<c>POST /v1/sandboxes {"snapshot": id}</c>). Every
/// route is scoped to the caller: another key's sandbox or snapshot is a 404.
/// </summary>
internal static class PersistenceEndpoints
{
    public static void Map(IEndpointRouteBuilder app, SandboxHttp http)
    {
        app.MapPost("/v1/sandboxes/{id}/pause", (HttpContext c, string id) => PauseAsync(c, http, id)).WithSummary("Pause a sandbox: its state is kept on disk, its processes end");
        app.MapPost("/v1/sandboxes/{id}/resume", (HttpContext c, string id) => ResumeAsync(c, http, id)).WithSummary("Resume a paused sandbox (same id)");
        app.MapPost("/v1/sandboxes/{id}/snapshots", (HttpContext c, string id) => SnapshotAsync(c, http, id)).WithSummary("Snapshot a running sandbox (it keeps running)");
        app.MapGet("/v1/snapshots", (HttpContext c) => ListAsync(c, http)).WithSummary("List your snapshots");
        app.MapGet("/v1/snapshots/{id}", (HttpContext c, string id) => GetAsync(c, http, id)).WithSummary("Describe a snapshot");
        app.MapDelete("/v1/snapshots/{id}", (HttpContext c, string id) => DeleteAsync(c, http, id)).WithSummary("Delete a snapshot");
    }

    /// <summary>The create body's <c>snapshot</c> (fork from it), null when absent; a non-string is a 400.</summary>
    public static string? SnapshotOf(JsonElement body, out ApiError? error)
    {
        error = null;
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("snapshot", out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 and <= 128 } id) return id;
        error = ApiError.BadRequest("snapshot must be a snapshot id (from POST /v1/sandboxes/{id}/snapshots).", "snapshot");
        return null;
    }

    /// <summary>GET or DELETE of a paused sandbox of the caller's: answered here (true), else left to the live-sandbox route.</summary>
    public static async Task<bool> PausedAsync(HttpContext context, SandboxHttp http, string id, bool deleted)
    {
        if (http.Manager.Unavailable is not null) return false;
        var owner = SandboxHttp.OwnerOf(context.Features.Get<Caller>()!);
        if (http.Manager.FindPaused(owner, id) is not { } paused) return false;
        if (!deleted)
        {
            await SandboxHttp.JsonAsync(context.Response, 200, w => WritePaused(w, paused));
            return true;
        }
        if (!await http.Manager.DeletePausedAsync(owner, id))
        {
            await PipelineErrors.WriteAsync(context, new ApiError(409, $"The paused sandbox {id} is being resumed; try again.", "invalid_request_error", "sandbox_busy"));
            return true;
        }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "sandbox.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteString("status", "destroyed");
            w.WriteEndObject();
        });
        return true;
    }

    private static async Task PauseAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        var (paused, error) = await http.Manager.PauseAsync(sandbox, context.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w => WritePaused(w, paused!));
    }

    private static async Task ResumeAsync(HttpContext context, SandboxHttp http, string id)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        TimeSpan? timeout = null;
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("timeout", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            var max = http.Manager.Options.Max.Timeout;
            if (!JsonValues.TrySeconds(t, 1, max, out var seconds))
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"timeout must be a number of seconds between 1 and {max.TotalSeconds:0}.", "timeout"));
                return;
            }
            timeout = seconds;
        }
        var (sandbox, error) = await http.Manager.ResumeAsync(owner, id, timeout, context.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w => SandboxEndpoints.Write(w, sandbox!, "running"));
    }

    private static async Task SnapshotAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        var (snapshot, error) = await http.Manager.SnapshotAsync(sandbox, context.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        await SandboxHttp.JsonAsync(context.Response, 201, w => WriteSnapshot(w, snapshot!));
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        var snapshots = http.Manager.ListSnapshots(owner).ToList();
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var s in snapshots) WriteSnapshot(w, s);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task GetAsync(HttpContext context, SandboxHttp http, string id)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (http.Manager.FindSnapshot(owner, id) is not { } snapshot) { await NotFoundAsync(context, id); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w => WriteSnapshot(w, snapshot));
    }

    private static async Task DeleteAsync(HttpContext context, SandboxHttp http, string id)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        if (!await http.Manager.DeleteSnapshotAsync(owner, id)) { await NotFoundAsync(context, id); return; }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "snapshot.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    private static Task NotFoundAsync(HttpContext context, string id) =>
        PipelineErrors.WriteAsync(context, new ApiError(404, $"No snapshot '{SandboxHttp.Truncate(id)}'.", "invalid_request_error", "snapshot_not_found", "id"));

    public static void WritePaused(Utf8JsonWriter w, PausedSandbox p)
    {
        w.WriteStartObject();
        w.WriteString("id", p.Id);
        w.WriteString("sandbox_id", p.Id);
        w.WriteString("object", "sandbox");
        w.WriteString("status", "paused");
        w.WriteString("runtime", p.Spec.Runtime);
        w.WriteString("isolation", p.Isolation);
        w.WriteString("created_at", p.CreatedAt);
        w.WriteString("paused_at", p.PausedAt);
        w.WriteNumber("size_bytes", p.SizeBytes);
        w.WriteBoolean("auto_pause", p.Spec.AutoPause);
        WriteResources(w, p.Spec);
        w.WriteEndObject();
    }

    private static void WriteSnapshot(Utf8JsonWriter w, SandboxSnapshotInfo s)
    {
        w.WriteStartObject();
        w.WriteString("id", s.Id);
        w.WriteString("object", "sandbox.snapshot");
        w.WriteString("sandbox_id", s.SandboxId);
        w.WriteString("runtime", s.Spec.Runtime);
        w.WriteString("isolation", s.Isolation);
        w.WriteString("created_at", s.CreatedAt);
        w.WriteNumber("size_bytes", s.SizeBytes);
        WriteResources(w, s.Spec);
        w.WriteEndObject();
    }

    private static void WriteResources(Utf8JsonWriter w, SandboxSpec spec)
    {
        var r = spec.Resources;
        w.WriteNumber("timeout", Math.Round(r.Timeout.TotalSeconds));
        w.WriteNumber("memory_mb", r.MemoryMb);
        w.WriteNumber("cpu", r.Cpu);
        w.WriteNumber("disk_mb", r.DiskMb);
        w.WriteStartObject("metadata");
        foreach (var (k, v) in spec.Metadata) w.WriteString(k, v);
        w.WriteEndObject();
    }
}
