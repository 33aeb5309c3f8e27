namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>File modes for what the unprivileged sandbox user must reach (the driver only runs on Linux).</summary>
internal static class UnixFiles
{
    public const UnixFileMode WorldReadable = (UnixFileMode)0b110_100_100;
    public const UnixFileMode WorldTraversable = (UnixFileMode)0b111_101_101;
    public const UnixFileMode WorldWritable = (UnixFileMode)0b110_110_110;

    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }
}
