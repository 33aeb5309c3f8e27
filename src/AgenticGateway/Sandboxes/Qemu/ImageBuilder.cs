using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Sandboxes.Qemu;

/// <summary>
/// Builds the QEMU driver's guest image: Debian's kernel (linux-image-amd64, downloaded with apt and unpacked with
/// dpkg-deb), its virtio modules, and an initramfs with busybox-static, the host's python3 (binary, shared libraries
/// and standard library), the guest agent and an /init that mounts the basics, loads the modules, reseeds the RNG
/// and runs the agent on the virtio-serial port named "agent". Images are cached under a directory named by a hash of
/// their inputs, so a second build is instant; <c>current</c> points at the newest. A debootstrap-made ext4 root
/// filesystem is the production path (not done yet); this initramfs is the minimal, fast one.
/// </summary>
internal static class ImageBuilder
{
    /// <summary>Bumped when the image layout changes, so that old caches are not reused.</summary>
    private const string LayoutVersion = "1";
    public const string KernelFile = "vmlinuz";
    public const string InitrdFile = "initramfs.cpio.gz";
    public const string VersionFile = "version";
    private static readonly string[] Modules = ["virtio_ring", "virtio", "virtio_mmio", "virtio_console"];
    private static readonly HashSet<string> SkippedStdlib = ["test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "pydoc_data", "dist-packages", "site-packages"];

    public static string DefaultCacheDirectory =>
        BubblewrapHost.IsRootUser() ? "/var/cache/agentic-gateway/images"
        : Path.Join(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "agentic-gateway", "images");

    /// <summary>The image directory in use: <paramref name="directory"/> itself when it holds a kernel, else its <c>current</c>.</summary>
    public static string Resolve(string directory) =>
        File.Exists(Path.Join(directory, KernelFile)) ? directory : Path.Join(directory, "current");

    /// <summary>Builds (or finds in the cache) the image and returns its directory.</summary>
    public static string Build(string cacheDirectory, Action<string> log)
    {
        var kernelPackage = Run("apt-cache", ["depends", "linux-image-amd64"]).Split('\n')
            .Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Depends: linux-image-", StringComparison.Ordinal))?["Depends: ".Length..]
            ?? throw new InvalidOperationException("apt-cache does not know linux-image-amd64 (a Debian/Ubuntu host with apt is needed)");
        var kernelVersion = Run("apt-cache", ["policy", kernelPackage]).Split('\n').Select(l => l.Trim())
            .FirstOrDefault(l => l.StartsWith("Candidate:", StringComparison.Ordinal))?["Candidate:".Length..].Trim() ?? "?";
        var python = Path.GetFullPath(ResolveLink("/usr/bin/python3"));
        if (!File.Exists(python)) throw new InvalidOperationException("/usr/bin/python3 is missing (apt-get install python3)");
        const string busybox = "/bin/busybox";
        if (!File.Exists(busybox) || !IsStatic(busybox))
            throw new InvalidOperationException("a static /bin/busybox is needed (apt-get install busybox-static)");

        var guest = Path.Join(Path.GetTempPath(), "agw-image-guest-" + Environment.ProcessId);
        try
        {
            GuestFiles.Extract(guest);
            var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes($"{LayoutVersion}\n{kernelPackage}\n{kernelVersion}\n{python}\n{new FileInfo(python).Length}\n{File.GetLastWriteTimeUtc(python):O}\n{new FileInfo(busybox).Length}\n{InitScript}\n{BootScript}\n"));
            foreach (var file in Directory.EnumerateFiles(guest, "*", SearchOption.AllDirectories).Where(f => !f.Contains("__pycache__", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(guest, file) + "\n"));
                hash.AppendData(File.ReadAllBytes(file));
            }
            var version = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
            var target = Path.Join(cacheDirectory, version);
            if (File.Exists(Path.Join(target, VersionFile)))
            {
                log($"image {version} is cached in {target}");
                PointCurrent(cacheDirectory, version);
                return target;
            }

            var watch = Stopwatch.StartNew();
            Directory.CreateDirectory(cacheDirectory);
            var work = Path.Join(cacheDirectory, $".build-{version}-{Environment.ProcessId}");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            try
            {
                log($"downloading {kernelPackage} {kernelVersion}");
                var debs = Path.Join(work, "deb");
                Directory.CreateDirectory(debs);
                UnixFiles.SetMode(debs, UnixFiles.WorldTraversable | UnixFileMode.OtherWrite | UnixFileMode.GroupWrite);
                Run("apt-get", ["download", "-q", kernelPackage], workingDirectory: debs);
                var deb = Directory.EnumerateFiles(debs, "*.deb").Single();
                var unpacked = Path.Join(work, "kernel");
                Directory.CreateDirectory(unpacked);
                Run("sh", ["-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" --wildcards './boot/vmlinuz-*' " + string.Join(' ', Modules.Select(m => $"'*/{m}.ko*'")), "sh", deb, unpacked]);
                var kernel = Directory.EnumerateFiles(Path.Join(unpacked, "boot"), "vmlinuz-*").Single();
                var moduleFiles = Directory.EnumerateFiles(unpacked, "*.ko*", SearchOption.AllDirectories).ToDictionary(f => Path.GetFileName(f).Split('.')[0]);
                foreach (var m in Modules)
                {
                    if (!moduleFiles.TryGetValue(m, out var f)) throw new InvalidOperationException($"module {m} is not in {kernelPackage}");
                    if (!f.EndsWith(".ko", StringComparison.Ordinal)) throw new InvalidOperationException($"module {f} is compressed; only plain .ko is supported");
                }

                log("writing the initramfs");
                var cpio = new CpioWriter();
                foreach (var dir in new[] { "bin", "sbin", "dev", "proc", "sys", "tmp", "run", "root", "etc", "lib", "lib64", "usr", "usr/bin", "usr/lib", "home", "home/user", "opt", "opt/agw", "opt/agw-vm", "lib/modules" })
                    cpio.Directory(dir, dir is "tmp" ? Convert.ToInt32("1777", 8) : Convert.ToInt32("755", 8));
                cpio.CharDevice("dev/console", 5, 1);
                cpio.CharDevice("dev/null", 1, 3);
                cpio.File("bin/busybox", File.ReadAllBytes(busybox), Convert.ToInt32("755", 8));
                foreach (var applet in Run(busybox, ["--list"]).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    if (applet != "busybox") cpio.Symlink("bin/" + applet, "busybox");
                foreach (var m in Modules) cpio.File($"lib/modules/{m}.ko", File.ReadAllBytes(moduleFiles[m]), Convert.ToInt32("644", 8));
                cpio.File("init", Encoding.UTF8.GetBytes(InitScript), Convert.ToInt32("755", 8));
                cpio.File("opt/agw-vm/boot.py", Encoding.UTF8.GetBytes(BootScript), Convert.ToInt32("644", 8));
                AddPython(cpio, python);
                foreach (var file in Directory.EnumerateFiles(guest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    var rel = Path.GetRelativePath(guest, file);
                    if (rel.EndsWith(".tmp", StringComparison.Ordinal)) continue;
                    var bytes = File.ReadAllBytes(file);
                    if (rel.StartsWith("etc/", StringComparison.Ordinal)) cpio.File(rel, bytes, Convert.ToInt32("644", 8));
                    cpio.File("opt/agw/" + rel, bytes, Convert.ToInt32("644", 8));
                }
                var staging = Path.Join(work, "image");
                Directory.CreateDirectory(staging);
                using (var output = File.Create(Path.Join(staging, InitrdFile)))
                using (var gz = new GZipStream(output, CompressionLevel.Optimal))
                    cpio.WriteTo(gz);
                File.Copy(kernel, Path.Join(staging, KernelFile));
                File.WriteAllText(Path.Join(staging, VersionFile), $"{version}\nkernel {kernelPackage} {kernelVersion}\npython {python}\n");
                if (Directory.Exists(target)) Directory.Delete(target, true);
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

    /// <summary>The interpreter, the shared libraries of it and its extension modules, and its standard library.</summary>
    private static void AddPython(CpioWriter cpio, string python)
    {
        var version = Path.GetFileName(python);                       // python3.11
        var stdlib = Path.Join("/usr/lib", version);
        cpio.File("usr/bin/" + version, File.ReadAllBytes(python), Convert.ToInt32("755", 8));
        cpio.Symlink("usr/bin/python3", version);
        var elves = new List<string> { python };
        foreach (var file in Directory.EnumerateFiles(stdlib, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(stdlib, file);
            var parts = rel.Split('/');
            if (SkippedStdlib.Contains(parts[0]) || parts[0].StartsWith("config-", StringComparison.Ordinal)) continue;
            if (parts.Contains("__pycache__") && !(file.EndsWith(".pyc", StringComparison.Ordinal) && !file.Contains(".opt-", StringComparison.Ordinal))) continue;
            if (parts.Contains("test") || parts.Contains("tests")) continue;
            if (new FileInfo(file).LinkTarget is not null && !File.Exists(file)) continue;
            cpio.File($"usr/lib/{version}/{rel}", File.ReadAllBytes(file), Convert.ToInt32("644", 8));
            if (file.EndsWith(".so", StringComparison.Ordinal)) elves.Add(file);
        }
        var libraries = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var elf in elves)
        {
            foreach (var line in Run("ldd", [elf], allowFailure: true).Split('\n'))
            {
                var l = line.Trim();
                var arrow = l.IndexOf("=> ", StringComparison.Ordinal);
                var path = arrow >= 0 ? l[(arrow + 3)..] : l;
                path = path.Split(' ')[0];
                if (path.StartsWith('/')) libraries.Add(path);
            }
        }
        foreach (var lib in libraries) cpio.File(lib.TrimStart('/'), File.ReadAllBytes(lib), Convert.ToInt32("755", 8));
    }

    /// <summary>The guest's pid 1 (busybox sh). Kernel arguments: agw.seed (hex, mixed into the RNG), agw.disk (MiB of tmpfs).</summary>
    internal const string InitScript = """
        #!/bin/sh
        export PATH=/bin:/usr/bin HOME=/home/user AGW_BASH=/bin/sh LANG=C.UTF-8
        mount -t proc proc /proc
        mount -t sysfs sys /sys
        mount -t devtmpfs dev /dev
        mkdir -p /dev/pts /dev/shm
        mount -t devpts devpts /dev/pts
        mount -t tmpfs -o mode=1777 tmpfs /dev/shm
        disk=512
        for arg in $(cat /proc/cmdline); do
          case "$arg" in
            agw.seed=*) echo "${arg#agw.seed=}" > /dev/urandom ;;
            agw.disk=*) disk="${arg#agw.disk=}" ;;
          esac
        done
        mount -t tmpfs -o mode=1777,size=${disk}m tmpfs /tmp
        mount -t tmpfs -o mode=755,size=${disk}m tmpfs /home/user
        for m in virtio_ring virtio virtio_mmio virtio_console; do insmod /lib/modules/$m.ko; done
        hostname sandbox
        ip link set lo up 2>/dev/null
        port=
        i=0
        while [ -z "$port" ] && [ $i -lt 500 ]; do
          for f in /sys/class/virtio-ports/*/name; do
            [ -r "$f" ] && [ "$(cat "$f")" = agent ] && [ -e "/dev/$(basename "$(dirname "$f")")" ] && port="/dev/$(basename "$(dirname "$f")")"
          done
          [ -z "$port" ] && sleep 0.01
          i=$((i+1))
        done
        if [ -z "$port" ]; then echo "agw: no virtio port named agent" >&2; exit 1; fi
        cd /home/user
        /usr/bin/python3 -I -S /opt/agw-vm/boot.py "$port"
        echo "agw: agent exited ($?)" >&2
        exit 1
        """;

    /// <summary>
    /// Waits until the host has opened the port (a read before that is end-of-file to the agent), puts the port on
    /// fds 0 and 1 and runs the agent in this interpreter.
    /// </summary>
    internal const string BootScript = """
        import os, select, sys, time
        fd = os.open(sys.argv[1], os.O_RDWR)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLOUT)
        while True:
            events = poller.poll(1000)
            if events and not events[0][1] & select.POLLHUP:
                break
            time.sleep(0.005)
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.close(fd)
        sys.argv = ["/opt/agw/start.py"]
        sys.path.insert(0, "/opt/agw")
        import agent
        agent.main()
        """;

    private static void PointCurrent(string cacheDirectory, string version)
    {
        var link = Path.Join(cacheDirectory, "current");
        var temp = link + ".new-" + Environment.ProcessId;
        if (File.Exists(temp) || new FileInfo(temp).LinkTarget is not null) File.Delete(temp);
        File.CreateSymbolicLink(temp, version);
        Run("mv", ["-Tf", temp, link]);              // rename(2): atomic, also over a link to a directory
    }

    private static bool IsStatic(string path) =>
        Run("sh", ["-c", "ldd \"$1\" 2>&1", "sh", path], allowFailure: true).Contains("not a dynamic executable", StringComparison.Ordinal);

    private static string ResolveLink(string path)
    {
        var info = new FileInfo(path);
        return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }


    private static string Run(string file, IEnumerable<string> args, bool allowFailure = false, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && !allowFailure)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result.Trim()}");
        return stdout;
    }
}

/// <summary>Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs.</summary>
internal sealed class CpioWriter
{
    private readonly List<(string Name, int Mode, byte[] Data, int RdevMajor, int RdevMinor)> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public void Directory(string name, int mode) => Add(name, 0x4000 | mode, [], 0, 0);
    public void File(string name, byte[] data, int mode) => Add(name, 0x8000 | mode, data, 0, 0);
    public void Symlink(string name, string target) => Add(name, 0xA000 | Convert.ToInt32("777", 8), Encoding.UTF8.GetBytes(target), 0, 0);
    public void CharDevice(string name, int major, int minor) => Add(name, 0x2000 | Convert.ToInt32("600", 8), [], major, minor);

    private void Add(string name, int mode, byte[] data, int major, int minor)
    {
        if (!_names.Add(name)) return;
        // Parent directories first: the kernel does not create them.
        var slash = name.LastIndexOf('/');
        if (slash > 0 && !_names.Contains(name[..slash])) { _names.Remove(name); Directory(name[..slash], Convert.ToInt32("755", 8)); _names.Add(name); }
        _entries.Add((name, mode, data, major, minor));
    }

    public void WriteTo(Stream output)
    {
        var ino = 1;
        foreach (var e in _entries) Write(output, ino++, e.Name, e.Mode, e.Data, e.RdevMajor, e.RdevMinor);
        Write(output, 0, "TRAILER!!!", 0, [], 0, 0);
    }

    private static void Write(Stream output, int ino, string name, int mode, byte[] data, int rdevMajor, int rdevMinor)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var nlink = (mode & 0xF000) == 0x4000 ? 2 : 1;
        var header = string.Concat("070701", Hex(ino), Hex(mode), Hex(0), Hex(0), Hex(nlink), Hex(0), Hex(data.Length),
            Hex(0), Hex(0), Hex(rdevMajor), Hex(rdevMinor), Hex(nameBytes.Length), Hex(0));
        output.Write(Encoding.ASCII.GetBytes(header));
        output.Write(nameBytes);
        Pad(output, 110 + nameBytes.Length);
        output.Write(data);
        Pad(output, data.Length);
    }

    private static string Hex(int value) => value.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    private static void Pad(Stream output, int length)
    {
        var pad = (4 - length % 4) % 4;
        for (var i = 0; i < pad; i++) output.WriteByte(0);
    }
}
