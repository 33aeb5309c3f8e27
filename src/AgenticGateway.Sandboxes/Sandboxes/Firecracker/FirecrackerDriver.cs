using AgenticGateway.Sandboxes;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes.Isolation;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>
/// Sandboxes as Firecracker microVMs (KVM): one VM per sandbox, optionally jailed (chroot, uid/gid, cgroups, pid
/// namespace), its agent reached over vsock. With snapshots on, the first sandbox of a size boots a template VM up to
/// a ready agent and snapshots it; every sandbox after that is a clone restored from it. See docs/firecracker.md.
/// </summary>
internal sealed partial class FirecrackerDriver : ISandboxDriver
{
    private const int VmmOverheadMb = 64;
    private readonly FirecrackerOptions _options;
    private readonly string _state;
    private readonly string _cgroupParent;
    private readonly int _cgroupVersion;
    private readonly ILogger _logger;
    private readonly string? _imageVersion;
    private readonly Templates.TemplateImages _templateImages;
    private readonly ConcurrentDictionary<(int Vcpus, int MemoryMib), Lazy<Task<Template?>>> _templates = new();

    public FirecrackerDriver(FirecrackerOptions options, string dataDirectory, ILogger<FirecrackerDriver> logger, string kvmDevice = "/dev/kvm")
    {
        _options = options;
        _logger = logger;
        _cgroupParent = "agw-fc-" + HostState.Tag(dataDirectory);
        _state = HostState.MicroVmDirectory(dataDirectory, "firecracker");
        _cgroupVersion = options.CgroupVersion ?? (File.Exists("/sys/fs/cgroup/cgroup.controllers") ? 2 : 1);
        Unavailable = Check(options, kvmDevice) ?? UnixFiles.PrivateDirectory(_state);
        _imageVersion = options.Kernel is null ? null : ImageLayout.VersionOf(Path.GetDirectoryName(options.Kernel)!);
        _templateImages = new Templates.TemplateImages(dataDirectory, logger);
    }

    public string Name => "firecracker";

    public string? Unavailable { get; }

    public string Description => _options.UseJailer
        ? $"firecracker microVMs, jailed (uid {_options.Uid}, cgroups V{_cgroupVersion}){(_options.Snapshots ? ", snapshot clones" : "")}"
        : $"firecracker microVMs, not jailed{(_options.Snapshots ? ", snapshot clones" : "")}";

    /// <summary>Why this host cannot run the driver, or null.</summary>
    /// <param name="cpuinfo">Where the CPU's flags are read (<see cref="Kvm.Usable"/>): a device without vmx or svm never boots a VM.</param>
    internal static string? Check(FirecrackerOptions options, string kvmDevice, string cpuinfo = "/proc/cpuinfo")
    {
        if (!OperatingSystem.IsLinux()) return "Firecracker needs Linux";
        if (Kvm.Problem(kvmDevice, cpuinfo) is { } kvm) return $"{kvm}: Firecracker needs KVM (bare metal or nested virtualization)";
        if (!File.Exists(options.Binary)) return $"firecracker not found at {options.Binary} (sandboxes.firecracker.binary)";
        if (options.UseJailer)
        {
            if (!File.Exists(options.Jailer)) return $"jailer not found at {options.Jailer} (sandboxes.firecracker.jailer, or use_jailer: false)";
            if (!Path.GetFileName(options.Binary).Contains("firecracker", StringComparison.Ordinal))
                return $"the jailer only runs a binary whose name contains 'firecracker' ({options.Binary})";
            if (!BubblewrapHost.IsRootUser()) return "the jailer needs root (or set sandboxes.firecracker.use_jailer: false)";
        }
        if (options.Kernel is null || !File.Exists(options.Kernel)) return $"guest kernel not found at '{options.Kernel}' (sandboxes.firecracker.kernel)";
        if (options.Rootfs is null || !File.Exists(options.Rootfs)) return $"guest rootfs not found at '{options.Rootfs}' (sandboxes.firecracker.rootfs)";
        if (options.Initrd is not null && !File.Exists(options.Initrd)) return $"guest initrd not found at '{options.Initrd}' (sandboxes.firecracker.initrd, or run 'agw images build')";
        return null;
    }

