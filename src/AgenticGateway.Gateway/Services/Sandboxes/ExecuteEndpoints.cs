using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Code execution in persistent contexts (variables, imports and functions survive, as in a Jupyter kernel), and the
/// named contexts themselves. A result is JSON, or Server-Sent Events as it runs when the client asks for a stream.
/// </summary>
internal static class ExecuteEndpoints
{
    private const int MaxCodeBytes = 1 << 20;

    public static void Map(IEndpointRouteBuilder app, SandboxHttp http)
    {
        app.MapPost("/v1/sandboxes/{id}/execute", (HttpContext c, string id) => ExecuteAsync(c, http, id)).WithSummary("Run code in a persistent context");
        app.MapPost("/v1/sandbox/{id}/execute", (HttpContext c, string id) => ExecuteAsync(c, http, id)).WithSummary("Run code (seed 000 path)");
        app.MapPost("/v1/sandboxes/{id}/contexts", (HttpContext c, string id) => CreateContextAsync(c, http, id)).WithSummary("Create a named context");
        app.MapGet("/v1/sandboxes/{id}/contexts", (HttpContext c, string id) => ListContextsAsync(c, http, id)).WithSummary("List contexts");
        app.MapPost("/v1/sandboxes/{id}/contexts/{name}/restart", (HttpContext c, string id, string name) => ContextOpAsync(c, http, id, name, AgentOps.ContextRestart)).WithSummary("Restart a context (its state is lost)");
        app.MapDelete("/v1/sandboxes/{id}/contexts/{name}", (HttpContext c, string id, string name) => ContextOpAsync(c, http, id, name, AgentOps.ContextRemove)).WithSummary("Remove a context");
    }

    public static string? Language(string? requested) => requested?.ToLowerInvariant() switch
    {
        null => null,
        "python" or "python3" or "py" => "python",
        "node" or "javascript" or "js" or "nodejs" => "node",
        "bash" or "sh" or "shell" => "bash",
        _ => "",
    };

    private static async Task ExecuteAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context, MaxCodeBytes + 64 * 1024) is not { } body) return;
        var options = http.Manager.Options;

        if (SandboxHttp.String(body, "code") is not { } code)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("code (a string) is required.", "code"));
            return;
        }
        var language = Language(SandboxHttp.String(body, "language"));
        if (language == "")
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("language must be python, node or bash.", "language"));
            return;
        }
        if (!SandboxHttp.TryTimeout(body, options.ExecuteTimeout, options.Max.Timeout, out var timeout, out var timeoutError))
        {
            await PipelineErrors.WriteAsync(context, timeoutError!);
            return;
        }
        if (await SandboxHttp.EnvAsync(context, body, sandbox.Spec.Env) is not { } env) return;
        var contextName = SandboxHttp.String(body, "context", "context_id");
        try
        {
            if (contextName is null)
            {
                contextName = language ?? sandbox.Runtime;
                await sandbox.EnsureContextAsync(contextName, context.RequestAborted);
            }
        }
        catch (AgentException ex)
        {
            await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(ex));
            return;
        }
        var cwd = SandboxHttp.String(body, "cwd");
        var call = CodeExecution.Start(sandbox, contextName, code, timeout, options.MaxOutputBytes, cwd, env);
        var started = Stopwatch.GetTimestamp();
        // The agent enforces the timeout; this is the backstop should the agent itself stop answering.
        using var backstop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        backstop.CancelAfter(timeout + CodeExecution.Backstop);
        using var onAbort = context.RequestAborted.Register(call.Cancel);
        try
        {
            var caller = context.Features.Get<Keys.Caller>();
            var guardrails = context.RequestServices.GetService<IContentGuardrails>();
            if (SandboxOutputGuard.Applies(guardrails, caller))
            {
                var requestId = context.Features.Get<GatewayRequest>()?.Id ?? "";
                if (SandboxHttp.WantsStream(context, body) && guardrails!.OpenStream(Configuration.GuardrailMode.SandboxOutput, caller!, requestId, "sandbox") is { } scan)
                {
                    await EventStream.StartAsync(context.Response);
                    try
                    {
                        await EventStream.WriteAllAsync(context.Response, SandboxOutputGuard.Streamed(call.Events.ReadAllAsync(backstop.Token), scan, call.Cancel), backstop.Token);
                    }
                    finally
                    {
                        var information = scan.Finish();
                        await SandboxOutputGuard.RecordAsync(context, caller!, requestId, new ContentCheck([], scan.BlockedBy, scan.Reason, information), sandbox.Id,
                            scan.BlockedBy is null ? 200 : 400, started);
                    }
                    return;
                }
                await GuardedAsync(context, call, sandbox.Id, guardrails!, caller!, SandboxHttp.WantsStream(context, body), started, backstop.Token);
                return;
            }
            if (SandboxHttp.WantsStream(context, body))
            {
                await EventStream.StartAsync(context.Response);
                await EventStream.WriteAllAsync(context.Response, call.Events.ReadAllAsync(backstop.Token), backstop.Token);
            }
            else
            {
                var result = new ExecutionResult();
                await foreach (var e in call.Events.ReadAllAsync(backstop.Token))
                {
                    if (e.Type == "error") { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(AgentConnection.ToException(e))); return; }
                    result.Add(e);
                }
                await SandboxHttp.JsonAsync(context.Response, 200, result.Write);
            }
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            call.Cancel();
            await PipelineErrors.WriteAsync(context, new ApiError(504, $"The sandbox did not finish the execution within {(timeout + CodeExecution.Backstop).TotalSeconds:0} s.", "timeout_error", "execution_timeout"));
        }
        catch (OperationCanceledException) { }
        finally
        {
            http.Manager.Metrics.Executed(language ?? sandbox.Runtime, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>
    /// A run under sandbox_output guardrails: its events are gathered, checked together, then released masked (as JSON,
    /// or, when a stream was asked for and a remote guardrail needs whole texts, as the same SSE events sent when the
    /// run ends), or refused with a 400. A stream under local guardrails only is checked as it goes instead.
    /// </summary>
    private static async Task GuardedAsync(HttpContext context, AgentCall call, string sandboxId, IContentGuardrails guardrails, Keys.Caller caller, bool stream, long started, CancellationToken ct)
    {
        var events = new List<AgentEvent>();
        await foreach (var e in call.Events.ReadAllAsync(ct))
        {
            if (e.Type == "error" && !stream) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(AgentConnection.ToException(e))); return; }
            events.Add(e);
        }
        var requestId = context.Features.Get<GatewayRequest>()?.Id ?? "";
        var (released, check) = await SandboxOutputGuard.CheckAsync(guardrails, events, caller, requestId, ct);
        await SandboxOutputGuard.RecordAsync(context, caller, requestId, check, sandboxId, check is { Blocked: true } ? 400 : 200, started);
        if (check is { Blocked: true })
        {
            await PipelineErrors.WriteAsync(context, new ApiError(400, check.BlockMessage("the output of this run"), "invalid_request_error", "guardrail_violation"));
            return;
        }
        if (stream)
        {
            await EventStream.StartAsync(context.Response);
            await EventStream.WriteAllAsync(context.Response, released.ToAsyncEnumerable(), ct);
            return;
        }
        var result = new ExecutionResult();
        foreach (var e in released) result.Add(e);
        await SandboxHttp.JsonAsync(context.Response, 200, result.Write);
    }

    private static async Task CreateContextAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var language = Language(SandboxHttp.String(body, "language")) ?? sandbox.Runtime;
        if (language == "") { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("language must be python, node or bash.", "language")); return; }
        var name = SandboxHttp.String(body, "name", "context") ?? $"{language}-{Guid.NewGuid():N}"[..(language.Length + 9)];
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9_.-]{1,64}$"))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("name may use letters, digits, '_', '.' and '-' (at most 64).", "name"));
            return;
        }
        var cwd = SandboxHttp.String(body, "cwd");
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.ContextCreate, w =>
        {
            w.WriteString("context", name);
            w.WriteString("language", language);
            if (cwd is not null) w.WriteString("cwd", cwd);
        }, (w, done) => { sandbox.ContextKnown(name); EventStream.WithoutId(w, done); }, 201);
    }

    private static async Task ListContextsAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.ContextList, null, SandboxHttp.List("contexts"));
    }

    private static async Task ContextOpAsync(HttpContext context, SandboxHttp http, string id, string name, string op)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        await SandboxHttp.AgentAsync(context, sandbox, op, w => w.WriteString("context", name), (w, done) =>
        {
            if (op == AgentOps.ContextRemove) sandbox.ContextForgotten(name);
            EventStream.WithoutId(w, done);
        });
    }
}

