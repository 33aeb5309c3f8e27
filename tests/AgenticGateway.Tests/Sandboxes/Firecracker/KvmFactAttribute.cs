namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>
/// A test that boots real Firecracker microVMs: it needs /dev/kvm, and is skipped only when /dev/kvm is absent. On a
/// KVM host it runs, and fails (never skips) when firecracker or the guest images are missing.
/// </summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (!File.Exists("/dev/kvm"))
            Skip = "needs KVM: /dev/kvm is absent on this machine (it also needs firecracker and a guest kernel and rootfs; see docs/firecracker.md)";
    }
}