    public async Task<ISandboxInstance> StartAsync(SandboxLaunch launch, CancellationToken cancellationToken)
    {
        if (Unavailable is not null) throw new SandboxStartException(Unavailable);   // a 503 naming why, never a 500
        if (launch.Network.Mode != NetworkMode.None)
            throw new SandboxStartException("network 'allowlist' is not available with the firecracker driver yet; use network 'none'");
        var size = Size(launch.Resources);
        // A template's home goes into the boot image when there is an initrd to append it to (as on QEMU); a VM that
        // boots its root disk directly gets the layer through the agent. Either boots cold: a clone has the base's memory.
        var bootFile = launch.Template is { } custom && _options.Initrd is { } initrd ? await TemplateBootFileAsync(custom, initrd, cancellationToken) : null;
        var template = _options.Snapshots && bootFile is null ? await TemplateAsync(size, launch.BootTimeout, cancellationToken) : null;
        var watch = Stopwatch.StartNew();
        FirecrackerVm? vm = null;
        AgentConnection? agent = null;
        try
        {
            vm = await LaunchAsync(launch.Id, launch.Resources, size.MemoryMib, launch.BootTimeout, cancellationToken, bootFile);
            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(launch.BootTimeout);
            if (template is not null) await RestoreAsync(vm, template, boot.Token);
            else await VmRequests.BootAsync(vm.Client, Plan(vm.Layout, size), boot.Token);
            agent = await ConnectAgentAsync(vm, boot.Token);
            await agent.Ready.WaitAsync(boot.Token);
            if (template is not null) await MicroVmGuest.ResumeAsync(agent, boot.Token);
            MicroVmLog.Started(_logger, "Firecracker", launch.Id, template is null ? "boot" : "snapshot", watch.Elapsed.TotalMilliseconds);
            return new MicroVmInstance(vm, vm.Exited, agent, Name, _imageVersion) { TemplateInImage = bootFile is not null };
        }
        catch (Exception ex)
        {
            if (agent is not null) await agent.DisposeAsync();
            if (vm is not null)
            {
                if (vm.Console is { } console) MicroVmLog.Console(_logger, "Firecracker", launch.Id, console.Tail());
                await vm.DisposeAsync();
            }
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new SandboxStartException($"the microVM did not become ready within {launch.BootTimeout.TotalSeconds:0.#} s");
            if (ex is FirecrackerApiException or VsockConnectException or AgentException or IOException)
                throw new SandboxStartException($"the microVM could not be started: {ex.Message}");
            throw;
        }
    }

