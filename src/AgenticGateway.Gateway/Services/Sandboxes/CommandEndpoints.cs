using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Shell commands in a sandbox, E2B-style: foreground (wait for the result, or stream it) or background (get a pid
/// back at once), then stdin, signals and kill by pid, and the list of running processes.
/// </summary>
internal static class CommandEndpoints
{
    private static readonly string[] Signals = ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGSTOP", "SIGCONT"];

    public static void Map(IEndpointRouteBuilder app, SandboxHttp http)
    {
        const string sb = "/v1/sandboxes/{id}";
        app.MapPost(sb + "/commands", (HttpContext c, string id) => RunAsync(c, http, id)).WithSummary("Run a shell command (foreground, streamed, or background)");
        app.MapGet(sb + "/processes", (HttpContext c, string id) => ListAsync(c, http, id)).WithSummary("List running processes");
        app.MapGet(sb + "/processes/{pid:long}", (HttpContext c, string id, long pid) => GetAsync(c, http, id, pid)).WithSummary("A background command's state and recent output");
        app.MapPost(sb + "/processes/{pid:long}/stdin", (HttpContext c, string id, long pid) => StdinAsync(c, http, id, pid)).WithSummary("Write to a process's stdin");
        app.MapPost(sb + "/processes/{pid:long}/signal", (HttpContext c, string id, long pid) => SignalAsync(c, http, id, pid, null)).WithSummary("Signal a process");
        app.MapDelete(sb + "/processes/{pid:long}", (HttpContext c, string id, long pid) => SignalAsync(c, http, id, pid, "SIGKILL")).WithSummary("Kill a process");
    }

    private static async Task RunAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var options = http.Manager.Options;
        var cmd = SandboxHttp.String(body, "cmd", "command");
        if (string.IsNullOrEmpty(cmd)) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("cmd (a shell command) is required.", "cmd")); return; }
        var background = body.TryGetProperty("background", out var bg) && bg.ValueKind == JsonValueKind.True;
        if (!SandboxHttp.TryTimeout(body, background ? TimeSpan.Zero : options.ExecuteTimeout, options.Max.Timeout, out var timeout, out var timeoutError))
        {
            await PipelineErrors.WriteAsync(context, timeoutError!);
            return;
        }
        if (await SandboxHttp.EnvAsync(context, body, sandbox.Spec.Env) is not { } env) return;
        var stdin = SandboxHttp.String(body, "stdin");
        // Whom it runs as: the sandbox's user, or root where root is the VM's (docs/sandbox-agent-protocol.md, Users).
        var user = SandboxHttp.String(body, "user");
        if (user is not (null or "user" or "root")) { await PipelineErrors.WriteAsync(context, ApiError.BadRequest("user must be \"user\" or \"root\".", "user")); return; }
        // A template's WORKDIR is where its sandbox's commands run unless they say otherwise.
        var call = Start(sandbox, cmd, SandboxHttp.String(body, "cwd") ?? sandbox.Spec.Template?.Workdir, env, timeout, options.MaxOutputBytes, SandboxHttp.String(body, "tag"), pty: null, user);

        // The first event says whether it started (with its pid) or why not.
        var first = await FirstAsync(call, context.RequestAborted);
        if (first.Type == "error") { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(AgentConnection.ToException(first))); return; }
        var pid = first.Body.TryGetProperty("pid", out var p) ? p.GetInt64() : 0;
        var record = new ProcessRecord(pid, cmd, call);
        sandbox.Processes[pid] = record;
        if (stdin is not null)
        {
            // A command that exits before reading its input is not an error of the request.
            try { await sandbox.Agent.CallAsync(AgentOps.ProcessInput, w => { w.WriteNumber("pid", pid); w.WriteString("data", stdin); w.WriteBoolean("eof", true); }, context.RequestAborted); }
            catch (AgentException) { }
        }

        if (background)
        {
            _ = DrainAsync(sandbox, record);
            await SandboxHttp.JsonAsync(context.Response, 200, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("pid", pid);
                w.WriteBoolean("background", true);
                w.WriteString("status", "running");
                w.WriteEndObject();
            });
            return;
        }

        using var onAbort = context.RequestAborted.Register(call.Cancel);
        try
        {
            var caller = context.Features.Get<Keys.Caller>();
            var guardrails = context.RequestServices.GetService<IContentGuardrails>();
            if (SandboxOutputGuard.Applies(guardrails, caller))
            {
                await GuardedAsync(context, call, first, pid, sandbox.Id, guardrails!, caller!, SandboxHttp.WantsStream(context, body));
                return;
            }
            if (SandboxHttp.WantsStream(context, body))
            {
                await EventStream.StartAsync(context.Response);
                await EventStream.WriteAllAsync(context.Response, call.Events.ReadAllAsync(context.RequestAborted), context.RequestAborted, first);
                return;
            }
            var stdout = new StringBuilder();
            var stderr = new StringBuilder();
            await foreach (var e in call.Events.ReadAllAsync(context.RequestAborted))
            {
                switch (e.Type)
                {
                    case "stdout": stdout.Append(e.String("data")); break;
                    case "stderr": stderr.Append(e.String("data")); break;
                    case "error": await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(AgentConnection.ToException(e))); return;
                    case "done": await ResultAsync(context, pid, stdout.ToString(), stderr.ToString(), e); return;
                }
            }
        }
        catch (OperationCanceledException) { }
        finally { sandbox.Processes.TryRemove(pid, out _); }
    }

    private static Task ResultAsync(HttpContext context, long pid, string stdout, string stderr, AgentEvent done) =>
        SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", pid);
            w.WriteString("stdout", stdout);
            w.WriteString("stderr", stderr);
            foreach (var f in done.Body.EnumerateObject())
                if (f.Name is "exit_code" or "signal" or "duration_ms" or "truncated" or "timed_out") f.WriteTo(w);
            w.WriteEndObject();
        });

    /// <summary>
    /// A foreground command under sandbox_output guardrails: its output is gathered and checked whole (as a run's is on
    /// the execute route), then released masked, as JSON or as the same SSE events, or refused with a 400.
    /// </summary>
    private static async Task GuardedAsync(HttpContext context, AgentCall call, AgentEvent first, long pid, string sandboxId, IContentGuardrails guardrails, Keys.Caller caller, bool stream)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var events = new List<AgentEvent> { first };
        await foreach (var e in call.Events.ReadAllAsync(context.RequestAborted))
        {
            if (e.Type == "error" && !stream) { await PipelineErrors.WriteAsync(context, SandboxHttp.FromAgent(AgentConnection.ToException(e))); return; }
            events.Add(e);
        }
        var requestId = context.Features.Get<GatewayRequest>()?.Id ?? "";
        var (released, check) = await SandboxOutputGuard.CheckAsync(guardrails, events, caller, requestId, context.RequestAborted);
        await SandboxOutputGuard.RecordAsync(context, caller, requestId, check, sandboxId, check is { Blocked: true } ? 400 : 200, started);
        if (check is { Blocked: true })
        {
            await PipelineErrors.WriteAsync(context, new ApiError(400, check.BlockMessage("the output of this command"), "invalid_request_error", "guardrail_violation"));
            return;
        }
        if (stream)
        {
            await EventStream.StartAsync(context.Response);
            await EventStream.WriteAllAsync(context.Response, released.ToAsyncEnumerable(), context.RequestAborted);
            return;
        }
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        foreach (var e in released)
        {
            if (e.Type == "stdout") stdout.Append(e.String("data"));
            else if (e.Type == "stderr") stderr.Append(e.String("data"));
            else if (e.Type == "done") { await ResultAsync(context, pid, stdout.ToString(), stderr.ToString(), e); return; }
        }
    }

    public static AgentCall Start(Sandbox sandbox, string cmd, string? cwd, IReadOnlyDictionary<string, string> env, TimeSpan timeout, int maxOutput, string? tag, (int Cols, int Rows)? pty, string? user = null) =>
        sandbox.Agent.Start(AgentOps.ProcessStart, w =>
        {
            w.WriteString("cmd", cmd);
            if (user is not null) w.WriteString("user", user);
            if (cwd is not null) w.WriteString("cwd", cwd);
            if (tag is not null) w.WriteString("tag", tag);
            if (timeout > TimeSpan.Zero) w.WriteNumber("timeout_ms", (long)timeout.TotalMilliseconds);
            if (maxOutput > 0) w.WriteNumber("max_output_bytes", maxOutput);
            if (pty is { } size)
            {
                w.WriteStartObject("pty");
                w.WriteNumber("cols", size.Cols);
                w.WriteNumber("rows", size.Rows);
                w.WriteEndObject();
            }
            SandboxHttp.WriteEnv(w, env);
        });

    public static async Task<AgentEvent> FirstAsync(AgentCall call, CancellationToken cancellationToken)
    {
        await foreach (var e in call.Events.ReadAllAsync(cancellationToken)) return e;
        throw new AgentException("sandbox_gone", "the sandbox ended");
    }

    /// <summary>A background command's output goes into its record (the recent part) until it exits.</summary>
    private static async Task DrainAsync(Sandbox sandbox, ProcessRecord record)
    {
        await foreach (var e in record.Call.Events.ReadAllAsync())
        {
            switch (e.Type)
            {
                case "stdout": record.Append(false, e.String("data") ?? ""); break;
                case "stderr": record.Append(true, e.String("data") ?? ""); break;
                case "done":
                    record.Finished(e.Body.TryGetProperty("exit_code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null, e.String("signal"));
                    break;
                case "error": record.Finished(null, null); break;
            }
        }
        // Kept a while so the caller can read how it ended, then forgotten.
        await Task.Delay(TimeSpan.FromMinutes(5));
        sandbox.Processes.TryRemove(record.Pid, out _);
    }

    private static async Task ListAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.ProcessList, null, SandboxHttp.List("processes"));
    }

    private static async Task GetAsync(HttpContext context, SandboxHttp http, string id, long pid)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (!sandbox.Processes.TryGetValue(pid, out var record))
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"No command with pid {pid} was started through the API (or it ended over 5 minutes ago).", "invalid_request_error", "process_not_found"));
            return;
        }
        var (stdout, stderr) = record.Output();
        // A background command's output reaches the caller here: sandbox_output guardrails apply as to a foreground one.
        var caller = context.Features.Get<Keys.Caller>();
        var guardrails = context.RequestServices.GetService<IContentGuardrails>();
        if (SandboxOutputGuard.Applies(guardrails, caller) && (stdout.Length > 0 || stderr.Length > 0))
        {
            var requestId = context.Features.Get<GatewayRequest>()?.Id ?? "";
            var check = await guardrails!.CheckAsync(Configuration.GuardrailMode.SandboxOutput, [stdout, stderr], caller!, requestId, "sandbox", context.RequestAborted);
            if (check.Blocked)
            {
                await PipelineErrors.WriteAsync(context, new ApiError(400, check.BlockMessage("the output of this command"), "invalid_request_error", "guardrail_violation"));
                return;
            }
            (stdout, stderr) = (check.Texts[0], check.Texts[1]);
        }
        await SandboxHttp.JsonAsync(context.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", pid);
            w.WriteString("cmd", record.Command);
            w.WriteBoolean("running", record.ExitCode is null && record.Signal is null && !record.Call.Events.Completion.IsCompleted);
            if (record.ExitCode is { } code) w.WriteNumber("exit_code", code); else w.WriteNull("exit_code");
            if (record.Signal is { } signal) w.WriteString("signal", signal);
            w.WriteString("stdout", stdout);
            w.WriteString("stderr", stderr);
            w.WriteEndObject();
        });
    }

    private static async Task StdinAsync(HttpContext context, SandboxHttp http, string id, long pid)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (await SandboxHttp.BodyAsync(context) is not { } body) return;
        var data = SandboxHttp.String(body, "data");
        var data64 = SandboxHttp.String(body, "data_b64");
        var eof = body.TryGetProperty("eof", out var e) && e.ValueKind == JsonValueKind.True;
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.ProcessInput, w =>
        {
            w.WriteNumber("pid", pid);
            if (data is not null) w.WriteString("data", data);
            if (data64 is not null) w.WriteString("data_b64", data64);
            if (eof) w.WriteBoolean("eof", true);
        }, SandboxHttp.Ok);
    }

    private static async Task SignalAsync(HttpContext context, SandboxHttp http, string id, long pid, string? fixedSignal)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        var signal = fixedSignal;
        if (signal is null)
        {
            if (await SandboxHttp.BodyAsync(context) is not { } body) return;
            signal = SandboxHttp.String(body, "signal")?.ToUpperInvariant();
            if (signal is not null && !signal.StartsWith("SIG", StringComparison.Ordinal)) signal = "SIG" + signal;
            if (signal is null || !Signals.Contains(signal))
            {
                await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"signal must be one of {string.Join(", ", Signals)}.", "signal"));
                return;
            }
        }
        await SandboxHttp.AgentAsync(context, sandbox, AgentOps.ProcessSignal, w => { w.WriteNumber("pid", pid); w.WriteString("signal", signal); }, SandboxHttp.Ok);
    }
}
