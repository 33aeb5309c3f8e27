using AgenticGateway.Sandboxes;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Images;

/// <summary>
/// The guest's root filesystem: <c>debootstrap --variant=minbase</c> of Debian with python3 and nodejs (and any
/// extra packages), then matplotlib for the code interpreter's figures (<see cref="FigurePackages"/>), trimmed of apt's caches and documentation. The debootstrapped tree is cached on its own (keyed by
/// suite, mirror and packages) so that a change of the agent or the init rebuilds an image in seconds, not a minute.
/// </summary>
internal static class RootFilesystem
{
    public const string Suite = "bookworm";
    public const string Mirror = "http://deb.debian.org/debian";
    public static readonly string[] DefaultPackages = ["python3", "nodejs"];
    /// <summary>
    /// matplotlib, as E2B's code interpreter has it, installed with apt after debootstrap: debootstrap would follow
    /// python3-fonttools' first alternative (scipy, which brings a C++ compiler and OpenBLAS: a 1.2 GB tree), apt with
    /// munkres installed first takes the small one. Then fontTools' optional symbolic-math and Unicode-database
    /// dependencies, which matplotlib never imports, are removed (170 MB): about 400 MB in all, 190 MB more than without.
    /// </summary>
    public static readonly string[] FigurePackages = ["python3-munkres", "python3-matplotlib"];
    private static readonly string[] FigureUnused = ["python3-sympy", "python3-mpmath", "unicode-data"];

    private static readonly string[] Trimmed = ["var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian"];

    /// <summary>The cached base tree for these packages, debootstrapping it first if needed. Needs root.</summary>
    public static string Base(string cacheDirectory, IReadOnlyList<string> packages, Action<string> log)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{Suite}\n{Mirror}\n{string.Join(',', packages)}\n{string.Join(',', FigurePackages)}\n{string.Join(',', FigureUnused)}\n")))[..12];
        var target = Path.Join(cacheDirectory, "base-" + key);
        if (File.Exists(Path.Join(target, ".agw-manifest"))) return target;
        if (!Environment.IsPrivilegedProcess) throw new InvalidOperationException("building the root filesystem needs root (debootstrap)");
        if (!File.Exists("/usr/sbin/debootstrap")) throw new InvalidOperationException("debootstrap is missing (apt-get install debootstrap)");
        var work = target + ".tmp-" + Environment.ProcessId;
        UnixFiles.TryDeleteTree(work);
        log($"debootstrap {Suite} (minbase + {string.Join(", ", packages)}) from {Mirror}");
        try
        {
            Tools.Run("/usr/sbin/debootstrap", ["--variant=minbase", "--include=" + string.Join(',', packages), Suite, work, Mirror]);
            log($"apt-get install {string.Join(", ", FigurePackages)} (no recommends)");
            InstallFigures(work);
            foreach (var dir in Trimmed) UnixFiles.TryDeleteTree(Path.Join(work, dir));
            // Device nodes are the guest kernel's business (devtmpfs); an image holds none.
            foreach (var entry in Directory.EnumerateFileSystemEntries(Path.Join(work, "dev"))) Tools.Run("rm", ["-rf", entry]);
            // A saved seed would be shared by every VM; the guest's RNG is seeded at boot and on restore.
            UnixFiles.TryDeleteTree(Path.Join(work, "var/lib/systemd/random-seed"));
            File.WriteAllText(Path.Join(work, "etc/hostname"), "sandbox\n");
            File.WriteAllText(Path.Join(work, "etc/hosts"), "127.0.0.1 localhost sandbox\n::1 localhost\n");
            Directory.CreateDirectory(Path.Join(work, "home/user"));
            var manifest = Tools.Run("chroot", [work, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"]);
            File.WriteAllText(Path.Join(work, ".agw-manifest"), manifest);
            if (Directory.Exists(target)) UnixFiles.TryDeleteTree(target);
            Directory.Move(work, target);
            return target;
        }
        finally
        {
            UnixFiles.TryDeleteTree(work);
        }
    }

    /// <summary>
    /// apt inside the new tree, one package at a time in <see cref="FigurePackages"/>' order. It needs /dev/null and
    /// /dev/urandom (made as nodes, never the host's /dev bound in: a cleanup must not be able to reach host devices;
    /// the image's /dev is emptied afterwards) and the host's resolver for the download (put back as it was).
    /// </summary>
    private static void InstallFigures(string tree)
    {
        var resolv = Path.Join(tree, "etc/resolv.conf");
        var savedResolv = File.Exists(resolv) ? File.ReadAllBytes(resolv) : null;
        var apt = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        try
        {
            Tools.Run("mknod", ["-m", "666", Path.Join(tree, "dev/null"), "c", "1", "3"], allowFailure: true);
            Tools.Run("mknod", ["-m", "666", Path.Join(tree, "dev/urandom"), "c", "1", "9"], allowFailure: true);
            File.Copy("/etc/resolv.conf", resolv, overwrite: true);
            Tools.Run("chroot", [tree, "apt-get", "update", "-q"], environment: apt);
            foreach (var package in FigurePackages)
                Tools.Run("chroot", [tree, "apt-get", "install", "-y", "-q", "--no-install-recommends", package], environment: apt);
            Tools.Run("chroot", [tree, "dpkg", "--purge", "--force-depends", .. FigureUnused], environment: apt);
        }
        finally
        {
            if (savedResolv is null) File.Delete(resolv);
            else File.WriteAllBytes(resolv, savedResolv);
        }
    }

    /// <summary>An ext4 image of <paramref name="tree"/> (mke2fs -d: no mount, no root needed), sized to fit with room to spare.</summary>
    public static void WriteExt4(string tree, string output)
    {
        var used = long.Parse(Tools.Run("du", ["-s", "-B1", "--apparent-size", tree]).Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
        var sizeMb = used / (1 << 20) * 5 / 4 + 64;
        // Fixed UUID and hash seed, and no timestamps from now: the same tree gives the same image.
        Tools.Run("mke2fs", ["-q", "-t", "ext4", "-L", "agw-root", "-U", "6a1c0e3e-6f5b-4c39-9a39-5d1b7a3e2b10", "-E", "hash_seed=3c4e5f60-7a8b-4c9d-8e0f-1a2b3c4d5e6f,root_owner=0:0",
            "-m", "0", "-d", tree, output, $"{sizeMb}M"], environment: new Dictionary<string, string> { ["E2FSPROGS_FAKE_TIME"] = "1700000000" });
    }
}
