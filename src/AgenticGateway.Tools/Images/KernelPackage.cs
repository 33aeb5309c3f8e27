using AgenticGateway.Sandboxes;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Images;

/// <summary>
/// Debian's kernel (the package <c>linux-image-amd64</c> depends on): downloaded with <c>apt-get download</c>,
/// unpacked with <c>dpkg-deb</c>. Gives the compressed kernel (QEMU boots it), an uncompressed ELF <c>vmlinux</c>
/// taken out of it (Firecracker needs one), and the modules the guest needs with everything they depend on, in an
/// order they can be loaded in (Debian builds virtio, virtio-blk, ext4, overlayfs and vsock as modules).
/// </summary>
internal sealed class KernelPackage
{
    /// <summary>What the guest loads: the virtio transport and console (the agent's port), the root disk and its
    /// filesystems, vsock (Firecracker's agent transport) and the entropy device.</summary>
    public static readonly string[] GuestModules =
        ["virtio_mmio", "virtio_console", "virtio_blk", "crc32c_generic", "ext4", "overlay", "vmw_vsock_virtio_transport", "virtio_rng"];

    private KernelPackage(string name, string version, string vmlinuz, IReadOnlyList<string> modules)
    {
        Name = name;
        Version = version;
        Vmlinuz = vmlinuz;
        Modules = modules;
    }

    public string Name { get; }
    public string Version { get; }
    public string Vmlinuz { get; }
    /// <summary>Module files in load order (dependencies first).</summary>
    public IReadOnlyList<string> Modules { get; }

    /// <summary>The package name and candidate version apt would install (cheap: no download).</summary>
    public static (string Name, string Version) Candidate()
    {
        var name = Tools.Run("apt-cache", ["depends", "linux-image-amd64"]).Split('\n')
            .Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Depends: linux-image-", StringComparison.Ordinal))?["Depends: ".Length..]
            ?? throw new InvalidOperationException("apt-cache does not know linux-image-amd64 (a Debian/Ubuntu host with apt is needed)");
        var version = Tools.Run("apt-cache", ["policy", name]).Split('\n').Select(l => l.Trim())
            .FirstOrDefault(l => l.StartsWith("Candidate:", StringComparison.Ordinal))?["Candidate:".Length..].Trim() ?? "?";
        return (name, version);
    }

    /// <summary>Downloads and unpacks the kernel package into <paramref name="work"/>.</summary>
    public static KernelPackage Fetch(string name, string version, string work)
    {
        var debs = Path.Join(work, "deb");
        Directory.CreateDirectory(debs);
        // apt drops privileges to _apt for downloads: it must be able to write here.
        UnixFiles.SetMode(debs, (UnixFileMode)Convert.ToInt32("777", 8));
        Tools.Run("apt-get", ["download", "-q", name], workingDirectory: debs);
        var deb = Directory.EnumerateFiles(debs, "*.deb").Single();
        var unpacked = Path.Join(work, "kernel");
        Directory.CreateDirectory(unpacked);
        Tools.Run("sh", ["-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" --wildcards './boot/vmlinuz-*' '*.ko'", "sh", deb, unpacked]);
        var vmlinuz = Directory.EnumerateFiles(Path.Join(unpacked, "boot"), "vmlinuz-*").Single();
        var available = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(unpacked, "*.ko", SearchOption.AllDirectories))
            available[ModuleName(Path.GetFileName(f)[..^3])] = f;
        return new KernelPackage(name, version, vmlinuz, LoadOrder(GuestModules, available));
    }

    /// <summary>Module names are compared with '-' and '_' alike, as the kernel does.</summary>
    private static string ModuleName(string name) => name.Replace('-', '_');

    /// <summary>The wanted modules and their dependencies (read from each module's <c>depends=</c>), dependencies first.</summary>
    internal static List<string> LoadOrder(IEnumerable<string> wanted, IReadOnlyDictionary<string, string> available)
    {
        var order = new List<string>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);      // false: visiting, true: done
        void Visit(string module)
        {
            module = ModuleName(module);
            if (state.TryGetValue(module, out var done))
            {
                if (!done) throw new InvalidOperationException($"module dependency cycle at {module}");
                return;
            }
            if (!available.TryGetValue(module, out var file)) throw new InvalidOperationException($"module {module} is not in the kernel package (built in, or misspelled?)");
            state[module] = false;
            foreach (var dep in Depends(file)) Visit(dep);
            state[module] = true;
            order.Add(file);
        }
        foreach (var m in wanted) Visit(m);
        return order;
    }

    /// <summary>The <c>depends=</c> entry of a module's .modinfo section (NUL-separated key=value strings).</summary>
    internal static string[] Depends(string moduleFile)
    {
        var bytes = File.ReadAllBytes(moduleFile);
        var key = "\0depends="u8;
        var at = bytes.AsSpan().IndexOf(key);
        if (at < 0) return [];
        var start = at + key.Length;
        var end = Array.IndexOf(bytes, (byte)0, start);
        var value = Encoding.ASCII.GetString(bytes, start, (end < 0 ? bytes.Length : end) - start);
        return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// Writes the uncompressed ELF kernel inside a bzImage: finds each compressed stream's magic (xz, gzip, zstd) and
    /// decompresses from there until the result is an ELF file (what the kernel's own extract-vmlinux does).
    /// </summary>
    public static void ExtractVmlinux(string vmlinuz, string output)
    {
        var bytes = File.ReadAllBytes(vmlinuz);
        (byte[] Magic, string Tool)[] formats =
        [
            ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "xz"),
            ([0x28, 0xB5, 0x2F, 0xFD], "zstd"),
            ([0x1F, 0x8B, 0x08], "gzip"),
        ];
        foreach (var (magic, tool) in formats)
        {
            for (var at = bytes.AsSpan().IndexOf(magic); at >= 0;)
            {
                var temp = output + ".tmp";
                var ok = Tools.Pipe(tool, ["-dc"], bytes.AsMemory(at), temp);
                if (ok && IsElf(temp))
                {
                    File.Move(temp, output, overwrite: true);
                    return;
                }
                File.Delete(temp);
                var next = bytes.AsSpan(at + 1).IndexOf(magic);
                at = next < 0 ? -1 : at + 1 + next;
            }
        }
        throw new InvalidOperationException($"no compressed ELF kernel found in {vmlinuz}");
    }

    private static bool IsElf(string path)
    {
        if (new FileInfo(path).Length < 64) return false;
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        f.ReadExactly(head);
        return head.SequenceEqual("\u007fELF"u8);
    }
}
