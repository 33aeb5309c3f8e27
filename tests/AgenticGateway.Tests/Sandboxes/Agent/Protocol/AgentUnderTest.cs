using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary>
/// The protocol conformance tests (docs/sandbox-agent-protocol.md) share one collection: they run one after another,
/// so that their timing checks (a ping answered within 50 ms during an execution, a kill 2 s after an ignored
/// interrupt) do not compete with each other for the CPU.
/// </summary>
[CollectionDefinition(Name)]
public sealed class AgentProtocolCollection
{
    public const string Name = "agent protocol";
}

/// <summary>
/// The guest agent (agw-agent) inside bubblewrap, as a sandbox runs it: its kernels beside it in /opt/agw, tmpfs
/// /home/user and /tmp, no network, driven directly over its stdio transport. Requests go in as JSON lines; every
/// event is collected per request id, and every line is checked to be an event (an object with an integer id and a
/// string type) that never follows its request's terminal event.
/// </summary>
internal sealed class AgentUnderTest : IAsyncDisposable
{
    public const string Home = "/home/user";
    public const string Tmp = "/tmp";
    /// <summary>Where the agent sees <see cref="HostRunDirectory"/>, and so the egress socket a test binds there.</summary>
    public const string RunDirectory = "/run/agw";

    /// <summary>Read-only parts of the host's /etc that Python's numpy and matplotlib need (as a sandbox has them).</summary>
    private static readonly string[] HostEtc =
        ["/etc/alternatives", "/etc/ld.so.cache", "/etc/matplotlibrc", "/etc/python3", "/etc/python3.11", "/etc/fonts"];

    /// <summary>
    /// Starts bwrap from a thread that lives as long as the tests: --die-with-parent fires when the *thread* that
    /// started bwrap ends, which a pool thread may do at any time (as in the gateway, see <see cref="ProcessSpawner"/>).
    /// </summary>
    private static readonly ProcessSpawner Spawner = new();

    private readonly Process _process;
    private readonly AgenticGateway.Sandboxes.Isolation.CgroupLimits? _cgroup;
    private readonly Stream _stdin;
    private readonly object _gate = new();
    private readonly Dictionary<long, List<JsonElement>> _events = [];
    private readonly Dictionary<long, JsonElement> _finished = [];
    private readonly List<string> _violations = [];
    private readonly StringBuilder _stderr = new();
    private readonly Task _reader;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private JsonElement? _ready;
    private bool _outputEnded;
    private long _nextId;

