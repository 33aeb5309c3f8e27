using System.Text.Json.Serialization;

namespace AgenticGateway.Sandboxes.Firecracker;

// Request and response bodies of the Firecracker API, named and spelled as in its OpenAPI document
// (definitions: MachineConfiguration, BootSource, Drive, ...). Only the fields the driver sets are typed; optional ones
// are null and left out, so Firecracker's own defaults apply.

/// <summary>PUT /machine-config.</summary>
internal sealed record MachineConfiguration(
    [property: JsonPropertyName("vcpu_count")] int VcpuCount,
    [property: JsonPropertyName("mem_size_mib")] int MemSizeMib)
{
    [JsonPropertyName("smt")] public bool? Smt { get; init; }
    /// <summary>Needed only for diff snapshots; full snapshots do not need it.</summary>
    [JsonPropertyName("track_dirty_pages")] public bool? TrackDirtyPages { get; init; }
    /// <summary>"None", "Transparent" or "2M".</summary>
    [JsonPropertyName("huge_pages")] public string? HugePages { get; init; }
}

/// <summary>PUT /boot-source.</summary>
internal sealed record BootSource([property: JsonPropertyName("kernel_image_path")] string KernelImagePath)
{
    [JsonPropertyName("boot_args")] public string? BootArgs { get; init; }
    [JsonPropertyName("initrd_path")] public string? InitrdPath { get; init; }
}

/// <summary>PUT /drives/{drive_id} (a virtio-block drive backed by a host file).</summary>
internal sealed record Drive(
    [property: JsonPropertyName("drive_id")] string DriveId,
    [property: JsonPropertyName("is_root_device")] bool IsRootDevice,
    [property: JsonPropertyName("path_on_host")] string PathOnHost,
    [property: JsonPropertyName("is_read_only")] bool IsReadOnly)
{
    /// <summary>"Unsafe" or "Writeback".</summary>
    [JsonPropertyName("cache_type")] public string? CacheType { get; init; }
    /// <summary>"Sync" or "Async".</summary>
    [JsonPropertyName("io_engine")] public string? IoEngine { get; init; }
}

/// <summary>PUT /network-interfaces/{iface_id}: a virtio-net device backed by a host tap device.</summary>
internal sealed record NetworkInterface(
    [property: JsonPropertyName("iface_id")] string IfaceId,
    [property: JsonPropertyName("host_dev_name")] string HostDevName)
{
    [JsonPropertyName("guest_mac")] public string? GuestMac { get; init; }
}

/// <summary>PUT /vsock: the host side is a Unix socket at <see cref="UdsPath"/>.</summary>
internal sealed record Vsock(
    [property: JsonPropertyName("guest_cid")] int GuestCid,
    [property: JsonPropertyName("uds_path")] string UdsPath);

/// <summary>PUT /mmds/config (pre-boot): which interfaces may reach the metadata service.</summary>
internal sealed record MmdsConfig([property: JsonPropertyName("network_interfaces")] IReadOnlyList<string> NetworkInterfaces)
{
    /// <summary>"V1" or "V2" (session tokens).</summary>
    [JsonPropertyName("version")] public string? Version { get; init; }
    [JsonPropertyName("ipv4_address")] public string? Ipv4Address { get; init; }
}

/// <summary>PUT /balloon (pre-boot).</summary>
internal sealed record Balloon(
    [property: JsonPropertyName("amount_mib")] int AmountMib,
    [property: JsonPropertyName("deflate_on_oom")] bool DeflateOnOom)
{
    [JsonPropertyName("stats_polling_interval_s")] public int? StatsPollingIntervalS { get; init; }
}

/// <summary>PATCH /balloon: a new target size, before or after boot.</summary>
internal sealed record BalloonUpdate([property: JsonPropertyName("amount_mib")] int AmountMib);

/// <summary>PUT /logger (definition Logger).</summary>
internal sealed record LoggerSettings([property: JsonPropertyName("log_path")] string LogPath)
{
    /// <summary>Error, Warning, Info, Debug, Trace or Off.</summary>
    [JsonPropertyName("level")] public string? Level { get; init; }
    [JsonPropertyName("show_level")] public bool? ShowLevel { get; init; }
    [JsonPropertyName("show_log_origin")] public bool? ShowLogOrigin { get; init; }
}

