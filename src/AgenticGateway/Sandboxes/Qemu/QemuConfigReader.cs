using AgenticGateway.Configuration;

namespace AgenticGateway.Sandboxes.Qemu;

/// <summary>Reads <c>sandboxes.qemu:</c>. Whether the binary and image exist is the driver's concern at start.</summary>
internal static class QemuConfigReader
{
    public static QemuOptions Read(ConfigMap q)
    {
        var o = new QemuOptions();
        if (q.String("binary") is { Length: > 0 } binary) o = o with { Binary = binary };
        if (q.String("image_dir") is { Length: > 0 } image) o = o with { ImageDirectory = Path.GetFullPath(image) };
        if (q.Int("vcpus", 1, 32) is { } vcpus) o = o with { Vcpus = vcpus };
        if (q.Int("memory_mb", 64, 1 << 20) is { } memory) o = o with { MemoryMb = memory };
        if (q.Bool("snapshots") is { } snapshots) o = o with { Snapshots = snapshots };
        q.ReportUnknownKeys(strict: true);
        return o;
    }
}