    private AgentUnderTest(Process process, string scratch, AgenticGateway.Sandboxes.Isolation.CgroupLimits? cgroup)
    {
        _process = process;
        _cgroup = cgroup;
        _stdin = process.StandardInput.BaseStream;
        Scratch = scratch;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>A host directory for the test, removed at the end; <see cref="HostRunDirectory"/> is inside it.</summary>
    public string Scratch { get; }

    /// <summary>The host directory the agent sees as <see cref="RunDirectory"/>.</summary>
    public string HostRunDirectory => Path.Join(Scratch, "run");

    /// <summary>The agent's unsolicited ready event.</summary>
    public JsonElement Ready => _ready ?? throw new InvalidOperationException("not ready");

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>The agent's threads ("tid name", from /proc), found through its cgroup: needs <c>maxProcesses</c>.</summary>
    public IReadOnlyList<string> AgentThreads()
    {
        var procs = File.ReadAllLines(_cgroup?.ProcsFiles[0] ?? throw new InvalidOperationException("started without maxProcesses"));
        var agent = procs.Single(pid => File.ReadAllText($"/proc/{pid}/comm").Trim() == "agw-agent");
        return [.. Directory.GetDirectories($"/proc/{agent}/task").Select(t => $"{Path.GetFileName(t)} {File.ReadAllText(t + "/comm").Trim()}").Order()];
    }

    /// <summary>Request ids whose terminal event has arrived.</summary>
    public bool IsFinished(long id) { lock (_gate) return _finished.ContainsKey(id); }

    /// <param name="pidOneWaitsForEveryProcess">
    /// Without bwrap's --die-with-parent, so that the sandbox's pid 1 (which holds the agent's output open) lives until
    /// no process is left in the sandbox, not just until the agent exits: <see cref="ShutdownAsync"/> then checks that
    /// the agent killed everything it started.
    /// </param>
    /// <param name="maxProcesses">
    /// A cgroup pids.max for the sandbox (threads count), as the bubblewrap driver sets max_processes; 0: none.
    /// </param>
    /// <param name="agentArgs">Arguments for the agent itself (after its path), e.g. <c>--context NAME=LANGUAGE</c>.</param>
    public static async Task<AgentUnderTest> StartAsync(bool pidOneWaitsForEveryProcess = false, int maxProcesses = 0, string[]? agentArgs = null)
    {
        Assert.True(File.Exists("/usr/bin/bwrap"), "bubblewrap is not installed (scripts/test.sh installs it)");
        var scratch = Directory.CreateTempSubdirectory("agw-agent-protocol-").FullName;
        Directory.CreateDirectory(Path.Join(scratch, "run"));
        var guest = GuestAgentBuild.GuestDirectory;
        var info = new ProcessStartInfo("/usr/bin/bwrap")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
        };
        string[] args =
        [
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", Home,
            .. HostEtc.SelectMany(etc => new[] { "--ro-bind-try", etc, etc }),
            "--tmpfs", "/opt/agw",
            "--ro-bind", Path.Join(guest, "pykernel.py"), "/opt/agw/pykernel.py",
            "--ro-bind", Path.Join(guest, "nodekernel.js"), "/opt/agw/nodekernel.js",
            "--ro-bind", GuestAgentBuild.Executable, "/opt/agw/agw-agent", "--remount-ro", "/opt/agw",
            "--bind", Path.Join(scratch, "run"), RunDirectory,
            .. (pidOneWaitsForEveryProcess ? Array.Empty<string>() : ["--die-with-parent"]),
            "--unshare-all", "--new-session", "--chdir", Home, "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", Home,
            "/opt/agw/agw-agent",
            .. agentArgs ?? [],
        ];
        AgenticGateway.Sandboxes.Isolation.CgroupLimits? cgroup = null;
        if (maxProcesses > 0)
        {
            cgroup = AgenticGateway.Sandboxes.Isolation.CgroupLimits.TryCreate($"agw-agent-test/{Path.GetFileName(scratch)}", 0, maxProcesses, 0, out var problem);
            Assert.True(cgroup is not null, $"no cgroup for the process limit: {problem}");
            // As the driver's launch chain does: the shell joins the group, then execs bwrap, so all of the sandbox counts.
            info.FileName = "/bin/sh";
            string[] join = ["-c", "while [ \"$1\" != -- ]; do echo $$ > \"$1\" || exit 125; shift; done; shift; exec \"$@\"", "sh",
                .. cgroup.ProcsFiles, "--", "/usr/bin/bwrap"];
            foreach (var a in join) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        var agent = new AgentUnderTest(await Spawner.StartAsync(info), scratch, cgroup);
        try
        {
            await agent.WaitUntilAsync(() => agent._ready, TimeSpan.FromSeconds(20), "the agent's ready event");
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
        return agent;
    }

    private async Task ReadAsync()
    {
        var reader = _process.StandardOutput;
        while (await reader.ReadLineAsync() is { } line)
        {
            JsonElement e;
            try
            {
                e = JsonDocument.Parse(line).RootElement.Clone();
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("id", out var idValue) || !idValue.TryGetInt64(out _)
                    || !e.TryGetProperty("type", out var typeValue) || typeValue.ValueKind != JsonValueKind.String)
                    throw new JsonException("not an event");
            }
            catch (JsonException)
            {
                lock (_gate) _violations.Add($"not an event: {line[..Math.Min(200, line.Length)]}");
                continue;
            }
            var id = e.GetProperty("id").GetInt64();
            var type = e.GetProperty("type").GetString();
            lock (_gate)
            {
                if (id == 0 && type == "ready") _ready = e;
                else if (id != 0 && _finished.ContainsKey(id)) _violations.Add($"event after the terminal event: {line[..Math.Min(200, line.Length)]}");
                else
                {
                    if (!_events.TryGetValue(id, out var list)) _events[id] = list = [];
                    list.Add(e);
                    if (id != 0 && type is "done" or "error") _finished[id] = e;
                }
                Pulse();
            }
        }
        lock (_gate)
        {
            _outputEnded = true;
            Pulse();
        }
    }

    private void Pulse()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    /// <summary>Waits until <paramref name="probe"/> (called under the lock, after every event) gives a value.</summary>
    private async Task<T> WaitUntilAsync<T>(Func<T?> probe, TimeSpan timeout, string what) where T : struct
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (probe() is { } value) return value;
                if (_outputEnded) Assert.Fail($"the agent ended before {what}; stderr:\n{Stderr}");
                changed = _changed.Task;
            }
            var left = timeout - watch.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
                Assert.Fail($"no {what} within {timeout.TotalSeconds:0.#} s; stderr:\n{Stderr}");
        }
    }

    /// <summary>Writes raw bytes to the agent's input (for malformed lines).</summary>
    public void WriteRaw(string text)
    {
        try
        {
            lock (_stdin)
            {
                _stdin.Write(Encoding.UTF8.GetBytes(text));
                _stdin.Flush();
            }
        }
        catch (IOException e)
        {
            // Stderr says why (an unhandled exception's stack trace).
            _process.WaitForExit(2000);
            Assert.Fail($"the agent is gone ({e.Message}); stderr:\n{Stderr}");
        }
    }

    /// <summary>Sends <c>{"id", "op", ...args}</c> (args: an anonymous object, its property names as written) and returns the id.</summary>
    public long Send(string op, object? args = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = new JsonObject { ["id"] = id, ["op"] = op };
        if (args is not null)
            foreach (var (name, value) in JsonSerializer.SerializeToNode(args)!.AsObject())
                request[name] = value?.DeepClone();
        WriteRaw(request.ToJsonString() + "\n");
        return id;
    }

    /// <summary>The request's events (its terminal event last) once it has ended.</summary>
    public async Task<(IReadOnlyList<JsonElement> Events, JsonElement Final)> WaitAsync(long id, double timeoutSeconds = 30)
    {
        var final = await WaitUntilAsync(() => _finished.TryGetValue(id, out var f) ? f : (JsonElement?)null,
            TimeSpan.FromSeconds(timeoutSeconds), $"terminal event for request {id}");
        lock (_gate) return ([.. _events[id]], final);
    }

    /// <summary>The first event of request <paramref name="id"/> that matches <paramref name="match"/>, once it has arrived.</summary>
    public Task<JsonElement> WaitEventAsync(long id, Func<JsonElement, bool> match, double timeoutSeconds = 10) =>
        WaitUntilAsync(() => _events.TryGetValue(id, out var list) && list.FirstOrDefault(match) is { ValueKind: JsonValueKind.Object } e ? e : (JsonElement?)null,
            TimeSpan.FromSeconds(timeoutSeconds), $"matching event for request {id}");

    /// <summary>Unsolicited events (id 0) other than ready: answers to lines that were not requests.</summary>
    public IReadOnlyList<JsonElement> IdZeroEvents() { lock (_gate) return _events.TryGetValue(0, out var list) ? [.. list] : []; }

    /// <summary>Sends a request and checks its outcome: <c>done</c>, or the error <paramref name="expect"/>.</summary>
    public async Task<JsonElement> CallAsync(string op, object? args = null, string expect = "done", double timeoutSeconds = 30)
    {
        var (_, final) = await WaitAsync(Send(op, args), timeoutSeconds);
        if (expect == "done")
            Assert.True(final.Str("type") == "done", $"{op} failed: {final}");
        else
            Assert.True(final.Str("type") == "error" && final.Str("code") == expect, $"{op}: expected error {expect}, got {final}");
        return final;
    }

    public Task<JsonElement> CreateContextAsync(string name, string language, object? extra = null) =>
        CallAsync("context.create", Merge(new { context = name, language }, extra));

    /// <summary>An execution that must end with done.</summary>
    public async Task<AgentRun> ExecuteAsync(string context, string code, object? extra = null, double timeoutSeconds = 30)
    {
        var (events, final) = await WaitAsync(Send("execute", Merge(new { context, code }, extra)), timeoutSeconds);
        Assert.True(final.Str("type") == "done", $"execute failed: {final}");
        return new AgentRun(events, final);
    }

    /// <summary>A process (process.start) run to its end, which must be done, its start event first.</summary>
    public async Task<AgentRun> RunProcessAsync(string cmd, object? extra = null, double timeoutSeconds = 30)
    {
        var (events, final) = await WaitAsync(Send("process.start", Merge(new { cmd }, extra)), timeoutSeconds);
        Assert.True(final.Str("type") == "done", $"process failed: {final}");
        Assert.Equal("start", events[0].Str("type"));
        return new AgentRun(events, final);
    }

    /// <summary>Writes a file with fs.write in chunks of <paramref name="chunk"/> bytes, checking the size after each.</summary>
    public async Task UploadAsync(string path, byte[] data, int chunk = 0, string token = "t")
    {
        chunk = chunk > 0 ? chunk : Math.Max(1, data.Length);
        var offset = 0;
        while (true)
        {
            var part = data.AsSpan(offset, Math.Min(chunk, data.Length - offset)).ToArray();
            var final = offset + part.Length >= data.Length;
            var done = await CallAsync("fs.write", new { path, data_b64 = Convert.ToBase64String(part), offset, final, upload = token });
            offset += part.Length;
            Assert.Equal(offset, done.Int("size"));
            if (final) return;
        }
    }

    public async Task<byte[]> ReadFileAsync(string path) =>
        Convert.FromBase64String((await CallAsync("fs.read", new { path })).Str("data_b64")!);

    /// <summary>
    /// Closes the agent's input and checks the end: the agent exits 0 (bwrap exits with its status), no line it wrote
    /// broke the protocol, and the sandbox's pid 1 ends too, closing the agent's output.
    /// </summary>
    public async Task ShutdownAsync()
    {
        _stdin.Close();
        // The overload with a timeout returns at the exit, without waiting for the output pipes (checked next).
        var exited = await Task.Run(() => _process.WaitForExit(10_000));
        Assert.True(exited, $"the agent did not exit within 10 s of end-of-file; stderr:\n{Stderr}");
        Assert.True(_process.ExitCode == 0, $"agent exit status {_process.ExitCode}; stderr:\n{Stderr}");
        Assert.True(await Task.WhenAny(_reader, Task.Delay(10_000)) == _reader, "a process of the sandbox held its output open 10 s after the agent exited");
        lock (_gate) Assert.True(_violations.Count == 0, "protocol violations:\n  " + string.Join("\n  ", _violations));
    }

    private static JsonObject Merge(object first, object? extra)
    {
        var merged = JsonSerializer.SerializeToNode(first)!.AsObject();
        if (extra is not null)
            foreach (var (name, value) in JsonSerializer.SerializeToNode(extra)!.AsObject())
                merged[name] = value?.DeepClone();
        return merged;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_cgroup is not null) await _cgroup.DeleteAsync();
        try { Directory.Delete(Scratch, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One execution's or process's events, split by type (docs/sandbox-agent-protocol.md, execute).</summary>
internal sealed class AgentRun(IReadOnlyList<JsonElement> events, JsonElement done)
{
    public IReadOnlyList<JsonElement> Events { get; } = events;
    public JsonElement Done { get; } = done;
    public string Stdout { get; } = string.Concat(events.Where(e => e.Str("type") == "stdout").Select(e => e.Str("data")));
    public string Stderr { get; } = string.Concat(events.Where(e => e.Str("type") == "stderr").Select(e => e.Str("data")));
    public IReadOnlyList<JsonElement> Results { get; } = [.. events.Where(e => e.Str("type") == "result")];
    public IReadOnlyList<JsonElement> Exceptions { get; } = [.. events.Where(e => e.Str("type") == "exception")];
    public IReadOnlyList<string?> ExceptionNames => [.. Exceptions.Select(e => e.Str("name"))];
    /// <summary>The main result (the value of the last expression), if any.</summary>
    public JsonElement? Main { get; } = events.Where(e => e.Str("type") == "result" && e.Bool("is_main_result")).Select(e => (JsonElement?)e).FirstOrDefault();
    public string? MainText => Main?.Str("text");
    /// <summary>What a process on a pty wrote (base64 in data_b64).</summary>
    public byte[] Pty { get; } = [.. events.Where(e => e.TryGetProperty("data_b64", out _)).SelectMany(e => Convert.FromBase64String(e.Str("data_b64")!))];

    public int ExitCode => Done.Int("exit_code");
    public bool Truncated => Done.Bool("truncated");
    public bool TimedOut => Done.Bool("timed_out");
    public bool ContextRestarted => Done.Bool("context_restarted");

    public override string ToString() =>
        $"stdout={Stdout[..Math.Min(300, Stdout.Length)]}, stderr={Stderr[..Math.Min(300, Stderr.Length)]}, results=[{string.Join(", ", Results)}], exceptions=[{string.Join(", ", Exceptions)}], done={Done}";
}

internal static class AgentEventFields
{
    public static string? Str(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int Int(this JsonElement e, string name) => e.GetProperty(name).GetInt32();

    /// <summary>A boolean field, which must be there.</summary>
    public static bool Bool(this JsonElement e, string name) => e.GetProperty(name).GetBoolean();
}