/// <summary>PUT /metrics (definition Metrics).</summary>
internal sealed record MetricsSettings([property: JsonPropertyName("metrics_path")] string MetricsPath);

/// <summary>PUT /entropy: a virtio-rng device fed from the host's getrandom.</summary>
internal sealed record EntropyDevice;

/// <summary>PUT /actions.</summary>
internal sealed record InstanceActionInfo([property: JsonPropertyName("action_type")] string ActionType)
{
    public const string InstanceStart = "InstanceStart";
    public const string SendCtrlAltDel = "SendCtrlAltDel";
    public const string FlushMetrics = "FlushMetrics";
}

/// <summary>PATCH /vm.</summary>
internal sealed record Vm([property: JsonPropertyName("state")] string State)
{
    public const string Paused = "Paused";
    public const string Resumed = "Resumed";
}

/// <summary>PUT /snapshot/create (the VM must be paused).</summary>
internal sealed record SnapshotCreateParams(
    [property: JsonPropertyName("snapshot_path")] string SnapshotPath,
    [property: JsonPropertyName("mem_file_path")] string MemFilePath)
{
    /// <summary>"Full" or "Diff".</summary>
    [JsonPropertyName("snapshot_type")] public string? SnapshotType { get; init; }
}

/// <summary>PUT /snapshot/load, on a fresh Firecracker process. Memory comes from <see cref="MemBackend"/> (the
/// document deprecates mem_file_path, and allows only one of the two).</summary>
internal sealed record SnapshotLoadParams(
    [property: JsonPropertyName("snapshot_path")] string SnapshotPath,
    [property: JsonPropertyName("mem_backend")] MemoryBackend MemBackend)
{
    [JsonPropertyName("resume_vm")] public bool? ResumeVm { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool? TrackDirtyPages { get; init; }
    /// <summary>Gives a clone its own vsock socket when the snapshot's path would collide with another clone's.</summary>
    [JsonPropertyName("vsock_override")] public VsockOverride? VsockOverride { get; init; }
}

/// <summary>Where a snapshot's guest memory comes from: a file ("File") or a userfaultfd handler's socket ("Uffd").</summary>
internal sealed record MemoryBackend(
    [property: JsonPropertyName("backend_type")] string BackendType,
    [property: JsonPropertyName("backend_path")] string BackendPath)
{
    public static MemoryBackend File(string path) => new("File", path);
}

internal sealed record VsockOverride([property: JsonPropertyName("uds_path")] string UdsPath);

/// <summary>GET / answer.</summary>
internal sealed record InstanceInfo(
    [property: JsonPropertyName("app_name")] string AppName,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("vmm_version")] string VmmVersion);

/// <summary>Every error answer: 400 (bad input) or 500.</summary>
internal sealed record FirecrackerError([property: JsonPropertyName("fault_message")] string? FaultMessage);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MachineConfiguration))]
[JsonSerializable(typeof(BootSource))]
[JsonSerializable(typeof(Drive))]
[JsonSerializable(typeof(NetworkInterface))]
[JsonSerializable(typeof(Vsock))]
[JsonSerializable(typeof(MmdsConfig))]
[JsonSerializable(typeof(Balloon))]
[JsonSerializable(typeof(BalloonUpdate))]
[JsonSerializable(typeof(LoggerSettings))]
[JsonSerializable(typeof(MetricsSettings))]
[JsonSerializable(typeof(EntropyDevice))]
[JsonSerializable(typeof(InstanceActionInfo))]
[JsonSerializable(typeof(Vm))]
[JsonSerializable(typeof(SnapshotCreateParams))]
[JsonSerializable(typeof(SnapshotLoadParams))]
[JsonSerializable(typeof(InstanceInfo))]
[JsonSerializable(typeof(FirecrackerError))]
internal sealed partial class FirecrackerJson : JsonSerializerContext;
