namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// The files every sandbox sees read-only: the guest agent and its interpreters (embedded in the gateway, mounted at
/// /opt/agw), and a minimal /etc (passwd, group, hosts) so that nothing of the host's /etc is exposed beyond what the
/// runtimes need.
/// </summary>
internal static class GuestFiles
{
    public const string MountPoint = "/opt/agw";
    public const string AgentPath = MountPoint + "/agent.py";

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
        return directory;
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
