using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Interpreter;

/// <summary>
/// The code interpreter's server (port 49999 in an E2B sandbox), as @e2b/code-interpreter calls it: <c>/execute</c>
/// streams a run as JSON lines (<see cref="ExecutionStream"/>), <c>/contexts</c> creates, lists, restarts and removes
/// interpreter contexts. Contexts and runs are the sandbox agent's, the same the native execute API uses; E2B's
/// "javascript" is our node context.
/// </summary>
internal sealed partial class InterpreterEndpoints(SandboxManager manager, E2bSandboxes records, TimeProvider time)
{
    private const int MaxCodeBytes = 1 << 20;

    public static void Map(IEndpointRouteBuilder group)
    {
        var sp = group.ServiceProvider;
        var api = new InterpreterEndpoints(sp.GetRequiredService<SandboxManager>(), sp.GetRequiredService<E2bSandboxes>(), sp.GetRequiredService<TimeProvider>());
        group.MapPost("/execute", (HttpContext c) => api.ExecuteAsync(c)).WithSummary("E2B code interpreter: run code, streamed as JSON lines");
        group.MapPost("/contexts", (HttpContext c) => api.CreateContextAsync(c)).WithSummary("E2B code interpreter: create a context");
        group.MapGet("/contexts", (HttpContext c) => api.ListContextsAsync(c)).WithSummary("E2B code interpreter: list contexts");
        group.MapPost("/contexts/{contextId}/restart", (HttpContext c, string contextId) => api.ContextOpAsync(c, contextId, AgentOps.ContextRestart)).WithSummary("E2B code interpreter: restart a context");
        group.MapDelete("/contexts/{contextId}", (HttpContext c, string contextId) => api.ContextOpAsync(c, contextId, AgentOps.ContextRemove)).WithSummary("E2B code interpreter: remove a context");
    }

    /// <summary>E2B's language names as the agent's (null: not one we run).</summary>
    public static string? AgentLanguage(string? e2b) => e2b?.Trim().ToLowerInvariant() switch
    {
        null or "" or "python" or "python3" => "python",
        "javascript" or "js" or "node" or "nodejs" => "node",
        "bash" or "sh" => "bash",
        _ => null,
    };

    /// <summary>The agent's language names as E2B's.</summary>
    public static string E2bLanguage(string agent) => agent == "node" ? "javascript" : agent;

