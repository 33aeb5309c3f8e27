using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Images;

/// <summary>
/// Builds the microVM drivers' guest image (<c>agw images build</c>) from Debian's packages:
/// <list type="bullet">
/// <item><c>vmlinuz</c> and <c>vmlinux</c>: Debian's kernel, compressed (QEMU) and as the uncompressed ELF Firecracker loads;</item>
/// <item><c>initrd.img</c>: busybox, the kernel modules the guest needs and <see cref="GuestInit"/>'s /init, which
/// mounts <c>root=</c> (the ext4 image) read-only under a tmpfs overlay and starts the agent;</item>
/// <item><c>rootfs.ext4</c>: debootstrap minbase + python3 + nodejs, then matplotlib, + the guest agent (see <see cref="RootFilesystem"/>);</item>
/// <item><c>rootfs.cpio.gz</c>: the same root filesystem as an initramfs (busybox, modules and /init included), for
/// booting without a disk.</item>
/// </list>
/// Images are cached under a directory named by a hash of their inputs (kernel package and version, suite, packages,
/// agent, init); <c>current</c> points at the newest; the hash is the image version every sandbox records.
/// </summary>
internal static class ImageBuilder
{
    /// <summary>Bumped when the image layout changes, so that old caches are not reused.</summary>
    private const string LayoutVersion = "2";
    /// <summary>
    /// Builds (or finds in the cache) the image and returns its directory. <paramref name="agentBinary"/> is the guest
    /// agent (agw-agent, <see cref="Sandboxes.Agent.GuestAgentBinary"/>) the image runs.
    /// </summary>
    public static string Build(string cacheDirectory, Action<string> log, string agentBinary, IReadOnlyList<string>? packages = null)
    {
        // One build at a time in a process: the scratch directories are named by the process, so two at once (two test
        // collections starting on an empty cache) would delete each other's downloads.
        lock (Building) return BuildAlone(cacheDirectory, log, agentBinary, packages);
    }

    private static readonly Lock Building = new();

    private static string BuildAlone(string cacheDirectory, Action<string> log, string agentBinary, IReadOnlyList<string>? packages)
    {
        packages ??= RootFilesystem.DefaultPackages;
        var (kernelName, kernelVersion) = KernelPackage.Candidate();
        const string busybox = "/bin/busybox";
        if (!File.Exists(busybox) || !Tools.Run("sh", ["-c", "ldd \"$1\" 2>&1", "sh", busybox], allowFailure: true).Contains("not a dynamic executable", StringComparison.Ordinal))
            throw new InvalidOperationException("a static /bin/busybox is needed (apt-get install busybox-static)");

        var guest = Path.Join(Path.GetTempPath(), "agw-image-guest-" + Environment.ProcessId);
        try
        {
            GuestFiles.Extract(guest, agentBinary);
            var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes($"{LayoutVersion}\n{kernelName}\n{kernelVersion}\n{RootFilesystem.Suite}\n{string.Join(',', packages)}\n{new FileInfo(busybox).Length}\n{GuestInit.Script}\n"));
            foreach (var file in Directory.EnumerateFiles(guest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(guest, file) + "\n"));
                hash.AppendData(File.ReadAllBytes(file));
            }
            var version = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
            var target = Path.Join(cacheDirectory, version);
            if (File.Exists(Path.Join(target, ImageLayout.VersionFile)))
            {
                log($"image {version} is cached in {target}");
                PointCurrent(cacheDirectory, version);
                return target;
            }

