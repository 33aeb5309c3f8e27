using AgenticGateway.Sandboxes;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes.Isolation;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Qemu;

/// <summary>
/// Sandboxes as QEMU microVMs (<c>-M microvm</c>; KVM when /dev/kvm exists, else TCG emulation): one VM per sandbox,
/// no network device, the agent reached over a virtio-serial port on a per-sandbox Unix socket, QMP on another. With
/// snapshots on, the first sandbox of a size boots a template VM (its RAM a shared file) to a ready agent and migrates
/// its device state to a file; every sandbox after that is a clone that maps the template's RAM copy-on-write, takes
/// the device state with <c>-incoming</c>, and gets a fresh RNG seed and the host's clock. See docs/qemu.md.
/// </summary>
internal sealed partial class QemuDriver : ISandboxDriver
{
    private static readonly TimeSpan MinimumTcgBootTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan TemplateRetry = TimeSpan.FromMinutes(1);
    private readonly QemuOptions _options;
    private readonly string _state;
    private readonly bool _kvm;
    private readonly string _image;
    private readonly string? _imageVersion;
    private readonly ILogger _logger;
    private readonly Templates.TemplateImages _templateImages;
    private readonly ConcurrentDictionary<(int Vcpus, int MemoryMb, int DiskMb), Lazy<Task<QemuTemplate?>>> _templates = new();
    /// <summary>Migration without the RAM: it stays in the template's memory file, which clones map copy-on-write.</summary>
    private const string IgnoreShared = """{"capabilities":[{"capability":"x-ignore-shared","state":true}]}""";

    public QemuDriver(QemuOptions options, string dataDirectory, ILogger<QemuDriver> logger, string kvmDevice = "/dev/kvm")
    {
        _options = options;
        _logger = logger;
        _state = HostState.MicroVmDirectory(dataDirectory, "qemu");
        _kvm = Isolation.Kvm.Usable(kvmDevice);
        _image = ImageLayout.Resolve(options.ImageDirectory);
        _imageVersion = ImageLayout.VersionOf(_image);
        _templateImages = new Templates.TemplateImages(dataDirectory, logger);
        Unavailable = Check() ?? UnixFiles.PrivateDirectory(_state);
    }

    public string Name => "qemu";

    public string? Unavailable { get; }

    public string Description => $"qemu microVMs ({(_kvm ? "KVM" : "TCG emulation")}){(_options.Snapshots ? ", snapshot clones" : "")}";

    private string? Check()
    {
        if (!OperatingSystem.IsLinux()) return "the qemu driver needs Linux";
        if (!File.Exists(_options.Binary)) return $"{_options.Binary} not found (apt-get install qemu-system-x86, or sandboxes.qemu.binary)";
        foreach (var file in new[] { ImageLayout.VmlinuxFile, ImageLayout.InitrdFile, _options.Root == QemuRoot.Disk ? ImageLayout.RootfsFile : ImageLayout.RootfsInitramfsFile })
            if (!File.Exists(Path.Join(_image, file)))
                return $"no guest image in {_options.ImageDirectory} ({file} is missing: run 'agw images build', or set sandboxes.qemu.image_dir)";
        return null;
    }

