using AgenticGateway.Sandboxes.Protocol;
using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>What every sandbox route shares: who is calling (the owner), finding their sandbox, JSON in and out, error mapping.</summary>
internal sealed class SandboxHttp(SandboxManager manager, Hosts.SandboxRegistry? registry = null)
{
    public SandboxManager Manager { get; } = manager;

    /// <summary>The other sandbox hosts' registry (<c>sandboxes.hosts</c>), or null when this host's sandboxes are all there are.</summary>
    public Hosts.SandboxRegistry? Registry { get; } = registry;

    /// <summary>
    /// The caller's owner id (the pipeline authenticated the caller), or null after writing the error. The master key is
    /// one owner; each virtual key another.
    /// </summary>
    public async Task<string?> OwnerAsync(HttpContext context)
    {
        // A gateway in front of several hosts without sandboxes of its own still lists theirs (the others are forwarded).
        if (Manager.Unavailable is { } reason && Registry is null)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"The sandbox API is off on this gateway: {reason}.", "invalid_request_error", "sandboxes_disabled"));
            return null;
        }
        return OwnerOf(context.Features.Get<Caller>()!);
    }

    public static string OwnerOf(Caller caller) =>
        caller.Key is { } key ? "key:" + key.Token
        : caller.Identity?.User is { } user ? "user:" + user.UserId
        : "admin";

    /// <summary>The caller's sandbox by id, or null after a 404 (also for another owner's sandbox: its existence is not revealed).</summary>
    public async Task<(string? Owner, Sandbox? Sandbox)> SandboxAsync(HttpContext context, string id)
    {
        var owner = await OwnerAsync(context);
        if (owner is null) return (null, null);
        var sandbox = Manager.Find(owner, id);
        if (sandbox is null)
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"No sandbox '{Truncate(id)}' (it may have expired or been deleted).", "invalid_request_error", "sandbox_not_found", "id"));
        return (owner, sandbox);
    }

    /// <summary>The JSON body (an empty body is an empty object), or null after a 400/408/413.</summary>
    public static async Task<JsonElement?> BodyAsync(HttpContext context, long maxBytes = 4 << 20)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(context.Request, maxBytes, context.RequestAborted);
        if (error is not null) await PipelineErrors.WriteAsync(context, error);
        return body;
    }

    public static Task JsonAsync(HttpResponse response, int status, Action<Utf8JsonWriter> write)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    /// <summary>
    /// One agent request answering one API call: its "done" goes to <paramref name="write"/> as the JSON response, an
    /// agent refusal becomes the HTTP error its code means.
    /// </summary>
    public static async Task AgentAsync(HttpContext context, Sandbox sandbox, string op, Action<Utf8JsonWriter>? args, Action<Utf8JsonWriter, JsonElement> write, int status = 200)
    {
        JsonElement done;
        try { done = await sandbox.Agent.CallAsync(op, args, context.RequestAborted); }
        catch (AgentException ex) { await PipelineErrors.WriteAsync(context, FromAgent(ex)); return; }
        await JsonAsync(context.Response, status, w => write(w, done));
    }

    /// <summary>An agent's array (contexts, processes, directory entries) as a list object.</summary>
    public static Action<Utf8JsonWriter, JsonElement> List(string property) => (w, done) =>
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WritePropertyName("data");
        if (done.TryGetProperty(property, out var list)) list.WriteTo(w); else { w.WriteStartArray(); w.WriteEndArray(); }
        w.WriteEndObject();
    };

    /// <summary>The answer of an operation that has nothing to report but success.</summary>
    public static void Ok(Utf8JsonWriter w, JsonElement _)
    {
        w.WriteStartObject();
        w.WriteBoolean("ok", true);
        w.WriteEndObject();
    }

    /// <summary>The sandbox's environment with the request's <c>env</c> (or E2B's <c>envs</c>) over it; null after a 400.</summary>
    public static async Task<ImmutableDictionary<string, string>?> EnvAsync(HttpContext context, JsonElement body, ImmutableDictionary<string, string> sandboxEnv)
    {
        if (!body.TryGetProperty("env", out var json) && !body.TryGetProperty("envs", out json)) return sandboxEnv;
        var (extra, error) = SandboxSpec.StringMap(json, "env", 256, 32 * 1024, SandboxSpec.EnvName());
        if (error is null) return sandboxEnv.SetItems(extra);
        await PipelineErrors.WriteAsync(context, error);
        return null;
    }

    /// <summary>An agent request's <c>env</c> argument (left out when empty).</summary>
    public static void WriteEnv(Utf8JsonWriter w, IReadOnlyDictionary<string, string> env)
    {
        if (env.Count == 0) return;
        w.WriteStartObject("env");
        foreach (var (k, v) in env) w.WriteString(k, v);
        w.WriteEndObject();
    }

    /// <summary>An agent's refusal in the gateway's error shape, with the status its code means.</summary>
    public static ApiError FromAgent(AgentException ex) => ex.Code switch
    {
        AgentErrors.Invalid => ApiError.BadRequest(ex.Message),
        AgentErrors.NotFound => new ApiError(404, ex.Message, "invalid_request_error", "not_found"),
        AgentErrors.Exists => new ApiError(409, ex.Message, "invalid_request_error", "already_exists"),
        AgentErrors.Busy => new ApiError(409, ex.Message, "invalid_request_error", "context_busy"),
        AgentErrors.Denied => new ApiError(403, ex.Message, "permission_error", "path_denied"),
        AgentErrors.TooLarge => new ApiError(413, ex.Message, "invalid_request_error", "too_large"),
        AgentErrors.Limit => new ApiError(429, ex.Message, "rate_limit_error", "sandbox_process_limit"),
        "sandbox_gone" => new ApiError(410, "The sandbox has ended.", "invalid_request_error", "sandbox_ended"),
        _ => new ApiError(502, $"The sandbox agent failed: {ex.Message}", "sandbox_error", "sandbox_agent_error"),
    };

    public static string? Query(HttpContext context, string name) =>
        context.Request.Query.TryGetValue(name, out var v) && v.Count > 0 && !string.IsNullOrEmpty(v[0]) ? v[0] : null;

    public static string Truncate(string s) => s.Length > 64 ? s[..64] + "..." : s;

    public static string? String(JsonElement body, params string[] names)
    {
        foreach (var name in names)
            if (body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String) return v.GetString();
        return null;
    }

    /// <summary>A timeout in seconds from the body, or the default; null (after a 400) when it is not a positive number.</summary>
    public static bool TryTimeout(JsonElement body, TimeSpan fallback, TimeSpan max, out TimeSpan timeout, out ApiError? error)
    {
        timeout = fallback;
        error = null;
        if (!body.TryGetProperty("timeout", out var t) || t.ValueKind == JsonValueKind.Null) return true;
        if (!JsonValues.TrySeconds(t, 0, max, out timeout) || timeout <= TimeSpan.Zero)
        {
            error = ApiError.BadRequest($"timeout must be a number of seconds between 0 and {max.TotalSeconds:0}.", "timeout");
            return false;
        }
        return true;
    }

    /// <summary>Whether the client asked for Server-Sent Events (Accept header or "stream": true).</summary>
    public static bool WantsStream(HttpContext context, JsonElement body) =>
        (body.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True)
        || context.Request.Headers.Accept.Any(a => a is not null && a.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));
}