            var watch = Stopwatch.StartNew();
            Directory.CreateDirectory(cacheDirectory);
            var work = Path.Join(cacheDirectory, $".build-{version}-{Environment.ProcessId}");
            UnixFiles.TryDeleteTree(work);
            Directory.CreateDirectory(work);
            try
            {
                log($"downloading {kernelName} {kernelVersion}");
                var kernel = KernelPackage.Fetch(kernelName, kernelVersion, work);
                var baseTree = RootFilesystem.Base(cacheDirectory, packages, log);
                var staging = Path.Join(work, "image");
                Directory.CreateDirectory(staging);

                log("writing the root filesystem");
                var tree = Path.Join(work, "rootfs");
                Tools.Run("cp", ["-a", baseTree, tree]);
                File.Delete(Path.Join(tree, ".agw-manifest"));
                AddGuestFiles(tree, guest);
                RootFilesystem.WriteExt4(tree, Path.Join(staging, ImageLayout.RootfsFile));

                log("writing the initramfs images");
                var boot = BootArchive(kernel, busybox);
                WriteGzip(boot, Path.Join(staging, ImageLayout.InitrdFile), CompressionLevel.Optimal);
                var full = BootArchive(kernel, busybox);
                full.Tree(tree);
                WriteGzip(full, Path.Join(staging, ImageLayout.RootfsInitramfsFile), CompressionLevel.Fastest);

                File.Copy(kernel.Vmlinuz, Path.Join(staging, ImageLayout.KernelFile));
                KernelPackage.ExtractVmlinux(kernel.Vmlinuz, Path.Join(staging, ImageLayout.VmlinuxFile));
                File.Copy(Path.Join(baseTree, ".agw-manifest"), Path.Join(staging, ImageLayout.ManifestFile));
                File.WriteAllText(Path.Join(staging, ImageLayout.VersionFile),
                    $"{version}\nkernel {kernelName} {kernelVersion}\nrootfs debian {RootFilesystem.Suite} minbase + {string.Join(", ", packages)}\nagent agw-agent\n");
                UnixFiles.TryDeleteTree(target);
                Directory.Move(staging, target);
            }
            finally
            {
                UnixFiles.TryDeleteTree(work);
            }
            PointCurrent(cacheDirectory, version);
            log($"image {version} built in {watch.Elapsed.TotalSeconds:0.0} s: {target}");
            return target;
        }
        finally
        {
            UnixFiles.TryDeleteTree(guest);
        }
    }

    /// <summary>The guest agent's files at /opt/agw (and its /etc files where the base has none of its own).</summary>
    private static void AddGuestFiles(string tree, string guest)
    {
        var target = Path.Join(tree, ImageLayout.GuestDirectory);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(guest, "*", SearchOption.TopDirectoryOnly))
            if (!file.EndsWith(".tmp", StringComparison.Ordinal)) File.Copy(file, Path.Join(target, Path.GetFileName(file)), overwrite: true);
        UnixFiles.SetMode(Path.Join(target, Sandboxes.Agent.GuestAgentBinary.FileName), UnixFiles.WorldTraversable);
        // The sandbox user, as bubblewrap sandboxes have it.
        var passwd = Path.Join(tree, "etc/passwd");
        if (!File.ReadAllText(passwd).Contains("\nuser:", StringComparison.Ordinal))
        {
            File.AppendAllText(passwd, "user:x:1000:1000:user:/home/user:/bin/bash\n");
            File.AppendAllText(Path.Join(tree, "etc/group"), "user:x:1000:\n");
        }
    }

    /// <summary>busybox (under /agw, clear of the root filesystem's own /bin), the modules in load order, and /init.</summary>
    private static CpioWriter BootArchive(KernelPackage kernel, string busybox)
    {
        var cpio = new CpioWriter();
        foreach (var dir in new[] { "dev", "proc", "sys", "tmp", "run", "newroot", "agw", "agw/bin", "agw/modules" })
            cpio.Directory(dir, CpioWriter.Octal(dir is "tmp" ? "1777" : "755"));
        cpio.CharDevice("dev/console", 5, 1);
        cpio.CharDevice("dev/null", 1, 3);
        cpio.FileFrom("agw/bin/busybox", busybox, CpioWriter.Octal("755"));
        foreach (var applet in Tools.Run(busybox, ["--list"]).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (applet != "busybox") cpio.Symlink("agw/bin/" + applet, "busybox");
        var order = new StringBuilder();
        foreach (var module in kernel.Modules)
        {
            var name = Path.GetFileName(module);
            cpio.FileFrom("agw/modules/" + name, module, CpioWriter.Octal("644"));
            order.Append(name).Append('\n');
        }
        cpio.File("agw/modules/order", Encoding.UTF8.GetBytes(order.ToString()), CpioWriter.Octal("644"));
        cpio.File("init", Encoding.UTF8.GetBytes(GuestInit.Script), CpioWriter.Octal("755"));
        return cpio;
    }

    private static void WriteGzip(CpioWriter cpio, string path, CompressionLevel level)
    {
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var gz = new GZipStream(output, level);
        using var buffered = new BufferedStream(gz, 1 << 16);
        cpio.WriteTo(buffered);
    }

    private static void PointCurrent(string cacheDirectory, string version)
    {
        var link = Path.Join(cacheDirectory, "current");
        var temp = link + ".new-" + Environment.ProcessId;
        if (File.Exists(temp) || new FileInfo(temp).LinkTarget is not null) File.Delete(temp);
        File.CreateSymbolicLink(temp, version);
        Tools.Run("mv", ["-Tf", temp, link]);              // rename(2): atomic, also over a link to a directory
    }
}
