using Microsoft.Win32.SafeHandles;

namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// A /proc or cgroup file held open and read again from offset 0 each time (the kernel regenerates its contents for a
/// read at 0), so that a sample opens nothing, builds no path and allocates nothing.
/// </summary>
internal sealed class KernelFile : IDisposable
{
    private readonly SafeFileHandle _handle;

    private KernelFile(SafeFileHandle handle) => _handle = handle;

    /// <summary>The file opened for reading, or null when it does not exist (or may not be read).</summary>
    public static KernelFile? TryOpen(string path)
    {
        try { return new KernelFile(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The file's current contents in <paramref name="scratch"/>; false once it is gone (its process or group ended).</summary>
    public bool TryRead(Span<byte> scratch, out ReadOnlySpan<byte> text)
    {
        try
        {
            var n = RandomAccess.Read(_handle, scratch, 0);
            text = scratch[..n];
            return n > 0;
        }
        catch (IOException)
        {
            text = default;
            return false;
        }
    }

    /// <summary>The number after <paramref name="key"/> on a "key value" line (memory.stat, cpu.stat), or null.</summary>
    public static long? Value(ReadOnlySpan<byte> text, ReadOnlySpan<byte> key)
    {
        while (!text.IsEmpty)
        {
            var end = text.IndexOf((byte)'\n');
            var line = end < 0 ? text : text[..end];
            if (line.Length > key.Length && line.StartsWith(key) && line[key.Length] == (byte)' ')
                return Number(line[(key.Length + 1)..]);
            text = end < 0 ? default : text[(end + 1)..];
        }
        return null;
    }

    /// <summary>The <paramref name="index"/>th space-separated field of <paramref name="text"/> as a number, or null.</summary>
    public static long? Field(ReadOnlySpan<byte> text, int index)
    {
        foreach (var range in text.Split((byte)' '))
        {
            if (index-- == 0) return Number(text[range]);
        }
        return null;
    }

    /// <summary>A non-negative decimal number, surrounding whitespace ignored; null for anything else (too large too).</summary>
    public static long? Number(ReadOnlySpan<byte> digits)
    {
        digits = digits.Trim(" \t\n"u8);
        if (digits.IsEmpty) return null;
        long value = 0;
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9' || value > (long.MaxValue - 9) / 10) return null;
            value = value * 10 + (b - '0');
        }
        return value;
    }

    public void Dispose() => _handle.Dispose();
}
