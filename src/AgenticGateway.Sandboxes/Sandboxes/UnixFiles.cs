using System.Runtime.InteropServices;

namespace AgenticGateway.Sandboxes;

/// <summary>File modes for what the unprivileged sandbox user must reach (the driver only runs on Linux).</summary>
internal static partial class UnixFiles
{
    /// <summary>
    /// Runs <paramref name="action"/> with <paramref name="uid"/>'s file-system identity (setfsuid and setfsgid, which
    /// are per thread): a root gateway creating a file in a sandbox's own tmpfs must do it as a uid that is mapped in
    /// the sandbox's user namespace (as root it gets EOVERFLOW). The action must not await.
    /// </summary>
    public static T AsFileSystemUser<T>(int uid, Func<T> action)
    {
        var gid = setfsgid(uid);
        var previous = setfsuid(uid);
        try { return action(); }
        finally
        {
            setfsuid(previous);
            setfsgid(gid);
        }
    }

    [LibraryImport("libc")]
    private static partial int setfsuid(int uid);

    [LibraryImport("libc")]
    private static partial int setfsgid(int gid);

    /// <summary>Removes a directory tree if it is there; what cannot be removed now is left (a later reap will try again).</summary>
    public static void TryDeleteTree(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Creates <paramref name="path"/> for this user alone (0700), or accepts it if it already is a real directory
    /// nobody else can write to. Null when fine, else why not: a VMM's sockets and snapshot files under a shared /tmp
    /// must not be in a directory another user made (or replaced with a symlink).
    /// </summary>
    public static string? PrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        try
        {
            var info = new DirectoryInfo(path);
            if (info.LinkTarget is not null) return $"{path} is a symlink";
            if (!info.Exists) Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            info.Refresh();
            const UnixFileMode othersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
            if ((info.UnixFileMode & othersWrite) != 0) return $"{path} is writable by other users";
            var probe = Path.Join(path, $".probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");          // ours to use (a directory of another user's would refuse this)
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot use {path}: {ex.Message}";
        }
    }

    public const UnixFileMode OwnerOnly = (UnixFileMode)0b110_000_000;
    public const UnixFileMode Private = (UnixFileMode)0b111_000_000;
    public const UnixFileMode WorldReadable = (UnixFileMode)0b110_100_100;
    public const UnixFileMode WorldTraversable = (UnixFileMode)0b111_101_101;
    public const UnixFileMode WorldWritable = (UnixFileMode)0b110_110_110;

    /// <summary>Writes a new file that only this user can read, from its creation on.</summary>
    public static void WriteOwnerOnly(string path, ReadOnlySpan<byte> content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using var file = new FileStream(path, options);
        file.Write(content);
    }

    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }
}
