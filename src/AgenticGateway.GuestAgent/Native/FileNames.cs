using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using System.Text;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>
/// File names as Python's "surrogateescape" handles them: a byte that is not part of valid UTF-8 becomes the lone
/// surrogate U+DC80..U+DCFF and turns back into that byte, so a name read from a directory reaches the same file again
/// (removing or moving a directory holding such a name works). Events show such a character as '?' (Text.Safe).
/// </summary>
internal static class FileNames
{
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out var consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
                bytes = bytes[consumed..];
            }
            else
            {
                text.Append((char)(0xDC00 + bytes[0]));
                bytes = bytes[1..];
            }
        }
        return text.ToString();
    }

    /// <summary>The bytes of <paramref name="name"/> followed by a NUL.</summary>
    public static byte[] EncodeZ(string name)
    {
        if (!HasEscapes(name))
        {
            var plain = new byte[Encoding.UTF8.GetByteCount(name) + 1];
            Encoding.UTF8.GetBytes(name, plain);
            return plain;
        }
        var bytes = new List<byte>(name.Length + 8);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c is >= '\uDC80' and <= '\uDCFF')          // lone: a pair's low half is consumed with its high half below
            {
                bytes.Add((byte)(c - 0xDC00));
                continue;
            }
            var rune = Rune.TryGetRuneAt(name, i, out var r) ? r : Rune.ReplacementChar;
            if (!rune.IsBmp) i++;
            bytes.AddRange(utf8[..rune.EncodeToUtf8(utf8)]);
        }
        bytes.Add(0);
        return [.. bytes];
    }

    private static bool HasEscapes(string name)
    {
        foreach (var c in name)
            if (char.IsSurrogate(c)) return true;
        return false;
    }
}

/// <summary>Passes a string parameter to libc as a file name (<see cref="FileNames.EncodeZ"/>).</summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedIn, typeof(FileNameMarshaller))]
internal static unsafe class FileNameMarshaller
{
    public static byte* ConvertToUnmanaged(string? managed)
    {
        if (managed is null) return null;
        var bytes = FileNames.EncodeZ(managed);
        var native = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
        bytes.CopyTo(new Span<byte>(native, bytes.Length));
        return native;
    }

    public static void Free(byte* unmanaged) => NativeMemory.Free(unmanaged);
}
