using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// envd's <c>process.Process</c> service (process.proto) over the sandbox's agent: Start and Connect stream a
/// process's events, List, SendInput, StreamInput, SendSignal, Update (a pty's size) and CloseStdin act on it by pid
/// or tag. Commands run as the sandbox's user in /home/user, with the sandbox's environment, envd's defaults and the
/// call's own envs; a call's Connect-Timeout-Ms is the command's timeout (envd's: it is killed then), a client that
/// leaves does not kill it.
/// </summary>
internal sealed class ProcessService
{
    /// <summary>
    /// What every command gets unless the call sets it: pip may install (into the user site, since the system's
    /// site-packages is read-only) despite Debian's PEP 668 marker; the sandbox's own space is throwaway.
    /// </summary>
    private static readonly ImmutableDictionary<string, string> Defaults = ImmutableDictionary.CreateRange<string, string>(StringComparer.Ordinal,
        [new("PIP_BREAK_SYSTEM_PACKAGES", "1")]);

    private static readonly Dictionary<string, int> SignalValues = new(StringComparer.Ordinal)
    {
        ["SIGNAL_UNSPECIFIED"] = 0, ["SIGNAL_SIGTERM"] = 15, ["SIGNAL_SIGKILL"] = 9,
    };

    /// <summary>Output kept per command: streamed, never gathered here, so the cap only guards the sandbox's agent pipe.</summary>
    private const long MaxOutputBytes = 1L << 40;
    private const int MaxArgs = 4096, MaxEnvs = 256;

    private readonly ConcurrentDictionary<(string, long), EnvdProcess> _processes = new();

    /// <summary>What a command starts with before its own envs (and what /envs shows).</summary>
    public static ImmutableDictionary<string, string> EnvironmentOf(Sandbox sandbox) => sandbox.Spec.Env.SetItems(Defaults);

    public static readonly IReadOnlyDictionary<string, ConnectKind> Methods = new Dictionary<string, ConnectKind>(StringComparer.Ordinal)
    {
        ["Start"] = ConnectKind.ServerStream, ["Connect"] = ConnectKind.ServerStream, ["List"] = ConnectKind.Unary,
        ["SendInput"] = ConnectKind.Unary, ["StreamInput"] = ConnectKind.ClientStream, ["SendSignal"] = ConnectKind.Unary,
        ["Update"] = ConnectKind.Unary, ["CloseStdin"] = ConnectKind.Unary,
    };

    public Task ServeAsync(string method, ConnectCall call, Sandbox sandbox) => method switch
    {
        "Start" => StartAsync(call, sandbox),
        "Connect" => ConnectAsync(call, sandbox),
        "List" => ListAsync(call, sandbox),
        "SendInput" => SendInputAsync(call, sandbox),
        "StreamInput" => StreamInputAsync(call, sandbox),
        "SendSignal" => SendSignalAsync(call, sandbox),
        "Update" => UpdateAsync(call, sandbox),
        "CloseStdin" => CloseStdinAsync(call, sandbox),
        _ => throw new ConnectError(ConnectError.Unimplemented, $"process.Process/{method} is not a method of this service"),
    };

    private async Task StartAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var config = ProtoJson.Message(request, "process") ?? throw ConnectError.Invalid("process (the command's config) is required");
        var cmd = ProtoJson.String(config, "cmd");
        if (string.IsNullOrEmpty(cmd)) throw ConnectError.Invalid("process.cmd is required");
        var args = ProtoJson.Strings(config, "args", MaxArgs);
        var envs = ProtoJson.StringMap(config, "envs", MaxEnvs);
        foreach (var (k, v) in envs)
            if (k.Length == 0 || k.Contains('=') || k.Contains('\0') || v.Contains('\0')) throw ConnectError.Invalid($"envs: '{k}' is not a valid variable");
        var cwd = ProtoJson.String(config, "cwd");
        if (cwd is { Length: 0 }) cwd = null;
        var tag = ProtoJson.String(request, "tag");
        var stdin = ProtoJson.Bool(request, "stdin") ?? true;
        (long Cols, long Rows)? pty = null;
        if (ProtoJson.Message(request, "pty") is { } p)
        {
            var size = ProtoJson.Message(p, "size");
            pty = size is { } s ? (ProtoJson.Integer(s, "cols", 1, 65535) ?? 80, ProtoJson.Integer(s, "rows", 1, 65535) ?? 24) : (80, 24);
        }
        var timeout = call.Timeout();
        var env = EnvironmentOf(sandbox).SetItems(envs);
        string[] argv = [cmd, .. args];