    public async Task<ISandboxInstance> StartAsync(SandboxLaunch launch, CancellationToken cancellationToken)
    {
        if (Unavailable is not null) throw new SandboxStartException(Unavailable);   // a 503 naming why, never a 500
        if (launch.Network.Mode != NetworkMode.None)
            throw new SandboxStartException("network 'allowlist' is not available with the qemu driver yet; use network 'none'");
        // Under TCG a cold boot takes seconds (~5-8 s), more than the pools' default boot timeout allows.
        if (!_kvm && launch.BootTimeout < MinimumTcgBootTimeout) launch = launch with { BootTimeout = MinimumTcgBootTimeout };
        var size = Size(launch.Resources);
        var bootFile = launch.Template is { } custom ? await TemplateBootFileAsync(custom, cancellationToken) : null;
        // A snapshot clone has the base image's initramfs in its memory, not the template's: those boot cold.
        var template = _options.Snapshots && bootFile is null ? await TemplateAsync(size, launch.BootTimeout, cancellationToken) : null;
        var watch = Stopwatch.StartNew();
        QemuVm? vm = null;
        AgentConnection? agent = null;
        try
        {
            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(launch.BootTimeout);
            vm = Launch(launch.Id, size, template?.Memory, clone: template is not null, initrd: bootFile);
            agent = await ConnectAgentAsync(vm, boot.Token);
            if (template is not null)
            {
                // The clone's agent said "ready" long ago, in the template: ask it something instead.
                using var qmp = await QmpClient.ConnectAsync(vm.QmpSocket, boot.Token);
                await qmp.ExecuteAsync("migrate-set-capabilities", IgnoreShared, boot.Token);
                await qmp.ExecuteAsync("migrate-incoming", $$"""{"uri":"exec:cat {{template.State}}"}""", boot.Token);
                // The state comes in paused (the template was stopped); "cont" before it is all in would be lost.
                while ((await qmp.ExecuteAsync("query-status", null, boot.Token)).GetProperty("status").GetString() == "inmigrate")
                    await Task.Delay(10, boot.Token);
                await qmp.ExecuteAsync("cont", null, boot.Token);
                await agent.CallAsync(AgentOps.Ping, null, boot.Token);
                await MicroVmGuest.ResumeAsync(agent, boot.Token);
            }
            else await agent.Ready.WaitAsync(boot.Token);
            MicroVmLog.Started(_logger, "QEMU", launch.Id, template is null ? "boot" : "snapshot", watch.Elapsed.TotalMilliseconds);
            return new MicroVmInstance(vm, vm.Exited, agent, Name, _imageVersion) { TemplateInImage = bootFile is not null };
        }
        catch (Exception ex)
        {
            if (await StartFailedAsync(ex, agent, vm, launch.Id, cancellationToken, $"did not become ready within {launch.BootTimeout.TotalSeconds:0.#} s", "could not be started") is { } failure) throw failure;
            throw;
        }
    }