    private async Task<string> TemplateBootFileAsync(Templates.SandboxTemplate template, string initrd, CancellationToken cancellationToken)
    {
        try { return await _templateImages.BootFileAsync(template, initrd, _imageVersion ?? "unversioned", cancellationToken); }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new SandboxStartException($"the boot image of template '{template.Name}' could not be made: {ex.Message}");
        }
    }

    private (int Vcpus, int MemoryMib) Size(SandboxResources resources) =>
        (_options.Vcpus ?? Math.Clamp((int)Math.Ceiling(resources.Cpu), 1, 32), _options.MemoryMb ?? resources.MemoryMb + resources.DiskMb);

    private VmPlan Plan(VmLayout layout, (int Vcpus, int MemoryMib) size) => new()
    {
        Vcpus = size.Vcpus,
        MemoryMib = size.MemoryMib,
        Kernel = layout.Kernel,
        Initrd = layout.Initrd,
        // The image's init starts the agent on this transport.
        BootArgs = $"{_options.BootArgs} agw.transport=vsock:{_options.AgentPort}",
        Rootfs = layout.Rootfs,
        VsockUds = layout.Vsock,
    };

    /// <summary>A Firecracker process for <paramref name="id"/>, API up, nothing configured yet.</summary>
    /// <param name="initrd">The initrd to boot instead of the configured one (a template's boot image).</param>
    private async Task<FirecrackerVm> LaunchAsync(string id, SandboxResources resources, int memoryMib, TimeSpan timeout, CancellationToken ct, string? initrd = null)
    {
        var registry = Path.Join(_state, "vms", id);
        Directory.CreateDirectory(registry);
        IReadOnlyList<string> command;
        VmLayout layout;
        Action cleanup = () => { };
        if (_options.UseJailer)
        {
            layout = JailerCommand.Layout(_options, id);
            File.WriteAllText(Path.Join(registry, "jail"), layout.HostDirectory);
            Directory.CreateDirectory(layout.ChrootRoot!);
            FirecrackerVm.LinkInto(_options.Kernel!, layout.ToHost(layout.Kernel));
            FirecrackerVm.LinkInto(_options.Rootfs!, layout.ToHost(layout.Rootfs));
            if (layout.Initrd is not null) FirecrackerVm.LinkInto(initrd ?? _options.Initrd!, layout.ToHost(layout.Initrd));
            var memoryBytes = (long)(memoryMib + VmmOverheadMb) << 20;
            command = [_options.Jailer, .. JailerCommand.Build(_options, id, _cgroupParent, _cgroupVersion, memoryBytes, resources.Cpu)];
            cleanup = () => RemoveCgroups(id);
        }
        else
        {
            layout = VmLayout.Direct(registry, _options);
            if (initrd is not null) layout = layout with { Initrd = initrd };
            command = [_options.Binary, "--id", id, .. JailerCommand.FirecrackerArgs(_options, layout.ApiSocket)];
        }
        return await FirecrackerVm.LaunchAsync(_options, layout, command, registry, line => MicroVmLog.Vmm(_logger, "Firecracker", id, line), cleanup, timeout, ct);
    }

    private async Task RestoreAsync(FirecrackerVm vm, Template template, CancellationToken ct)
    {
        var layout = vm.Layout;
        FirecrackerVm.LinkInto(template.State, layout.ToHost(layout.SnapshotState));
        FirecrackerVm.LinkInto(template.Memory, layout.ToHost(layout.SnapshotMemory));
        // Jailed, every clone's vsock socket has the snapshot's path inside its own chroot; direct, each needs its own.
        var vsockOverride = layout.ChrootRoot is null ? layout.Vsock : null;
        await VmRequests.RestoreAsync(vm.Client, layout.SnapshotState, layout.SnapshotMemory, vsockOverride, logPath: null, ct);
    }

    /// <summary>The guest's agent listener comes up some time after boot or restore: retry until the deadline.</summary>
    private async Task<AgentConnection> ConnectAgentAsync(FirecrackerVm vm, CancellationToken ct)
    {
        while (true)
        {
            if (vm.Exited.IsCompleted) throw new SandboxStartException("the microVM exited while starting");
            try
            {
                var stream = await VsockConnector.ConnectAsync(vm.Layout.VsockHost, _options.AgentPort, TimeSpan.FromSeconds(1), ct);
                return new AgentConnection(stream, stream);
            }
            catch (VsockConnectException) { }
            await Task.Delay(10, ct);
        }
    }

    private Task<Template?> TemplateAsync((int Vcpus, int MemoryMib) size, TimeSpan bootTimeout, CancellationToken ct)
    {
        var lazy = _templates.GetOrAdd(size, s => new Lazy<Task<Template?>>(() => CreateTemplateAsync(s, bootTimeout)));
        return lazy.Value.WaitAsync(ct);
    }

    /// <summary>Boots a VM to a ready agent, disconnects the agent and snapshots it. Null (boot each VM) if that fails.</summary>
    private async Task<Template?> CreateTemplateAsync((int Vcpus, int MemoryMib) size, TimeSpan bootTimeout)
    {
        var id = $"tpl-{size.Vcpus}x{size.MemoryMib}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var templates = TemplatesDirectory;
        var directory = Path.Join(templates, $"{size.Vcpus}x{size.MemoryMib}");
        var watch = Stopwatch.StartNew();
        try
        {
            Directory.CreateDirectory(directory);
            using var timeout = new CancellationTokenSource(bootTimeout * 3);
            await using var vm = await LaunchAsync(id, new SandboxResources { Cpu = size.Vcpus }, size.MemoryMib, bootTimeout, timeout.Token);
            await VmRequests.BootAsync(vm.Client, Plan(vm.Layout, size), timeout.Token);
            await using (var agent = await ConnectAgentAsync(vm, timeout.Token))
            {
                await agent.Ready.WaitAsync(timeout.Token);
                await agent.CallAsync(AgentOps.Ping, null, timeout.Token);
            }
            await VmRequests.SnapshotAsync(vm.Client, vm.Layout.SnapshotState, vm.Layout.SnapshotMemory, timeout.Token);
            var template = new Template(Path.Join(directory, "vm.state"), Path.Join(directory, "vm.mem"));
            File.Move(vm.Layout.ToHost(vm.Layout.SnapshotState), template.State, overwrite: true);
            File.Move(vm.Layout.ToHost(vm.Layout.SnapshotMemory), template.Memory, overwrite: true);
            MicroVmLog.TemplateReady(_logger, "Firecracker", size.Vcpus, size.MemoryMib, watch.Elapsed.TotalMilliseconds);
            return template;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            MicroVmLog.TemplateFailed(_logger, "Firecracker", size.Vcpus, size.MemoryMib, ex.Message);
            return null;
        }
    }

    private void RemoveCgroups(string id)
    {
        var roots = _cgroupVersion == 2 ? [CgroupFs.Mount] : new[] { "memory", "cpu", "cpu,cpuacct" }.Select(c => Path.Join(CgroupFs.Mount, c));
        foreach (var root in roots) TryRemoveDirectory(Path.Join(root, _cgroupParent, id));
    }

    /// <summary>Jailed, clones hard-link the snapshot into their chroots, so it must be on the chroot base's filesystem.</summary>
    private string TemplatesDirectory => _options.UseJailer ? Path.Join(_options.ChrootBase, _cgroupParent + "-templates") : Path.Join(_state, "templates");

    public void RemoveHostState()
    {
        ReapOrphans();          // a template VM may still be booting: no Firecracker outlives the gateway
        UnixFiles.TryDeleteTree(TemplatesDirectory);
        UnixFiles.TryDeleteTree(_state);
    }

    public int ReapOrphans()
    {
        // Snapshots of an earlier run may be of another kernel, image or Firecracker: never restore from them.
        UnixFiles.TryDeleteTree(TemplatesDirectory);
        var vms = Path.Join(_state, "vms");
        if (!Directory.Exists(vms)) return 0;
        var reaped = 0;
        foreach (var registry in Directory.EnumerateDirectories(vms))
        {
            HostState.KillRecorded(registry, "firecracker");
            var jail = Path.Join(registry, "jail");
            if (File.Exists(jail)) UnixFiles.TryDeleteTree(File.ReadAllText(jail).Trim());
            RemoveCgroups(Path.GetFileName(registry));
            UnixFiles.TryDeleteTree(registry);
            reaped++;
        }
        return reaped;
    }


    private static void TryRemoveDirectory(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    private sealed record Template(string State, string Memory);
}
