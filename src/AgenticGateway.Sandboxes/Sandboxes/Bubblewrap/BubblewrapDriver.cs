using AgenticGateway.Sandboxes;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Egress;
using AgenticGateway.Sandboxes.Isolation;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// Sandboxes as Linux namespaces (bubblewrap): new user, pid, net, ipc, uts and cgroup namespaces, a read-only system,
/// size-capped tmpfs for the only writable places, no capabilities, an unprivileged uid, a seccomp filter, cgroup
/// memory/pids/cpu limits and per-process rlimits. See docs/sandboxes.md.
/// </summary>
internal sealed class BubblewrapDriver : ISandboxDriver, Persistence.ISandboxPersistence, IDisposable
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
        // As root the state lives in /run (tmpfs, gone at reboot with the sandboxes). Only root (or the gateway's user)
        // reads it: the launch chain opens what bwrap needs before it drops to the sandbox user.
        var isRoot = BubblewrapHost.IsRootUser();
        var state = isRoot ? Path.Combine("/run/agentic-gateway", tag) : Path.Combine(full, "sandboxes");
        _state = state;
        _sandboxDirectory = Path.Combine(state, "sandboxes");
        try
        {
            Directory.CreateDirectory(state);
            UnixFiles.SetMode(state, UnixFiles.Private);
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
        // bwrap's options, read by bwrap through an fd and deleted once the sandbox is up (see BubblewrapCommand).
        var optionsFile = Path.Combine(_sandboxDirectory, launch.Id + ".args");
        CgroupLimits? cgroup = null;
        Process? process = null;
        try
        {
            if (host.Cgroups != CgroupMode.None)
            {
                // Files in the tmpfs count against the memory cgroup, so the cap covers memory and disk together.
                var memory = ((long)resources.MemoryMb + resources.DiskMb) << 20;
                cgroup = CgroupLimits.TryCreate($"{_cgroupPrefix}/{launch.Id}", memory, launch.MaxProcesses, resources.Cpu, out var problem);
                if (cgroup is null && problem is not null) SandboxLog.NoCgroup(_logger, launch.Id, problem);
                launch.Timeline.Mark("cgroup");
            }

            var command = BubblewrapCommand.Build(launch, host, cgroup?.ProcsFiles ?? [], optionsFile);
            // For the gateway's user only: the sandbox's environment is in it.
            UnixFiles.WriteOwnerOnly(optionsFile, command.Options);
            launch.Timeline.Mark("options");
            process = await _spawner.StartAsync(command.Start);
            launch.Timeline.Mark("spawned");
            var id = launch.Id;
            process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) SandboxLog.AgentStderr(_logger, id, line); };
            process.BeginErrorReadLine();
            var agent = new AgentConnection(process.StandardInput.BaseStream, process.StandardOutput.BaseStream);
            var instance = new BubblewrapInstance(process, agent, cgroup);

            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(launch.BootTimeout);
            try
            {
                await agent.Ready.WaitAsync(boot.Token);
                launch.Timeline.Mark("agent");
                if (launch.Network.Mode == NetworkMode.Allowlist)
                {
                    instance.Egress = ListenForEgress(launch, process.Id, host.IsRoot);
                    await agent.CallAsync(AgentOps.EgressStart, w => { w.WriteNumber("port", 3128); w.WriteString("socket", BubblewrapCommand.EgressSocket); }, boot.Token);
                }
            }
            catch (Exception ex)
            {
                await instance.DisposeAsync();
                if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                    throw new SandboxStartException($"the sandbox did not become ready within {launch.BootTimeout.TotalSeconds:0.#} s");
                if (ex is AgentException) throw new SandboxStartException($"the sandbox exited while starting (exit code {instance.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown"})");
                throw;
            }
            return instance;
        }
        catch (Exception ex) when (process is null && ex is not OperationCanceledException)
        {
            if (cgroup is not null) await cgroup.DeleteAsync();
            throw new SandboxStartException($"the sandbox could not be started: {ex.Message}");
        }
        finally
        {
            TryDelete(optionsFile);
        }
    }

    /// <summary>
    /// Binds the sandbox's egress socket inside the sandbox itself, in its own tmpfs at /run/agw, reached through
    /// /proc/&lt;pid&gt;/root of the sandbox's pid 1 (bwrap's child), before any tenant code runs there. A socket in a
    /// host directory would have to be bind-mounted in, and every bind mount shows its host path in the sandbox's
    /// /proc/*/mountinfo; this one is the sandbox's own and goes with it. As root it is created as the sandbox user:
    /// host root has no uid in the sandbox's user namespace.
    /// </summary>
    private IAsyncDisposable ListenForEgress(SandboxLaunch launch, int bwrapPid, bool asSandboxUser)
    {
        if (ProcessTree.OnlyChild(bwrapPid) is not { } sandboxInit)
            throw new SandboxStartException("the sandbox exited while starting");
        var socket = $"/proc/{sandboxInit}/root{BubblewrapCommand.EgressSocket}";
        IAsyncDisposable Listen() => _egress.Listen(launch.Id, socket, launch.Network.AllowHosts);
        try { return asSandboxUser ? UnixFiles.AsFileSystemUser(BubblewrapCommand.HostUid, Listen) : Listen(); }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            throw new SandboxStartException($"the sandbox's egress proxy could not be set up: {ex.Message}");
        }
    }

    /// <summary>
    /// A bubblewrap sandbox keeps its files, not its processes: /home/user and /tmp as one tar (see
    /// <see cref="Persistence.SandboxFilesArchive"/>), at most both tmpfs full.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> SaveAsync(ISandboxInstance instance, SandboxResources resources, string directory, bool keepRunning, CancellationToken cancellationToken)
    {
        await Persistence.SandboxFilesArchive.SaveAsync(instance.Agent, Path.Join(directory, Persistence.SandboxFilesArchive.FileName), 2L * resources.DiskMb << 20, cancellationToken);
        return new Dictionary<string, string>();
    }

    /// <summary>A fresh sandbox with the same launch, the kept files unpacked into it before its interpreter starts.</summary>
    public async Task<ISandboxInstance> RestoreAsync(SandboxLaunch launch, string directory, Persistence.SnapshotManifest manifest, CancellationToken cancellationToken)
    {
        var host = _host ?? throw new SandboxStartException(Unavailable ?? "bubblewrap is unavailable");
        // The interpreter starts after the files are back (the manager creates it): Python reads the user site
        // directory, where pip installs, only when it starts.
        var instance = (BubblewrapInstance)await StartAsync(launch with { PreStartContext = null }, cancellationToken);
        try
        {
            if (ProcessTree.OnlyChild(instance.Pid) is not { } sandboxInit) throw new SandboxStartException("the sandbox exited while starting");
            var root = $"/proc/{sandboxInit}/root";
            // Opened before the file-system identity changes: the state is readable by the gateway's user only.
            await using var archive = File.OpenRead(Path.Join(directory, Persistence.SandboxFilesArchive.FileName));
            await Task.Factory.StartNew(() =>
            {
                // As root, files are made as the sandbox user's host uid: host root is not mapped in its namespace.
                if (host.IsRoot) UnixFiles.AsFileSystemUser(BubblewrapCommand.HostUid, () => { Persistence.SandboxFilesArchive.Restore(root, archive); return 0; });
                else Persistence.SandboxFilesArchive.Restore(root, archive);
            }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return instance;
        }
        catch (Exception ex)
        {
            await instance.DisposeAsync();
            if (ex is IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
                throw new SandboxStartException($"the sandbox's files could not be restored: {ex.Message}");
            throw;
        }
    }

    public int ReapOrphans()
    {
        var reaped = CgroupLimits.ReapOrphans(_cgroupPrefix);
        if (Directory.Exists(_sandboxDirectory))
        {
            // Options files of launches that never finished, and directories of earlier versions (egress sockets).
            foreach (var entry in Directory.EnumerateFileSystemEntries(_sandboxDirectory))
            {
                if (Directory.Exists(entry)) UnixFiles.TryDeleteTree(entry);
                else TryDelete(entry);
            }
        }
        return reaped;
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    public void Dispose() => _spawner.Dispose();
}

/// <summary>A sandbox could not be started (boot timeout, agent died, host problem): a 503 to the caller, never a 500.</summary>
internal sealed class SandboxStartException(string message) : Exception(message);

/// <summary>One running bubblewrap sandbox and everything on the host that belongs to it.</summary>
internal sealed class BubblewrapInstance(Process process, AgentConnection agent, CgroupLimits? cgroup) : ISandboxInstance, Usage.IUsageSource
{
    private int _disposed;
    private string? _endReason;

    public AgentConnection Agent { get; } = agent;

    /// <summary>The egress proxy's listener, for a sandbox with network "allowlist" (set once it is bound).</summary>
    public IAsyncDisposable? Egress { get; set; }

    public Task Exited { get; } = process.WaitForExitAsync();

    /// <summary>bwrap's pid on the host (its only child is the sandbox's pid 1).</summary>
    public int Pid { get; } = process.Id;

    public string? EndReason => _endReason ?? (cgroup?.OomKilled() == true ? "oom" : null);

    /// <summary>Bubblewrap has no boot image: a template's layer is unpacked into the home through the agent.</summary>
    public bool TemplateInImage => false;

    public string Isolation => "bubblewrap";

    public string? Image => null;

    public Usage.IUsageProbe? OpenUsageProbe() => Volatile.Read(ref _disposed) == 1 ? null : BubblewrapUsage.Open(Pid, cgroup);

    /// <summary>bwrap's exit code, once disposed (if it had ended by then).</summary>
    public int? ExitCode { get; private set; }

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
        if (process.HasExited) ExitCode = process.ExitCode;
        if (cgroup is not null) await cgroup.DeleteAsync();   // waits for the processes to go without holding a thread
        if (Egress is not null) await Egress.DisposeAsync();
        process.Dispose();
    }
}
