using System.Diagnostics;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// The files every sandbox sees read-only: the guest agent and its interpreters (embedded in the gateway, copied to
/// /opt/agw), and a minimal /etc (passwd, group, hosts) so that nothing of the host's /etc is exposed beyond what the
/// runtimes need.
/// </summary>
internal static class GuestFiles
{
    public const string MountPoint = "/opt/agw";
    /// <summary>The agent's launcher: it imports agent.py as a module, so that its precompiled bytecode is used.</summary>
    public const string AgentPath = MountPoint + "/start.py";

    /// <summary>Writes the files under <paramref name="directory"/> (replacing older versions) and returns it.</summary>
    public static string Extract(string directory)
    {
        Directory.CreateDirectory(directory);
        var assembly = typeof(GuestFiles).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("guest/", StringComparison.Ordinal)))
        {
            using var resource = assembly.GetManifestResourceStream(name)!;
            WriteIfChanged(Path.Combine(directory, name["guest/".Length..]), resource);
        }
        var etc = Path.Combine(directory, "etc");
        Directory.CreateDirectory(etc);
        WriteIfChanged(Path.Combine(etc, "passwd"), "root:x:0:0:root:/root:/usr/sbin/nologin\nuser:x:1000:1000:user:/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        WriteIfChanged(Path.Combine(etc, "group"), "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n");
        WriteIfChanged(Path.Combine(etc, "hosts"), "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        WriteIfChanged(Path.Combine(etc, "nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
        Precompile(directory);
        return directory;
    }

    /// <summary>
    /// Every file <see cref="Extract"/> wrote under <paramref name="directory"/> and where a sandbox has it: etc/* in
    /// /etc, the rest under <see cref="MountPoint"/>.
    /// </summary>
    public static IReadOnlyList<(string Host, string Sandbox)> Placements(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(directory, f))
            .Select(rel => (Path.Join(directory, rel), rel.StartsWith("etc/", StringComparison.Ordinal) ? "/" + rel : MountPoint + "/" + rel))];

    /// <summary>
    /// Compiles agent.py into __pycache__ with the sandboxes' own interpreter (they see the host's /usr), so that every
    /// sandbox's agent starts from bytecode instead of compiling its source (~25 ms of each cold start). Best effort:
    /// without the cache, or with a stale one, Python compiles the source as it would anyway. The bytecode is checked
    /// against a hash of the source, not its time: sandboxes get copies of the files, with new times.
    /// </summary>
    private static void Precompile(string directory)
    {
        try
        {
            var info = new ProcessStartInfo("/usr/bin/python3", ["-I", "-S", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)", Path.Combine(directory, "agent.py")])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var process = Process.Start(info);
            if (process is null) return;
            if (!process.WaitForExit(10_000)) { process.Kill(); return; }
            var cache = Path.Combine(directory, "__pycache__");
            if (process.ExitCode != 0 || !Directory.Exists(cache)) return;
            UnixFiles.SetMode(cache, UnixFiles.WorldTraversable);
            foreach (var file in Directory.EnumerateFiles(cache)) UnixFiles.SetMode(file, UnixFiles.WorldReadable);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException) { }
    }

    private static void WriteIfChanged(string path, string text)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        WriteIfChanged(path, stream);
    }

    private static void WriteIfChanged(string path, Stream content)
    {
        using var buffer = new MemoryStream();
        content.CopyTo(buffer);
        var bytes = buffer.ToArray();
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
        // Written beside and renamed: a sandbox starting meanwhile sees the old file or the new one, never half.
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        UnixFiles.SetMode(temp, UnixFiles.WorldReadable);
        File.Move(temp, path, overwrite: true);
    }
}