/// <summary>An execution's events gathered into one JSON answer.</summary>
internal sealed class ExecutionResult
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<JsonElement> _results = [];
    private JsonElement? _exception;
    private JsonElement? _done;

    // What was gathered, for the MCP sandbox server's results (Services/Mcp/SandboxToolResults.cs).
    public string Stdout => _stdout.ToString();
    public string Stderr => _stderr.ToString();
    public IReadOnlyList<JsonElement> Results => _results;
    public JsonElement? Exception => _exception;
    public JsonElement? Done => _done;

    public void Add(AgentEvent e)
    {
        switch (e.Type)
        {
            case "stdout": _stdout.Append(e.String("data")); break;
            case "stderr": _stderr.Append(e.String("data")); break;
            case "result": _results.Add(e.Body); break;
            case "exception": _exception = e.Body; break;
            case "done": _done = e.Body; break;
        }
    }

    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        var stdout = _stdout.ToString();
        w.WriteString("stdout", stdout);
        w.WriteString("stderr", _stderr.ToString());
        w.WriteString("output", stdout);
        var done = _done ?? default;
        w.WriteNumber("exit_code", done.ValueKind == JsonValueKind.Object && done.TryGetProperty("exit_code", out var code) && code.TryGetInt32(out var c) ? c : (_exception is null ? 0 : 1));
        w.WriteNumber("duration_ms", done.ValueKind == JsonValueKind.Object && done.TryGetProperty("duration_ms", out var d) && d.TryGetDouble(out var ms) ? ms : 0);
        w.WriteStartArray("results");
        foreach (var r in _results)
        {
            w.WriteStartObject();
            foreach (var p in r.EnumerateObject())
                if (!p.NameEquals("id") && !p.NameEquals("type")) p.WriteTo(w);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (_exception is { } ex)
        {
            w.WriteStartObject("error");
            foreach (var p in ex.EnumerateObject())
                if (p.NameEquals("name") || p.NameEquals("value") || p.NameEquals("traceback")) p.WriteTo(w);
            w.WriteEndObject();
        }
        else w.WriteNull("error");
        foreach (var flag in new[] { "truncated", "timed_out", "context_restarted" })
            w.WriteBoolean(flag, done.ValueKind == JsonValueKind.Object && done.TryGetProperty(flag, out var f) && f.ValueKind == JsonValueKind.True);
        w.WriteEndObject();
    }
}
