using System.Text.Json;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>One VM's devices and sizes, with paths as its Firecracker process sees them.</summary>
internal sealed record VmPlan
{
    public required int Vcpus { get; init; }
    public required int MemoryMib { get; init; }
    public required string Kernel { get; init; }
    public string? Initrd { get; init; }
    public required string BootArgs { get; init; }
    public required string Rootfs { get; init; }
    public required string VsockUds { get; init; }
    public int GuestCid { get; init; } = 3;
    /// <summary>A virtio-rng device: the guest kernel reseeds from the host, which matters most for snapshot clones.</summary>
    public bool Entropy { get; init; } = true;
    /// <summary>A balloon of this many MiB to start with (deflated on guest OOM), so memory can be reclaimed later.</summary>
    public int? BalloonMib { get; init; }
    /// <summary>A virtio-net device on this host tap device (eth0), and the metadata service on it.</summary>
    public string? TapDevice { get; init; }
    public string? GuestMac { get; init; }
    /// <summary>Per-VM metadata served by MMDS (V2) on the tap interface; needs <see cref="TapDevice"/>.</summary>
    public Action<Utf8JsonWriter>? Metadata { get; init; }
    public string? LogPath { get; init; }
    public string? MetricsPath { get; init; }
}

/// <summary>
/// The request sequences the driver sends: configure and boot a VM, snapshot it, restore a clone. Kept apart from process
/// handling so tests can run them against a fake API server and check every body against the OpenAPI document.
/// </summary>
internal static class VmRequests
{
    public const string RootDrive = "rootfs";
    public const string Interface = "eth0";

    /// <summary>Pre-boot configuration in the order Firecracker accepts it, then InstanceStart.</summary>
    public static async Task BootAsync(FirecrackerClient client, VmPlan plan, CancellationToken ct)
    {
        if (plan.LogPath is not null) await client.PutLoggerAsync(new LoggerSettings(plan.LogPath) { Level = "Warning", ShowLevel = true }, ct);
        if (plan.MetricsPath is not null) await client.PutMetricsAsync(new MetricsSettings(plan.MetricsPath), ct);
        await client.PutMachineConfigAsync(new MachineConfiguration(plan.Vcpus, plan.MemoryMib) { Smt = false }, ct);
        await client.PutBootSourceAsync(new BootSource(plan.Kernel) { BootArgs = plan.BootArgs, InitrdPath = plan.Initrd }, ct);
        // Read-only: every VM (and every clone of a snapshot) shares one image; the guest writes to tmpfs.
        await client.PutDriveAsync(new Drive(RootDrive, IsRootDevice: true, plan.Rootfs, IsReadOnly: true), ct);
        if (plan.TapDevice is not null)
        {
            await client.PutNetworkInterfaceAsync(new NetworkInterface(Interface, plan.TapDevice) { GuestMac = plan.GuestMac }, ct);
            if (plan.Metadata is not null)
            {
                await client.PutMmdsConfigAsync(new MmdsConfig([Interface]) { Version = "V2" }, ct);
                await client.PutMmdsAsync(plan.Metadata, ct);
            }
        }
        await client.PutVsockAsync(new Vsock(plan.GuestCid, plan.VsockUds), ct);
        if (plan.Entropy) await client.PutEntropyAsync(ct);
        if (plan.BalloonMib is { } balloon) await client.PutBalloonAsync(new Balloon(balloon, DeflateOnOom: true), ct);
        await client.ActionAsync(InstanceActionInfo.InstanceStart, ct);
    }

    /// <summary>A full snapshot of a running VM: pause it, write its state and memory. It stays paused.</summary>
    public static async Task SnapshotAsync(FirecrackerClient client, string statePath, string memoryPath, CancellationToken ct)
    {
        await client.PatchVmAsync(Vm.Paused, ct);
        await client.CreateSnapshotAsync(new SnapshotCreateParams(statePath, memoryPath) { SnapshotType = "Full" }, ct);
    }

    /// <summary>
    /// A full snapshot of a running sandbox that goes on running: paused for the moment of the write, then resumed
    /// (also when the write failed, so a refused snapshot does not leave the sandbox stopped).
    /// </summary>
    public static async Task SnapshotAndResumeAsync(FirecrackerClient client, string statePath, string memoryPath, CancellationToken ct)
    {
        try { await SnapshotAsync(client, statePath, memoryPath, ct); }
        finally { await client.PatchVmAsync(Vm.Resumed, CancellationToken.None); }
    }

    /// <summary>
    /// A clone from a snapshot, on a fresh Firecracker process, running as soon as the call returns. Memory is mapped
    /// privately from the file, so clones share its pages until they write.
    /// </summary>
    public static async Task RestoreAsync(FirecrackerClient client, string statePath, string memoryPath, string? vsockOverride,
        string? logPath, CancellationToken ct)
    {
        if (logPath is not null) await client.PutLoggerAsync(new LoggerSettings(logPath) { Level = "Warning", ShowLevel = true }, ct);
        await client.LoadSnapshotAsync(new SnapshotLoadParams(statePath, MemoryBackend.File(memoryPath))
        {
            ResumeVm = true,
            VsockOverride = vsockOverride is null ? null : new VsockOverride(vsockOverride),
        }, ct);
    }
}
