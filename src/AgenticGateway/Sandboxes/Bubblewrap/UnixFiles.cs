namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>File modes for what the unprivileged sandbox user must reach (the driver only runs on Linux).</summary>
internal static class UnixFiles
{
    /// <summary>Removes a directory tree if it is there; what cannot be removed now is left (a later reap will try again).</summary>
    public static void TryDeleteTree(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    public const UnixFileMode WorldReadable = (UnixFileMode)0b110_100_100;
    public const UnixFileMode WorldTraversable = (UnixFileMode)0b111_101_101;
    public const UnixFileMode WorldWritable = (UnixFileMode)0b110_110_110;

    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }
}
