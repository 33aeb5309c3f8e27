using System.Diagnostics;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>
/// Pause and snapshots of Firecracker microVMs through its snapshot API (PATCH /vm, PUT /snapshot/create; a resume is
/// PUT /snapshot/load on a fresh Firecracker): the guest's RAM, with its tmpfs files, and its devices. Firecracker
/// resets vsock connections on a restore, so the guest's agent ends with its connection (killing what it started) and
/// the guest's init starts a fresh one: the files go on, processes and interpreter contexts start anew. See docs/sandboxes.md.
/// </summary>
internal sealed partial class FirecrackerDriver : ISandboxPersistence
{
    public const string StateFile = "vm.state";
    public const string MemoryFile = "vm.mem";

    public async Task<IReadOnlyDictionary<string, string>> SaveAsync(ISandboxInstance instance, SandboxResources resources, string directory, bool keepRunning, CancellationToken cancellationToken)
    {
        if (instance is not MicroVmInstance { Vm: FirecrackerVm vm }) throw new InvalidOperationException("not a Firecracker sandbox");
        var watch = Stopwatch.StartNew();
        var layout = vm.Layout;
        try
        {
            if (keepRunning) await VmRequests.SnapshotAndResumeAsync(vm.Client, layout.SnapshotState, layout.SnapshotMemory, cancellationToken);
            else
            {
                try { await VmRequests.SnapshotAsync(vm.Client, layout.SnapshotState, layout.SnapshotMemory, cancellationToken); }
                catch
                {
                    // A pause that failed leaves the sandbox running.
                    try { await vm.Client.PatchVmAsync(Vm.Resumed, CancellationToken.None); } catch (Exception ex) when (ex is FirecrackerApiException or HttpRequestException) { }
                    throw;
                }
            }
            // Out of the VM's directory (or jail) into the state's, which is on the data directory's file system.
            File.Move(layout.ToHost(layout.SnapshotState), Path.Join(directory, StateFile));
            File.Move(layout.ToHost(layout.SnapshotMemory), Path.Join(directory, MemoryFile));
        }
        catch (HttpRequestException ex)
        {
            throw new IOException($"the Firecracker API failed: {ex.Message}", ex);
        }
        MicroVmLog.Saved(_logger, "Firecracker", new FileInfo(Path.Join(directory, MemoryFile)).Length, watch.Elapsed.TotalMilliseconds);
        var size = Size(resources);
        return new Dictionary<string, string>
        {
            ["vcpus"] = size.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["memory_mib"] = size.MemoryMib.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    public async Task<ISandboxInstance> RestoreAsync(SandboxLaunch launch, string directory, SnapshotManifest manifest, CancellationToken cancellationToken)
    {
        if (Unavailable is not null) throw new SandboxStartException(Unavailable);
        if (manifest.Image != _imageVersion)
            throw new SandboxStartException($"it was saved on guest image {manifest.Image ?? "(none)"} and this gateway runs {_imageVersion ?? "(none)"}");
        var memoryMib = int.TryParse(manifest.Driver.GetValueOrDefault("memory_mib"), System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : Size(launch.Resources).MemoryMib;
        var watch = Stopwatch.StartNew();
        FirecrackerVm? vm = null;
        AgentConnection? agent = null;
        try
        {
            vm = await LaunchAsync(launch.Id, launch.Resources, memoryMib, launch.BootTimeout, cancellationToken);
            using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            boot.CancelAfter(launch.BootTimeout);
            await RestoreAsync(vm, new Template(Path.Join(directory, StateFile), Path.Join(directory, MemoryFile)), boot.Token);
            agent = await ConnectAgentAsync(vm, boot.Token);
            await agent.Ready.WaitAsync(boot.Token);
            await MicroVmGuest.ResumeAsync(agent, boot.Token);
            MicroVmLog.Started(_logger, "Firecracker", launch.Id, "saved state", watch.Elapsed.TotalMilliseconds);
            return new MicroVmInstance(vm, vm.Exited, agent, Name, _imageVersion);
        }
        catch (Exception ex)
        {
            if (agent is not null) await agent.DisposeAsync();
            if (vm is not null) await vm.DisposeAsync();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new SandboxStartException($"the microVM did not resume within {launch.BootTimeout.TotalSeconds:0.#} s");
            if (ex is FirecrackerApiException or VsockConnectException or AgentException or IOException or HttpRequestException)
                throw new SandboxStartException($"the microVM could not be resumed: {ex.Message}");
            throw;
        }
    }
}