    /// <summary>
    /// Cleans up a microVM that failed to start or resume (its console tail logged first) and says what to throw: a
    /// <see cref="SandboxStartException"/> for a timeout or a VM/agent failure, null when the exception goes on as it is.
    /// </summary>
    private async Task<SandboxStartException?> StartFailedAsync(Exception ex, AgentConnection? agent, QemuVm? vm, string id, CancellationToken cancellationToken, string timedOut, string failed)
    {
        if (agent is not null) await agent.DisposeAsync();
        if (vm is not null)
        {
            MicroVmLog.Console(_logger, "QEMU", id, vm.ConsoleTail());
            await vm.DisposeAsync();
        }
        if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested) return new SandboxStartException("the microVM " + timedOut);
        if (ex is AgentException or IOException or SocketException or QmpException or System.ComponentModel.Win32Exception)
            return new SandboxStartException($"the microVM {failed}: {ex.Message}");
        return null;
    }

    /// <summary>
    /// The initramfs to boot a sandbox of <paramref name="template"/> from: this image's own (the whole root
    /// filesystem, or the small initrd of the disk mode) with the template's home appended, made once and cached.
    /// </summary>
    private async Task<string> TemplateBootFileAsync(Templates.SandboxTemplate template, CancellationToken cancellationToken)
    {
        var baseFile = Path.Join(_image, _options.Root == QemuRoot.Disk ? ImageLayout.InitrdFile : ImageLayout.RootfsInitramfsFile);
        try { return await _templateImages.BootFileAsync(template, baseFile, _imageVersion ?? "unversioned", cancellationToken); }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new SandboxStartException($"the boot image of template '{template.Name}' could not be made: {ex.Message}");
        }
    }

    private (int Vcpus, int MemoryMb, int DiskMb) Size(SandboxResources resources) =>
        (_options.Vcpus ?? Math.Clamp((int)Math.Ceiling(resources.Cpu), 1, 32), _options.MemoryMb ?? resources.MemoryMb, resources.DiskMb);

    /// <summary>
    /// A QEMU process for <paramref name="id"/>. With <paramref name="memory"/> its RAM is that file: shared (a template
    /// booting: what the guest writes lands in the file) or, for a <paramref name="clone"/>, mapped copy-on-write (it
    /// reads the template's pages and keeps its own writes). A clone starts paused, waiting for the incoming state.
    /// </summary>
    /// <param name="restore">Started paused for an incoming saved state (<see cref="RestoreAsync"/>), its RAM a plain
    /// memory backend when <paramref name="ramBackend"/> (the layout a clone had) or the machine's own otherwise.</param>
    /// <param name="initrd">The initramfs to boot instead of the image's own (a template's boot image).</param>
    private QemuVm Launch(string id, (int Vcpus, int MemoryMb, int DiskMb) size, string? memory, bool clone, bool restore = false, bool ramBackend = false, string? initrd = null)
    {
        var directory = Path.Join(_state, "vms", id);
        Directory.CreateDirectory(directory);
        var agentSocket = Path.Join(directory, "agent.sock");
        var qmpSocket = Path.Join(directory, "qmp.sock");
        var seed = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var disk = _options.Root == QemuRoot.Disk;
        var append = $"console=ttyS0 quiet panic=-1 {(_kvm ? "" : "tsc_early_khz=2000000 ")}{(disk ? "root=/dev/vda " : "")}agw.seed={seed} agw.disk={size.DiskMb}";
        var args = new List<string>
        {
            "-M", memory is null && !ramBackend ? "microvm" : "microvm,memory-backend=ram", "-accel", _kvm ? "kvm" : "tcg", "-m", size.MemoryMb.ToString(CultureInfo.InvariantCulture),
            "-smp", size.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-monitor", "none",
            // The console goes to QEMU's stdout, where only its tail is kept (see MicroVmConsole): never to a file a
            // guest could grow without bound.
            "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
            // The uncompressed ELF kernel, booted through PVH: no decompression (under TCG that alone is ~2.5 s).
            "-kernel", Path.Join(_image, ImageLayout.VmlinuxFile), "-append", append,
            "-initrd", initrd ?? Path.Join(_image, disk ? ImageLayout.InitrdFile : ImageLayout.RootfsInitramfsFile),
            "-device", "virtio-serial-device",
            "-chardev", $"socket,id=agent,path={agentSocket},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=agent",
            "-qmp", $"unix:{qmpSocket},server=on,wait=off",
        };
        // The root filesystem, shared read-only by every VM (the guest writes to a tmpfs overlay above it).
        if (disk) args.AddRange(["-drive", $"id=root,file={Path.Join(_image, ImageLayout.RootfsFile)},format=raw,if=none,readonly=on", "-device", "virtio-blk-device,drive=root"]);
        if (memory is not null)
            args.AddRange(["-object", $"memory-backend-file,id=ram,size={size.MemoryMb}M,mem-path={memory},share={(clone ? "off" : "on")}"]);
        // Paused until the host has opened the agent port (a guest resumed without it would see the port closed) and
        // has set the migration capabilities the template was saved with.
        if (ramBackend) args.AddRange(["-object", $"memory-backend-ram,id=ram,size={size.MemoryMb}M"]);
        if (clone || restore) args.AddRange(["-S", "-incoming", "defer"]);
        var process = Process.Start(MicroVmProcess.StartInfo(_options.Binary, args)) ?? throw new IOException("qemu did not start");
        HostState.RecordPid(directory, process.Id);
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) MicroVmLog.Vmm(_logger, "QEMU", id, line); };
        process.BeginErrorReadLine();
        return new QemuVm(process, directory, agentSocket, qmpSocket, new MicroVmConsole(process.StandardOutput.BaseStream)) { Size = size, MemoryBackend = memory is not null || ramBackend };
    }

    /// <summary>QEMU creates the sockets a moment after it starts: retry until the deadline.</summary>
    private static async Task<AgentConnection> ConnectAgentAsync(QemuVm vm, CancellationToken ct, long firstId = 0)
    {
        var stream = await QmpClient.ConnectUnixAsync(vm.AgentSocket, vm.Exited, ct);
        return new AgentConnection(stream, stream, firstId);
    }

    private Task<QemuTemplate?> TemplateAsync((int Vcpus, int MemoryMb, int DiskMb) size, TimeSpan bootTimeout, CancellationToken ct)
    {
        var lazy = _templates.GetOrAdd(size, s => new Lazy<Task<QemuTemplate?>>(() => CreateTemplateAsync(s, bootTimeout)));
        return lazy.Value.WaitAsync(ct);
    }

    /// <summary>
    /// Boots a VM whose RAM is a shared file to a ready agent, stops it and migrates its device state (not its RAM: it
    /// is in the file) to another. Null (boot each VM) if that fails.
    /// </summary>
    private async Task<QemuTemplate?> CreateTemplateAsync((int Vcpus, int MemoryMb, int DiskMb) size, TimeSpan bootTimeout)
    {
        var id = $"tpl-{size.Vcpus}x{size.MemoryMb}x{size.DiskMb}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var directory = Path.Join(_state, "templates");
        var file = Path.Join(directory, $"{size.Vcpus}x{size.MemoryMb}x{size.DiskMb}.vmstate");
        var memory = Path.ChangeExtension(file, ".ram");
        var watch = Stopwatch.StartNew();
        QemuVm? vm = null;
        try
        {
            Directory.CreateDirectory(directory);
            File.Delete(memory);
            using var timeout = new CancellationTokenSource(bootTimeout * 2);
            vm = Launch(id, size, memory, clone: false);
            // The agent connection stays open through the migration: the snapshot has the port open, as clones will.
            await using var agent = await ConnectAgentAsync(vm, timeout.Token);
            await agent.Ready.WaitAsync(timeout.Token);
            await agent.CallAsync(AgentOps.Ping, null, timeout.Token);
            using var qmp = await QmpClient.ConnectAsync(vm.QmpSocket, timeout.Token);
            await qmp.ExecuteAsync("stop", null, timeout.Token);
            await qmp.ExecuteAsync("migrate-set-capabilities", IgnoreShared, timeout.Token);
            var temp = file + ".tmp";
            await qmp.ExecuteAsync("migrate", $"{{\"uri\":\"exec:cat > {temp}\"}}", timeout.Token);
            while (true)
            {
                var status = await qmp.ExecuteAsync("query-migrate", null, timeout.Token);
                var state = status.TryGetProperty("status", out var s) ? s.GetString() : null;
                if (state == "completed") break;
                if (state is "failed" or "cancelled") throw new QmpException($"migration {state}");
                await Task.Delay(20, timeout.Token);
            }
            File.Move(temp, file, overwrite: true);
            MicroVmLog.TemplateReady(_logger, "QEMU", size.Vcpus, size.MemoryMb, watch.Elapsed.TotalMilliseconds);
            return new QemuTemplate(file, memory);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (vm is not null) MicroVmLog.Console(_logger, "QEMU", id, vm.ConsoleTail());
            MicroVmLog.TemplateFailed(_logger, "QEMU", size.Vcpus, size.MemoryMb, ex.Message);
            foreach (var leftover in new[] { memory, file + ".tmp" }) File.Delete(leftover);
            // Sandboxes of this size boot cold for a while, then the next one tries to make the template again.
            _ = Task.Delay(TemplateRetry).ContinueWith(_ => _templates.TryRemove(size, out Lazy<Task<QemuTemplate?>>? _), TaskScheduler.Default);
            return null;
        }
        finally
        {
            if (vm is not null) await vm.DisposeAsync();
        }
    }

    public void RemoveHostState()
    {
        ReapOrphans();          // a template VM may still be booting: no QEMU outlives the gateway
        UnixFiles.TryDeleteTree(_state);
    }

    public int ReapOrphans()
    {
        // Templates of an earlier run may be of another image or QEMU: never restore from them.
        UnixFiles.TryDeleteTree(Path.Join(_state, "templates"));
        var vms = Path.Join(_state, "vms");
        if (!Directory.Exists(vms)) return 0;
        var reaped = 0;
        foreach (var directory in Directory.EnumerateDirectories(vms))
        {
            HostState.KillRecorded(directory, "qemu-system");
            UnixFiles.TryDeleteTree(directory);
            reaped++;
        }
        return reaped;
    }
}

