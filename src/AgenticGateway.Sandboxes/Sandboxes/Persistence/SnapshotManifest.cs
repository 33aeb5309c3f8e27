using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>
/// What a saved state is and holds: written as manifest.json beside its files, with its own SHA-256 in
/// manifest.json.sha256. Every file's SHA-256 is checked against it before a resume or a fork.
/// </summary>
internal sealed record SnapshotManifest
{
    public const int CurrentFormat = 1;
    public const string PausedKind = "paused";
    public const string SnapshotKind = "snapshot";

    [JsonPropertyName("format")] public int Format { get; init; } = CurrentFormat;
    /// <summary><see cref="PausedKind"/> (resumed under its sandbox's id) or <see cref="SnapshotKind"/> (forked).</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    /// <summary>The sandbox's id for a paused sandbox, the snapshot's own for a snapshot.</summary>
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("sandbox_id")] public required string SandboxId { get; init; }
    [JsonPropertyName("owner")] public required string Owner { get; init; }
    [JsonPropertyName("isolation")] public required string Isolation { get; init; }
    /// <summary>The guest image version of a microVM's state: it resumes only on that image.</summary>
    [JsonPropertyName("image")] public string? Image { get; init; }
    [JsonPropertyName("sandbox_created_at")] public required DateTimeOffset SandboxCreatedAt { get; init; }
    [JsonPropertyName("saved_at")] public required DateTimeOffset SavedAt { get; init; }
    [JsonPropertyName("spec")] public required SnapshotSpec Spec { get; init; }
    /// <summary>What the driver needs to restore it (e.g. QEMU's memory layout); opaque to everything else.</summary>
    [JsonPropertyName("driver")] public Dictionary<string, string> Driver { get; init; } = [];
    [JsonPropertyName("files")] public required List<SnapshotFile> Files { get; init; }

    public long SizeBytes => Files.Sum(f => f.Size);
}

/// <summary>One file of a saved state: its name in the state's directory, size and SHA-256 (lower-case hex).</summary>
internal sealed record SnapshotFile(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>The sandbox's spec as saved: what a resume or fork starts with.</summary>
internal sealed record SnapshotSpec
{
    [JsonPropertyName("runtime")] public required string Runtime { get; init; }
    [JsonPropertyName("timeout_seconds")] public double TimeoutSeconds { get; init; }
    [JsonPropertyName("memory_mb")] public int MemoryMb { get; init; }
    [JsonPropertyName("cpu")] public double Cpu { get; init; }
    [JsonPropertyName("disk_mb")] public int DiskMb { get; init; }
    [JsonPropertyName("allow_hosts")] public List<string>? AllowHosts { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string> Metadata { get; init; } = [];
    [JsonPropertyName("env")] public Dictionary<string, string> Env { get; init; } = [];
    [JsonPropertyName("packages")] public List<string> Packages { get; init; } = [];
    [JsonPropertyName("isolation")] public string? Isolation { get; init; }
    [JsonPropertyName("auto_pause")] public bool AutoPause { get; init; }
    [JsonPropertyName("e2b_template")] public string? E2bTemplate { get; init; }

    public static SnapshotSpec From(SandboxSpec spec) => new()
    {
        Runtime = spec.Runtime,
        TimeoutSeconds = spec.Resources.Timeout.TotalSeconds,
        MemoryMb = spec.Resources.MemoryMb,
        Cpu = spec.Resources.Cpu,
        DiskMb = spec.Resources.DiskMb,
        AllowHosts = spec.Network.Mode == NetworkMode.Allowlist ? [.. spec.Network.AllowHosts] : null,
        Metadata = new(spec.Metadata),
        Env = new(spec.Env),
        Packages = [.. spec.Packages],
        Isolation = spec.Isolation,
        AutoPause = spec.AutoPause,
        E2bTemplate = spec.E2bTemplate,
    };

    public SandboxSpec ToSpec() => new()
    {
        Runtime = Runtime,
        Resources = new SandboxResources { Timeout = TimeSpan.FromSeconds(TimeoutSeconds), MemoryMb = MemoryMb, Cpu = Cpu, DiskMb = DiskMb },
        Network = AllowHosts is { } hosts ? new NetworkPolicy(NetworkMode.Allowlist, hosts) : NetworkPolicy.None,
        Metadata = Metadata.ToImmutableDictionary(StringComparer.Ordinal),
        Env = Env.ToImmutableDictionary(StringComparer.Ordinal),
        Packages = [.. Packages],
        Isolation = Isolation,
        AutoPause = AutoPause,
        E2bTemplate = E2bTemplate,
    };
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(SnapshotManifest))]
internal sealed partial class PersistenceJson : JsonSerializerContext;
