using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Egress;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// Sandboxes as Linux namespaces (bubblewrap): new user, pid, net, ipc, uts and cgroup namespaces, a read-only system,
/// size-capped tmpfs for the only writable places, no capabilities, an unprivileged uid, a seccomp filter, cgroup
/// memory/pids/cpu limits and per-process rlimits. See docs/sandboxes.md.
/// </summary>
internal sealed class BubblewrapDriver : ISandboxDriver, IDisposable
{
    private readonly BubblewrapHost? _host;
    private readonly string _cgroupPrefix;
    private readonly string _sandboxDirectory;
    private readonly string _state;
    private readonly EgressProxy _egress;
    private readonly ProcessSpawner _spawner = new();
    private readonly ILogger _logger;

    public BubblewrapDriver(string dataDirectory, EgressProxy egress, ILogger<BubblewrapDriver> logger)
    {
        _egress = egress;
        _logger = logger;
        var full = Path.GetFullPath(dataDirectory);
        var tag = HostState.Tag(full);
        _cgroupPrefix = "agw-" + tag;
        // The unprivileged sandbox user must be able to reach what is bound into its sandbox, which a data directory
        // under /root would not allow; as root the state lives in /run (tmpfs, gone at reboot with the sandboxes).
        var isRoot = BubblewrapHost.IsRootUser();
        var state = isRoot ? Path.Combine("/run/agentic-gateway", tag) : Path.Combine(full, "sandboxes");
        _state = state;
        _sandboxDirectory = Path.Combine(state, "sandboxes");
        try
        {
            if (isRoot) OpenUp(state);
            _host = BubblewrapHost.Detect(state, out var problem);
            Unavailable = problem;
            Directory.CreateDirectory(_sandboxDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Unavailable = $"cannot prepare {state}: {ex.Message}";
        }
    }

    public string Name => "bubblewrap";

    public void RemoveHostState() => UnixFiles.TryDeleteTree(_state);

    public string? Unavailable { get; }

    public string Description => $"bubblewrap, cgroups {_host?.Cgroups.ToString() ?? "none"}";

    public async Task<ISandboxInstance> StartAsync(SandboxLaunch launch, CancellationToken cancellationToken)
    {
        var host = _host ?? throw new InvalidOperationException(Unavailable);
        var resources = launch.Resources;
        string? hostDirectory = null;
        IAsyncDisposable? egress = null;
        CgroupLimits? cgroup = null;
        Process? process = null;
        try
        {
            if (launch.Network.Mode == NetworkMode.Allowlist)
            {
                hostDirectory = Path.Combine(_sandboxDirectory, launch.Id);
                Directory.CreateDirectory(hostDirectory);
                UnixFiles.SetMode(hostDirectory, UnixFiles.WorldTraversable);
                egress = _egress.Listen(launch.Id, Path.Combine(hostDirectory, "egress.sock"), launch.Network.AllowHosts);
            }
            if (host.Cgroups != CgroupMode.None)
            {
                // Files in the tmpfs count against the memory cgroup, so the cap covers memory and disk together.
                var memory = ((long)resources.MemoryMb + resources.DiskMb) << 20;
                cgroup = CgroupLimits.TryCreate($"{_cgroupPrefix}/{launch.Id}", memory, launch.MaxProcesses, resources.Cpu, out var problem);
                if (cgroup is null && problem is not null) SandboxLog.NoCgroup(_logger, launch.Id, problem);
            }

            var info = BubblewrapCommand.Build(launch, host, cgroup?.ProcsFiles ?? [], hostDirectory);
            process = await _spawner.StartAsync(info);
            var id = launch.Id;
            process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) SandboxLog.AgentStderr(_logger, id, line); };
            process.BeginErrorReadLine();
            var agent = new AgentConnection(process.StandardInput.BaseStream, process.StandardOutput.BaseStream);
            var instance = new BubblewrapInstance(process, agent, cgroup, hostDirectory, egress);

            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(launch.BootTimeout);
            try
            {
                await agent.Ready.WaitAsync(boot.Token);
                if (egress is not null)
                    await agent.CallAsync("egress.start", w => { w.WriteNumber("port", 3128); w.WriteString("socket", "/run/agw/egress.sock"); }, boot.Token);
            }
            catch (Exception ex)
            {
                await instance.DisposeAsync();
                if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                    throw new SandboxStartException($"the sandbox did not become ready within {launch.BootTimeout.TotalSeconds:0.#} s");
                if (ex is AgentException) throw new SandboxStartException($"the sandbox exited while starting (exit code {(process.HasExited ? process.ExitCode : -1)})");
                throw;
            }
            return instance;
        }
        catch (Exception ex) when (process is null && ex is not OperationCanceledException)
        {
            cgroup?.Delete();
            if (egress is not null) await egress.DisposeAsync();
            if (hostDirectory is not null) UnixFiles.TryDeleteTree(hostDirectory);
            throw new SandboxStartException($"the sandbox could not be started: {ex.Message}");
        }
    }

    public int ReapOrphans()
    {
        var reaped = CgroupLimits.ReapOrphans(_cgroupPrefix);
        if (Directory.Exists(_sandboxDirectory))
        {
            foreach (var dir in Directory.EnumerateDirectories(_sandboxDirectory))
            {
                UnixFiles.TryDeleteTree(dir);
                reaped = Math.Max(reaped, 1);
            }
        }
        return reaped;
    }


    private static void OpenUp(string state)
    {
        Directory.CreateDirectory(state);
        for (var dir = new DirectoryInfo(state); dir is not null && dir.FullName != "/run"; dir = dir.Parent)
            UnixFiles.SetMode(dir.FullName, UnixFiles.WorldTraversable);
    }

    public void Dispose() => _spawner.Dispose();
}

/// <summary>A sandbox could not be started (boot timeout, agent died, host problem): a 503 to the caller, never a 500.</summary>
internal sealed class SandboxStartException(string message) : Exception(message);

/// <summary>One running bubblewrap sandbox and everything on the host that belongs to it.</summary>
internal sealed class BubblewrapInstance(Process process, AgentConnection agent, CgroupLimits? cgroup, string? hostDirectory, IAsyncDisposable? egress) : ISandboxInstance
{
    private int _disposed;
    private string? _endReason;

    public AgentConnection Agent { get; } = agent;

    public Task Exited { get; } = process.WaitForExitAsync();

    public string? EndReason => _endReason ?? (cgroup?.OomKilled() == true ? "oom" : null);

    public string Isolation => "bubblewrap";

    public string? Image => null;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        // Closing the agent's stdin ends it and with it the sandbox (pid 1 of its namespace); kill if it lingers.
        await Agent.DisposeAsync();
        if (await Task.WhenAny(Exited, Task.Delay(300)) != Exited)
        {
            try { process.Kill(); } catch (InvalidOperationException) { }
            await Task.WhenAny(Exited, Task.Delay(2000));
        }
        _endReason = EndReason;
        cgroup?.Delete();
        if (egress is not null) await egress.DisposeAsync();
        if (hostDirectory is not null) UnixFiles.TryDeleteTree(hostDirectory);
        process.Dispose();
    }
}
