namespace AgenticGateway.Sandboxes.Isolation;

/// <summary>
/// Whether this host can run guests with KVM. The device alone is not enough: some VM hosts expose /dev/kvm to guests
/// whose CPU has no virtualization extensions (no vmx or svm flag), and a microVM started there with KVM never boots.
/// Such a host is treated as having no KVM (QEMU then emulates with TCG; Firecracker, which has no emulation, is off).
/// </summary>
internal static class Kvm
{
    public static bool Usable(string device = "/dev/kvm", string cpuinfo = "/proc/cpuinfo") => Problem(device, cpuinfo) is null;

    /// <summary>Why KVM cannot be used here, or null when it can.</summary>
    public static string? Problem(string device = "/dev/kvm", string cpuinfo = "/proc/cpuinfo")
    {
        if (!File.Exists(device)) return $"{device} is absent";
        if (!CpuHasVirtualization(cpuinfo)) return $"{device} exists but the CPU has no virtualization extensions (no vmx or svm flag in {cpuinfo})";
        return null;
    }

    /// <summary>
    /// False only for an x86 CPU whose <c>flags</c> line lacks vmx and svm. Other CPUs (aarch64 lists <c>Features</c>,
    /// not flags) and an unreadable cpuinfo leave the decision to the device: a guess of "no" there would turn KVM off
    /// on hosts where it works.
    /// </summary>
    private static bool CpuHasVirtualization(string cpuinfo)
    {
        try
        {
            foreach (var line in File.ReadLines(cpuinfo))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal)) continue;
                var flags = line.AsSpan(line.IndexOf(':') + 1);
                foreach (var range in flags.Split(' '))
                {
                    if (flags[range] is "vmx" or "svm") return true;
                }
                return false;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return true;
    }
}
