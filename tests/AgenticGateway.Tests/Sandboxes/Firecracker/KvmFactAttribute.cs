namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>
/// A test that boots real Firecracker microVMs: it needs KVM, and is skipped only when the host has none (no /dev/kvm,
/// or a device without the CPU's virtualization extensions, see Kvm.Usable). On a KVM host it runs, and fails (never
/// skips) when firecracker or the guest images are missing.
/// </summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (!AgenticGateway.Sandboxes.Isolation.Kvm.Usable())
            Skip = "needs KVM: this machine has no usable /dev/kvm (it also needs firecracker and a guest kernel and rootfs; see docs/firecracker.md)";
    }
}