        var agentCall = sandbox.Agent.Start(AgentOps.ProcessStart, w =>
        {
            w.WriteStartArray("argv");
            foreach (var a in argv) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteString("user", call.User);
            if (cwd is not null) w.WriteString("cwd", cwd);
            if (tag is not null) w.WriteString("tag", tag);
            if (!stdin && pty is null) w.WriteBoolean("stdin", false);
            if (timeout is { } t) w.WriteNumber("timeout_ms", (long)Math.Ceiling(t.TotalMilliseconds));
            w.WriteNumber("max_output_bytes", MaxOutputBytes);
            if (pty is { } size)
            {
                w.WriteStartObject("pty");
                w.WriteNumber("cols", size.Cols);
                w.WriteNumber("rows", size.Rows);
                w.WriteEndObject();
            }
            if (env.Count > 0)
            {
                w.WriteStartObject("env");
                foreach (var (k, v) in env) w.WriteString(k, v);
                w.WriteEndObject();
            }
        });
        AgentEvent first = default;
        try
        {
            await foreach (var e in agentCall.Events.ReadAllAsync(call.Aborted))
            {
                first = e;
                break;
            }
        }
        catch (OperationCanceledException)
        {
            // The client left before the command started: nobody could reach it (no pid), so it does not run on.
            agentCall.Cancel();
            throw;
        }
        if (first.Type == "error") throw ConnectError.FromAgent(AgentConnection.ToException(first));
        if (first.Type != "start") throw new ConnectError(ConnectError.Unavailable, "the sandbox has ended");
        var pid = first.Body.TryGetProperty("pid", out var pidValue) ? pidValue.GetInt64() : 0;
        var process = new EnvdProcess(sandbox.Id, pid, cmd, args, envs, cwd, tag, agentCall);
        var messages = process.Subscribe()!;
        _processes[(sandbox.Id, pid)] = process;
        _ = process.PumpAsync(_processes);
        try { await StreamRelay.RunAsync(call, messages, EnvdProcess.Keepalive, deadline: null); }
        finally { process.Unsubscribe(messages); }
    }

    private async Task ConnectAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var pid = await SelectAsync(request, sandbox, call.Aborted);
        if (!_processes.TryGetValue((sandbox.Id, pid), out var process) || process.Subscribe() is not { } messages)
            throw new ConnectError(ConnectError.NotFound, $"process with pid {pid} not found (or it was not started through envd)");
        try { await StreamRelay.RunAsync(call, messages, EnvdProcess.Keepalive, call.Timeout()); }
        finally { process.Unsubscribe(messages); }
    }

    private async Task ListAsync(ConnectCall call, Sandbox sandbox)
    {
        await call.ReadMessageAsync();
        var done = await Agent(sandbox, AgentOps.ProcessList, null, call.Aborted);
        await call.SendAsync(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("processes");
            if (done.TryGetProperty("processes", out var list))
                foreach (var p in list.EnumerateArray()) WriteInfo(w, sandbox, p);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>A ProcessInfo: what envd's Start was given, or (for a process started otherwise) its shell command.</summary>
    private void WriteInfo(Utf8JsonWriter w, Sandbox sandbox, JsonElement agentInfo)
    {
        var pid = agentInfo.GetProperty("pid").GetInt64();
        w.WriteStartObject();
        w.WriteStartObject("config");
        if (_processes.TryGetValue((sandbox.Id, pid), out var known))
        {
            w.WriteString("cmd", known.Cmd);
            w.WriteStartArray("args");
            foreach (var a in known.Args) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteStartObject("envs");
            foreach (var (k, v) in known.Envs) w.WriteString(k, v);
            w.WriteEndObject();
            if (known.Cwd is not null) w.WriteString("cwd", known.Cwd);
        }
        else
        {
            var cmd = agentInfo.TryGetProperty("cmd", out var c) ? c.GetString() ?? "" : "";
            w.WriteString("cmd", "/bin/bash");
            w.WriteStartArray("args");
            w.WriteStringValue("-l");
            w.WriteStringValue("-c");
            w.WriteStringValue(cmd);
            w.WriteEndArray();
            if (agentInfo.TryGetProperty("cwd", out var cwd) && cwd.ValueKind == JsonValueKind.String) w.WriteString("cwd", cwd.GetString());
        }
        w.WriteEndObject();
        w.WriteNumber("pid", pid);
        var tag = known?.Tag ?? (agentInfo.TryGetProperty("tag", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null);
        if (tag is not null) w.WriteString("tag", tag);
        w.WriteEndObject();
    }

    private async Task SendInputAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var pid = await SelectAsync(request, sandbox, call.Aborted);
        var input = ProtoJson.Message(request, "input") ?? throw ConnectError.Invalid("input is required");
        await InputAsync(sandbox, pid, input, call.Aborted);
        await call.SendAsync(Empty);
    }

    private static async Task InputAsync(Sandbox sandbox, long pid, JsonElement input, CancellationToken ct)
    {
        var data = ProtoJson.Bytes(input, "stdin") ?? ProtoJson.Bytes(input, "pty") ?? [];
        await Agent(sandbox, AgentOps.ProcessInput, w => { w.WriteNumber("pid", pid); w.WriteBase64String("data_b64", data); }, ct);
    }

    private async Task StreamInputAsync(ConnectCall call, Sandbox sandbox)
    {
        long? pid = null;
        while (await call.ReadEnvelopeAsync() is { } message)
        {
            if (ProtoJson.Message(message, "start") is { } start) pid = await SelectAsync(start, sandbox, call.Aborted);
            else if (ProtoJson.Message(message, "data") is { } data)
            {
                if (pid is null) throw ConnectError.Invalid("the first message of StreamInput must be start (the process)");
                if (ProtoJson.Message(data, "input") is { } input) await InputAsync(sandbox, pid.Value, input, call.Aborted);
            }
        }
        await call.SendAsync(Empty);
        await call.EndAsync();
    }

    private async Task SendSignalAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var pid = await SelectAsync(request, sandbox, call.Aborted);
        var signal = ProtoJson.Enum(request, "signal", SignalValues) switch
        {
            9 => "SIGKILL",
            15 => "SIGTERM",
            _ => throw ConnectError.Invalid("signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM"),
        };
        await Agent(sandbox, AgentOps.ProcessSignal, w => { w.WriteNumber("pid", pid); w.WriteString("signal", signal); }, call.Aborted);
        await call.SendAsync(Empty);
    }

    private async Task UpdateAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var pid = await SelectAsync(request, sandbox, call.Aborted);
        if (ProtoJson.Message(request, "pty") is { } pty && ProtoJson.Message(pty, "size") is { } size)
        {
            var cols = ProtoJson.Integer(size, "cols", 1, 65535) ?? throw ConnectError.Invalid("pty.size.cols is required");
            var rows = ProtoJson.Integer(size, "rows", 1, 65535) ?? throw ConnectError.Invalid("pty.size.rows is required");
            await Agent(sandbox, AgentOps.ProcessResize, w => { w.WriteNumber("pid", pid); w.WriteNumber("cols", cols); w.WriteNumber("rows", rows); }, call.Aborted);
        }
        await call.SendAsync(Empty);
    }

    private async Task CloseStdinAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var pid = await SelectAsync(request, sandbox, call.Aborted);
        await Agent(sandbox, AgentOps.ProcessInput, w => { w.WriteNumber("pid", pid); w.WriteBoolean("eof", true); }, call.Aborted);
        await call.SendAsync(Empty);
    }

    /// <summary>A ProcessSelector (under <c>process</c>): the pid, or the pid of the running process with that tag.</summary>
    private async Task<long> SelectAsync(JsonElement request, Sandbox sandbox, CancellationToken ct)
    {
        var selector = ProtoJson.Message(request, "process") ?? throw ConnectError.Invalid("process (a pid or tag selector) is required");
        if (ProtoJson.Integer(selector, "pid", 0, uint.MaxValue) is { } pid) return pid;
        var tag = ProtoJson.String(selector, "tag") ?? throw ConnectError.Invalid("process needs a pid or a tag");
        foreach (var ((sandboxId, p), process) in _processes)
            if (sandboxId == sandbox.Id && process.Tag == tag) return p;
        var done = await Agent(sandbox, AgentOps.ProcessList, null, ct);
        foreach (var info in done.GetProperty("processes").EnumerateArray())
            if (info.TryGetProperty("tag", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == tag) return info.GetProperty("pid").GetInt64();
        throw new ConnectError(ConnectError.NotFound, $"process with tag '{(tag.Length > 64 ? tag[..64] + "..." : tag)}' not found");
    }

    private static async Task<JsonElement> Agent(Sandbox sandbox, string op, Action<Utf8JsonWriter>? args, CancellationToken ct)
    {
        try { return await sandbox.Agent.CallAsync(op, args, ct); }
        catch (AgentException ex) { throw ConnectError.FromAgent(ex); }
    }

    private static void Empty(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteEndObject();
    }
}