/// <summary>A snapshot of a booted VM: its device state, and its RAM as a file that clones map copy-on-write.</summary>
internal sealed record QemuTemplate(string State, string Memory);

/// <summary>One QEMU process, its directory (sockets, pid file) and its console.</summary>
internal sealed class QemuVm(Process process, string directory, string agentSocket, string qmpSocket, MicroVmConsole console) : IAsyncDisposable, Usage.IVmmProcess
{
    private int _disposed;

    public int VmmPid { get; } = process.Id;

    public string AgentSocket { get; } = agentSocket;
    public string QmpSocket { get; } = qmpSocket;
    /// <summary>vCPUs, memory and disk it was started with: a saved state resumes only on the same.</summary>
    public (int Vcpus, int MemoryMb, int DiskMb) Size { get; init; }
    /// <summary>Its RAM is a memory backend named "ram" (a clone's layout), not the machine's own RAM block.</summary>
    public bool MemoryBackend { get; init; }
    public Task Exited { get; } = process.WaitForExitAsync();

    public MicroVmConsole Console { get; } = console;

    /// <summary>The last lines of the guest's serial console (kernel errors, the init's and the agent's messages).</summary>
    public string ConsoleTail(int lines = 20) => Console.Tail(lines);

    /// <summary>QMP quit, then SIGKILL if QEMU lingers; the directory goes with it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        if (!Exited.IsCompleted)
        {
            try
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                using var qmp = await QmpClient.ConnectAsync(QmpSocket, quick.Token);
                await qmp.ExecuteAsync("quit", null, quick.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or QmpException) { }
            if (await Task.WhenAny(Exited, Task.Delay(500)) != Exited)
            {
                try { process.Kill(); } catch (InvalidOperationException) { }
                await Task.WhenAny(Exited, Task.Delay(2000));
            }
        }
        process.Dispose();
        UnixFiles.TryDeleteTree(directory);
    }

}
