using System.Diagnostics;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// The files every sandbox sees read-only: the guest agent (agw-agent, from beside the gateway) and its interpreters'
/// helpers (embedded in the gateway), copied to /opt/agw, and a minimal /etc (passwd, group, hosts) so that nothing of
/// the host's /etc is exposed beyond what the runtimes need.
/// </summary>
internal static class GuestFiles
{
    public const string MountPoint = "/opt/agw";
    /// <summary>The agent inside a sandbox; it finds the kernels beside itself.</summary>
    public const string AgentPath = MountPoint + "/" + GuestAgentBinary.FileName;

    /// <summary>
    /// Writes the files under <paramref name="directory"/> (replacing older versions) and returns it: the kernels,
    /// the /etc files, and the agent at <paramref name="agentBinary"/> when given.
    /// </summary>
    public static string Extract(string directory, string? agentBinary = null)
    {
        Directory.CreateDirectory(directory);
        var written = new HashSet<string>(StringComparer.Ordinal);
        void Write(string relative, byte[] content, UnixFileMode mode)
        {
            var path = Path.Join(directory, relative);
            WriteIfChanged(path, content, mode);
            written.Add(path);
        }
        var assembly = typeof(GuestFiles).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("guest/", StringComparison.Ordinal)))
        {
            using var resource = assembly.GetManifestResourceStream(name)!;
            Write(name["guest/".Length..], ReadAll(resource), UnixFiles.WorldReadable);
        }
        if (agentBinary is not null) Write(GuestAgentBinary.FileName, File.ReadAllBytes(agentBinary), UnixFiles.WorldTraversable);
        Directory.CreateDirectory(Path.Join(directory, "etc"));
        Write("etc/passwd", Utf8("root:x:0:0:root:/root:/usr/sbin/nologin\nuser:x:1000:1000:user:/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), UnixFiles.WorldReadable);
        Write("etc/group", Utf8("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"), UnixFiles.WorldReadable);
        Write("etc/hosts", Utf8("127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"), UnixFiles.WorldReadable);
        Write("etc/nsswitch.conf", Utf8("passwd: files\ngroup: files\nhosts: files dns\n"), UnixFiles.WorldReadable);
        // What an earlier version left here (agent.py and its bytecode) would otherwise be copied into every sandbox.
        foreach (var stale in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Where(f => !written.Contains(f) && !f.EndsWith(".tmp", StringComparison.Ordinal)).ToList())
            File.Delete(stale);
        foreach (var dir in Directory.EnumerateDirectories(directory).Where(d => !Directory.EnumerateFileSystemEntries(d).Any()).ToList())
            Directory.Delete(dir);
        return directory;
    }

    /// <summary>
    /// Compiles pykernel.py in <paramref name="directory"/> to pykernel.pyc with <paramref name="python"/>, which must
    /// be the interpreter the sandboxes run (the host's, whose /usr they see): the agent then runs the bytecode and
    /// skips compiling the kernel's source on every interpreter start. False (and no .pyc) when that fails; the agent
    /// runs the source then.
    /// </summary>
    public static bool CompilePythonKernel(string directory, string python)
    {
        var source = Path.Join(directory, "pykernel.py");
        var compiled = Path.Join(directory, "pykernel.pyc");
        var temp = compiled + ".tmp";
        if (!File.Exists(python) || !File.Exists(source)) return false;
        var info = new ProcessStartInfo(python) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        info.Environment.Clear();
        // -I -S: nothing of the gateway's environment, user site or .pth files; the code object's file name is where
        // the sandbox runs it, which pykernel compares its frames against to hide them from tracebacks.
        foreach (var arg in new[] { "-I", "-S", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3], doraise=True)",
                     source, temp, MountPoint + "/pykernel.pyc" })
            info.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(info)!;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            if (!process.WaitForExit(30_000) || process.ExitCode != 0 || !File.Exists(temp))
            {
                if (!process.HasExited) process.Kill();
                File.Delete(temp);
                return false;
            }
            UnixFiles.SetMode(temp, UnixFiles.WorldReadable);
            File.Move(temp, compiled, overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Every file <see cref="Extract"/> wrote under <paramref name="directory"/>, where a sandbox has it (etc/* in
    /// /etc, the rest under <see cref="MountPoint"/>) and its mode there (the agent is executable).
    /// </summary>
    public static IReadOnlyList<(string Host, string Sandbox, string Mode)> Placements(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(directory, f))
            .Select(rel => (
                Path.Join(directory, rel),
                rel.StartsWith("etc/", StringComparison.Ordinal) ? "/" + rel : MountPoint + "/" + rel,
                rel == GuestAgentBinary.FileName ? "0755" : "0644"))];

    private static byte[] ReadAll(Stream content)
    {
        using var buffer = new MemoryStream();
        content.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static void WriteIfChanged(string path, byte[] bytes, UnixFileMode mode)
    {
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
        // Written beside and renamed: a sandbox starting meanwhile sees the old file or the new one, never half.
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        UnixFiles.SetMode(temp, mode);
        File.Move(temp, path, overwrite: true);
    }
}
