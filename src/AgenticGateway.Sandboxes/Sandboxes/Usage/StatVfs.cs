using System.Runtime.InteropServices;

namespace AgenticGateway.Sandboxes.Usage;

/// <summary>How full a mounted file system is (statvfs(3)), for a sandbox's size-capped tmpfs.</summary>
internal static partial class StatVfs
{
    /// <summary>Bytes in use on the file system holding <paramref name="path"/>, or null when it cannot be read (gone).</summary>
    public static long? Used(string path)
    {
        if (statvfs(path, out var s) != 0) return null;
        return (long)((s.Blocks - s.FreeBlocks) * s.FragmentSize);
    }

    // glibc's struct statvfs on 64-bit Linux: eleven 8-byte fields, then six ints of padding.
    [StructLayout(LayoutKind.Sequential)]
    private struct Result
    {
        public ulong BlockSize, FragmentSize, Blocks, FreeBlocks, AvailableBlocks, Files, FreeFiles, AvailableFiles, FsId, Flags, NameMax;
        public long Spare0, Spare1, Spare2;
    }

    [LibraryImport("libc", EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int statvfs(string path, out Result result);
}
