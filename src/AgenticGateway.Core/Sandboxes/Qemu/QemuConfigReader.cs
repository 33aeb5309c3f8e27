using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

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
        switch (q.String("root"))
        {
            case null or "": break;
            case "disk": o = o with { Root = QemuRoot.Disk }; break;
            case "initramfs": o = o with { Root = QemuRoot.Initramfs }; break;
            case var other: q.Context.Issues.Error(q.Child("root"), $"must be 'disk' or 'initramfs', got '{other}'"); break;
        }
        q.ReportUnknownKeys(strict: true);
        return o;
    }
}