    private async Task ExecuteAsync(HttpContext c)
    {
        var (sandbox, record, refused) = E2bAccess.Sandbox(c, records, manager, E2bErrorShape.Envd, E2bAccess.InterpreterPort);
        if (refused is not null) { await refused.ExecuteAsync(c); return; }
        if (await BodyAsync(c, MaxCodeBytes + 64 * 1024) is not { } body) return;
        if (SandboxHttp.String(body, "code") is not { } code) { await Fail(400, "code (a string) is required.").ExecuteAsync(c); return; }
        var contextId = SandboxHttp.String(body, "context_id");
        var language = SandboxHttp.String(body, "language");
        if (contextId is not null && language is not null) { await Fail(400, "Only one of context_id or language can be provided.").ExecuteAsync(c); return; }
        if (contextId is not null && !ContextName().IsMatch(contextId)) { await Fail(404, $"Context {SandboxHttp.Truncate(contextId)} not found").ExecuteAsync(c); return; }
        var env = sandbox!.Spec.Env;
        if (body.TryGetProperty("env_vars", out var envJson))
        {
            var (extra, envError) = SandboxSpec.StringMap(envJson, "env_vars", 256, 32 * 1024, SandboxSpec.EnvName());
            if (envError is not null) { await Fail(400, envError.Message).ExecuteAsync(c); return; }
            env = env.SetItems(extra);
        }
        if (contextId is null)
        {
            // A language's default context (the runtime's, created at start, or one made on first use), as E2B keeps one per language.
            var agentLanguage = language is null ? sandbox.Runtime : AgentLanguage(language);
            if (agentLanguage is null) { await Fail(400, $"Language '{SandboxHttp.Truncate(language!)}' is not available here: python, javascript or bash.").ExecuteAsync(c); return; }
            try { await sandbox.EnsureContextAsync(agentLanguage, c.RequestAborted); }
            catch (AgentException ex) { await Fail(ex).ExecuteAsync(c); return; }
            contextId = agentLanguage;
        }
        // The SDK ends a run by closing the request (its timeoutMs); the agent's own limit is the sandbox's remaining life.
        var timeout = sandbox.ExpiresAt - time.GetUtcNow();
        if (timeout > manager.Options.Max.Timeout) timeout = manager.Options.Max.Timeout;
        if (timeout < TimeSpan.FromSeconds(1)) timeout = TimeSpan.FromSeconds(1);
        var started = time.GetTimestamp();
        // In turn with the context's other runs; headers go out while waiting long, so the client's run timer starts.
        var turn = RunQueue.For(sandbox, contextId);
        var acquired = false;
        try
        {
            if (turn is not null && !(acquired = await turn.WaitAsync(ExecutionStream.StartWindow, c.RequestAborted)))
            {
                await ExecutionStream.StartAsync(c.Response, c.RequestAborted);
                await turn.WaitAsync(c.RequestAborted);
                acquired = true;
            }
            for (var attempt = 0; ; attempt++)
            {
                var call = CodeExecution.Start(sandbox, contextId, code, timeout, manager.Options.MaxOutputBytes, env: env);
                if (await ExecutionStream.WriteAsync(c, call, timeout, () => record!.ExecutionCounts.AddOrUpdate(contextId, 1, (_, n) => n + 1))) break;
                if (time.GetElapsedTime(started) > timeout) { await ExecutionStream.RefuseAsync(c, 409, "SandboxError", $"Context {contextId} is still running another execution."); break; }
                await Task.Delay(RunQueue.Backoff(attempt), time, c.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (c.RequestAborted.IsCancellationRequested) { }
        finally
        {
            if (acquired) turn!.Release();
            // Labelled by language: a context id starts with its language (the defaults are the language).
            var label = contextId.Split('-', 2)[0];
            manager.Metrics.Executed(SandboxOptions.Runtimes.Contains(label) ? label : "other", time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task CreateContextAsync(HttpContext c)
    {
        var (sandbox, _, refused) = E2bAccess.Sandbox(c, records, manager, E2bErrorShape.Envd, E2bAccess.InterpreterPort, trafficToken: true);
        if (refused is not null) { await refused.ExecuteAsync(c); return; }
        if (await BodyAsync(c, 64 * 1024) is not { } body) return;
        var requested = SandboxHttp.String(body, "language");
        var language = AgentLanguage(requested);
        if (language is null) { await Fail(400, $"Language '{SandboxHttp.Truncate(requested!)}' is not available here: python, javascript or bash.").ExecuteAsync(c); return; }
        var cwd = SandboxHttp.String(body, "cwd");
        if (cwd is not null && (cwd.Length > 4096 || cwd.Contains('\0'))) { await Fail(400, "cwd must be a path.").ExecuteAsync(c); return; }
        // E2B's context ids are kernel UUIDs; ours name the language too, which the agent's own listing shows.
        var id = $"{language}-{Guid.NewGuid():N}";
        JsonElement done;
        try
        {
            done = await sandbox!.Agent.CallAsync(AgentOps.ContextCreate, w =>
            {
                w.WriteString("context", id);
                w.WriteString("language", language);
                if (cwd is not null) w.WriteString("cwd", cwd);
            }, c.RequestAborted);
        }
        catch (AgentException ex) { await Fail(ex).ExecuteAsync(c); return; }
        sandbox.ContextKnown(id);
        await SandboxHttp.JsonAsync(c.Response, 200, w => WriteContext(w, done));
    }

    private async Task ListContextsAsync(HttpContext c)
    {
        var (sandbox, _, refused) = E2bAccess.Sandbox(c, records, manager, E2bErrorShape.Envd, E2bAccess.InterpreterPort, trafficToken: true);
        if (refused is not null) { await refused.ExecuteAsync(c); return; }
        JsonElement done;
        try { done = await sandbox!.Agent.CallAsync(AgentOps.ContextList, null, c.RequestAborted); }
        catch (AgentException ex) { await Fail(ex).ExecuteAsync(c); return; }
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartArray();
            if (done.TryGetProperty("contexts", out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var context in list.EnumerateArray()) WriteContext(w, context);
            w.WriteEndArray();
        });
    }

    private async Task ContextOpAsync(HttpContext c, string contextId, string op)
    {
        var (sandbox, record, refused) = E2bAccess.Sandbox(c, records, manager, E2bErrorShape.Envd, E2bAccess.InterpreterPort, trafficToken: true);
        if (refused is not null) { await refused.ExecuteAsync(c); return; }
        if (!ContextName().IsMatch(contextId)) { await Fail(404, $"Context {SandboxHttp.Truncate(contextId)} not found").ExecuteAsync(c); return; }
        try { await sandbox!.Agent.CallAsync(op, w => w.WriteString("context", contextId), c.RequestAborted); }
        catch (AgentException ex) { await Fail(ex).ExecuteAsync(c); return; }
        // A restarted context counts its executions from one again, as a restarted kernel does.
        record!.ExecutionCounts.TryRemove(contextId, out _);
        if (op == AgentOps.ContextRemove)
        {
            sandbox.ContextForgotten(contextId);
            RunQueue.Forget(sandbox, contextId);
        }
        c.Response.StatusCode = 204;
    }

    /// <summary>E2B's <c>Context</c>: id, language, cwd.</summary>
    private static void WriteContext(Utf8JsonWriter w, JsonElement info)
    {
        w.WriteStartObject();
        w.WriteString("id", info.TryGetProperty("context", out var id) ? id.GetString() : "");
        w.WriteString("language", E2bLanguage(info.TryGetProperty("language", out var l) ? l.GetString() ?? "" : ""));
        w.WriteString("cwd", info.TryGetProperty("cwd", out var cwd) ? cwd.GetString() : "/home/user");
        w.WriteEndObject();
    }

    /// <summary>The JSON body (an empty body is an empty object), or null after the error.</summary>
    private static async Task<JsonElement?> BodyAsync(HttpContext c, long maxBytes)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(c.Request, maxBytes, c.RequestAborted);
        if (error is not null) await Fail(error.Status, error.Message).ExecuteAsync(c);
        return body;
    }

    private static E2bError Fail(int status, string message) => new(status, message, E2bErrorShape.Envd);

    private static E2bError Fail(AgentException ex) => E2bError.From(SandboxHttp.FromAgent(ex), E2bErrorShape.Envd);

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex ContextName();
}
