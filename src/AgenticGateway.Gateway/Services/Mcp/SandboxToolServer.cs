using AgenticGateway.Configuration;
using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgenticGateway.Mcp;
using AgenticGateway.Mcp.Upstreams;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;
using AgenticGateway.Services.Sandboxes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The built-in <c>sandbox</c> MCP server: code, commands and files in the caller's own sandbox, through the same
/// manager and agent operations as the REST API (so quotas, capacity and limits are the same). The sandbox is chosen
/// per owner and MCP session by <see cref="SandboxSessions"/>; code runs in one persistent context per language in it,
/// the contexts the REST API's execute uses when it names no context.
/// </summary>
internal sealed class SandboxToolServer(SandboxManager manager, TimeProvider time, ILogger<SandboxToolServer> logger) : IMcpUpstream
{
    private const int MaxCodeChars = 1 << 20;
    private const int MaxCommandChars = 128 * 1024;
    /// <summary>How much of a file one agent request carries (the REST API streams in the same chunks).</summary>
    private const int Chunk = 1 << 20;
    /// <summary>Entries a listing returns: enough to see a directory, not the 100 000 the agent could send.</summary>
    private const int MaxEntries = 1000;

    private readonly SandboxSessions _sessions = new(manager, time);

    public string Name => McpOptions.SandboxServerName;

    /// <summary>The tools are fixed for the process's life: there is never a list change to announce.</summary>
    public event Action<IMcpUpstream>? ListChanged { add { } remove { } }

    /// <summary>Owner-and-session bindings held (live sandboxes, and ended ones not yet pruned); for tests and diagnostics.</summary>
    internal int Bindings => _sessions.Count;

    public ValueTask<IReadOnlyList<Tool>> ListToolsAsync(CancellationToken ct) => ValueTask.FromResult(SandboxTools.Create());

    public async ValueTask<CallToolResult> CallToolAsync(string tool, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct) => tool switch
    {
        SandboxTools.RunCode => await RunCodeAsync(arguments, context, ct),
        SandboxTools.RunCommand => await RunCommandAsync(arguments, context, ct),
        SandboxTools.ReadFile => await ReadFileAsync(arguments, context, ct),
        SandboxTools.WriteFile => await WriteFileAsync(arguments, context, ct),
        SandboxTools.ListFiles => await ListFilesAsync(arguments, context, ct),
        _ => throw new McpProtocolException($"Unknown tool: '{tool}'", McpErrorCode.InvalidParams),
    };

    /// <summary>
    /// Ends the sandbox of an MCP session (the client ended the session, or the gateway expired it). Sessionless
    /// callers' sandboxes end by their own timeout. False when the session had no sandbox.
    /// </summary>
    public Task<bool> EndSessionAsync(string owner, string session) => _sessions.EndAsync(owner, session, "session_ended");

    private async Task<CallToolResult> RunCodeAsync(IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var args = new SandboxToolArguments(SandboxTools.RunCode, arguments, "code", "language", "timeout_seconds");
        var code = args.RequiredString("code", MaxCodeChars, allowEmpty: true);
        var language = ExecuteEndpoints.Language(args.OptionalString("language", 64)) ?? "python";
        if (language == "") throw args.Invalid("language must be python, node or bash");
        var options = manager.Options;
        var timeout = args.Timeout("timeout_seconds", options.ExecuteTimeout, options.Max.Timeout);

        var lease = await _sessions.AcquireAsync(context.Owner, context.Session, timeout, ct);
        if (lease.Sandbox is not { } sandbox) return SandboxToolResults.Failed(lease.Refusal!);
        var note = Replaced(lease);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await sandbox.EnsureContextAsync(language, ct);
            var call = CodeExecution.Start(sandbox, language, code, timeout, options.MaxOutputBytes);
            var execution = new SandboxExecution();
            var error = await DrainAsync(call, sandbox, timeout, execution.Add, ct);
            return error ?? execution.ToResult(note);
        }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }
        finally { manager.Metrics.Executed(language, Stopwatch.GetElapsedTime(started).TotalSeconds); }
    }

    private async Task<CallToolResult> RunCommandAsync(IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var args = new SandboxToolArguments(SandboxTools.RunCommand, arguments, "command", "cwd", "timeout_seconds");
        var command = args.RequiredString("command", MaxCommandChars);
        var cwd = args.OptionalPath("cwd");
        var options = manager.Options;
        var timeout = args.Timeout("timeout_seconds", options.ExecuteTimeout, options.Max.Timeout);

        var lease = await _sessions.AcquireAsync(context.Owner, context.Session, timeout, ct);
        if (lease.Sandbox is not { } sandbox) return SandboxToolResults.Failed(lease.Refusal!);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        JsonElement done = default;
        try
        {
            var call = CommandEndpoints.Start(sandbox, command, cwd, sandbox.Spec.Env, timeout, options.MaxOutputBytes, tag: "mcp", pty: null);
            var error = await DrainAsync(call, sandbox, timeout, e =>
            {
                switch (e.Type)
                {
                    case "stdout": stdout.Append(e.String("data")); break;
                    case "stderr": stderr.Append(e.String("data")); break;
                    case "done": done = e.Body; break;
                }
            }, ct);
            if (error is not null) return error;
        }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }

        var exitCode = done.TryGetProperty("exit_code", out var c) && c.TryGetInt32(out var code) ? code : -1;
        var signal = done.TryGetProperty("signal", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return SandboxToolResults.Structured(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("exit_code", exitCode);
            if (signal is null) w.WriteNull("signal"); else w.WriteString("signal", signal);
            w.WriteString("stdout", stdout.ToString());
            w.WriteString("stderr", stderr.ToString());
            w.WriteBoolean("truncated", Flag(done, "truncated"));
            w.WriteBoolean("timed_out", Flag(done, "timed_out"));
            w.WriteNumber("duration_ms", done.TryGetProperty("duration_ms", out var d) && d.TryGetDouble(out var ms) ? ms : 0);
            w.WriteEndObject();
        }, isError: exitCode != 0, Replaced(lease));
    }

    private async Task<CallToolResult> ReadFileAsync(IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var args = new SandboxToolArguments(SandboxTools.ReadFile, arguments, "path");
        var path = args.RequiredPath("path");
        var lease = await _sessions.AcquireAsync(context.Owner, context.Session, TimeSpan.Zero, ct);
        if (lease.Sandbox is not { } sandbox) return SandboxToolResults.Failed(lease.Refusal!);
        var max = manager.Options.MaxFileBytes;
        var data = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var offset = data.WrittenCount;
                var done = await sandbox.Agent.CallAsync(AgentOps.FsRead, w => { w.WriteString("path", path); w.WriteNumber("offset", offset); w.WriteNumber("length", Chunk); }, ct);
                // The whole file's size comes with the first chunk: a file past the limit is refused before more is read.
                var size = done.TryGetProperty("size", out var sz) && sz.TryGetInt64(out var n) ? n : 0;
                if (size > max || offset > max) return TooLarge(path, Math.Max(size, offset), max);
                var chunk = done.GetProperty("data_b64").GetBytesFromBase64();
                data.Write(chunk);
                if (data.WrittenCount > max) return TooLarge(path, data.WrittenCount, max);
                if (chunk.Length == 0 || done.TryGetProperty("eof", out var eof) && eof.ValueKind == JsonValueKind.True) break;
            }
        }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }
        return SandboxToolResults.Plain(SandboxFileContent.Of(path, data.WrittenMemory), Replaced(lease));
    }

    private async Task<CallToolResult> WriteFileAsync(IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var args = new SandboxToolArguments(SandboxTools.WriteFile, arguments, "path", "content");
        var path = args.RequiredPath("path");
        // Any length is an argument the tool takes; past the file limit it is a refusal the model can act on.
        var content = args.RequiredString("content", int.MaxValue, allowEmpty: true);
        var max = manager.Options.MaxFileBytes;
        var size = Encoding.UTF8.GetByteCount(content);
        if (size > max) return TooLarge(path, size, max);
        var bytes = Encoding.UTF8.GetBytes(content);

        var lease = await _sessions.AcquireAsync(context.Owner, context.Session, TimeSpan.Zero, ct);
        if (lease.Sandbox is not { } sandbox) return SandboxToolResults.Failed(lease.Refusal!);
        var upload = Guid.NewGuid().ToString("N");
        try
        {
            var offset = 0;
            do
            {
                var length = Math.Min(Chunk, bytes.Length - offset);
                var final = offset + length == bytes.Length;
                var chunkOffset = offset;
                var data = Convert.ToBase64String(bytes, offset, length);
                await Sandboxes.FileEndpoints.WriteChunkAsync(sandbox, path, data, chunkOffset, final, upload, ct);
                offset += length;
            } while (offset < bytes.Length);
        }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }
        return SandboxToolResults.Structured(w =>
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteNumber("size", bytes.Length);
            w.WriteEndObject();
        }, isError: false, Replaced(lease));
    }

    private async Task<CallToolResult> ListFilesAsync(IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var args = new SandboxToolArguments(SandboxTools.ListFiles, arguments, "path");
        var path = args.OptionalPath("path") ?? SandboxTools.Home;
        var lease = await _sessions.AcquireAsync(context.Owner, context.Session, TimeSpan.Zero, ct);
        if (lease.Sandbox is not { } sandbox) return SandboxToolResults.Failed(lease.Refusal!);
        JsonElement done;
        try { done = await sandbox.Agent.CallAsync(AgentOps.FsList, w => { w.WriteString("path", path); w.WriteNumber("depth", 1); }, ct); }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }
        return SandboxToolResults.Structured(w =>
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteStartArray("entries");
            var count = 0;
            var entries = done.TryGetProperty("entries", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : default;
            foreach (var entry in entries)
            {
                if (++count > MaxEntries) break;
                w.WriteStartObject();
                foreach (var p in entry.EnumerateObject())
                    if (p.Name is "name" or "path" or "type" or "size" or "mtime") p.WriteTo(w);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("truncated", count > MaxEntries || Flag(done, "truncated"));
            w.WriteEndObject();
        }, isError: false, Replaced(lease));
    }

    /// <summary>
    /// Reads a running call's events into <paramref name="onEvent"/> until it is done; the agent's refusal as a result.
    /// The caller's cancellation cancels the run in the sandbox (the interpreter is interrupted, the command killed).
    /// </summary>
    private async Task<CallToolResult?> DrainAsync(AgentCall call, Sandbox sandbox, TimeSpan timeout, Action<AgentEvent> onEvent, CancellationToken ct)
    {
        try
        {
            if (await CodeExecution.DrainAsync(call, timeout, onEvent, ct)) return null;
        }
        catch (AgentException ex) { return SandboxToolResults.FromAgent(ex); }
        var waited = (timeout + CodeExecution.Backstop).TotalSeconds;
        SandboxToolLog.Unanswered(logger, sandbox.Id, waited);
        return SandboxToolResults.Failed($"The sandbox did not finish within {waited:0} seconds; the run was cancelled.");
    }

    private CallToolResult TooLarge(string path, long size, long max) =>
        SandboxToolResults.Failed($"{path} is {size} bytes, more than this gateway's limit of {max} bytes per file (sandboxes.max_file_bytes). Read or write it in parts with run_command or run_code.");

    private string? Replaced(SandboxSessions.Lease lease)
    {
        if (lease.Replaced is null) return null;
        SandboxToolLog.Replaced(logger, lease.Sandbox!.Id, lease.Replaced);
        return SandboxToolResults.ReplacedNote(lease.Replaced);
    }

    private static bool Flag(JsonElement done, string name) =>
        done.ValueKind == JsonValueKind.Object && done.TryGetProperty(name, out var f) && f.ValueKind == JsonValueKind.True;

    public ValueTask<IReadOnlyList<Resource>> ListResourcesAsync(CancellationToken ct) => ValueTask.FromResult<IReadOnlyList<Resource>>([]);

    public ValueTask<ReadResourceResult> ReadResourceAsync(string uri, McpCallContext context, CancellationToken ct) =>
        ValueTask.FromException<ReadResourceResult>(new McpProtocolException($"Resource not found: the sandbox server has no resources (read files with {SandboxTools.ReadFile}).", McpErrorCode.ResourceNotFound));

    public ValueTask<IReadOnlyList<Prompt>> ListPromptsAsync(CancellationToken ct) => ValueTask.FromResult<IReadOnlyList<Prompt>>([]);

    public ValueTask<GetPromptResult> GetPromptAsync(string name, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct) =>
        ValueTask.FromException<GetPromptResult>(new McpProtocolException("Unknown prompt: the sandbox server has no prompts.", McpErrorCode.InvalidParams));

    /// <summary>
    /// Nothing to release: the sandboxes belong to the manager, which ends them at shutdown, and this server is one
    /// singleton for the process, so a federation rebuilt on reload may dispose it without ending sessions' sandboxes.
    /// </summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
