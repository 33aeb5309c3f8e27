using System.Globalization;
using System.Text;

namespace AgenticGateway.Images;

/// <summary>
/// Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs. Entries are written in the order
/// added, parents first (the kernel does not create missing directories); file contents are read from disk only when
/// the archive is written, so a whole root filesystem can be added without holding it in memory.
/// </summary>
internal sealed class CpioWriter
{
    private const int DirectoryType = 0x4000, FileType = 0x8000, SymlinkType = 0xA000, CharType = 0x2000;
    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, int Mode, byte[]? Data, string? Source, long Length, int RdevMajor, int RdevMinor);

    public void Directory(string name, int mode) => Add(new Entry(name, DirectoryType | mode, [], null, 0, 0, 0));
    public void File(string name, byte[] data, int mode) => Add(new Entry(name, FileType | mode, data, null, data.Length, 0, 0));
    public void FileFrom(string name, string source, int mode) => Add(new Entry(name, FileType | mode, null, source, new FileInfo(source).Length, 0, 0));
    public void Symlink(string name, string target)
    {
        var bytes = Encoding.UTF8.GetBytes(target);
        Add(new Entry(name, SymlinkType | Octal("777"), bytes, null, bytes.Length, 0, 0));
    }
    public void CharDevice(string name, int major, int minor) => Add(new Entry(name, CharType | Octal("600"), [], null, 0, major, minor));

    /// <summary>
    /// Adds a directory tree under <paramref name="prefix"/>: directories, regular files and symlinks with their modes
    /// (hard links become copies). The tree must hold no device nodes, FIFOs or sockets.
    /// </summary>
    public void Tree(string root, string prefix = "")
    {
        // By hand, not RecurseSubdirectories: that descends into symlinks to directories (bin -> usr/bin).
        foreach (var path in System.IO.Directory.EnumerateFileSystemEntries(root).Order(StringComparer.Ordinal))
        {
            var name = prefix + Path.GetFileName(path);
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target) Symlink(name, target);
            else if (info.Attributes.HasFlag(FileAttributes.Directory))
            {
                Directory(name, (int)info.UnixFileMode);
                Tree(path, name + "/");
            }
            else FileFrom(name, path, (int)info.UnixFileMode);
        }
    }

    public static int Octal(string mode) => Convert.ToInt32(mode, 8);

    private void Add(Entry entry)
    {
        if (!_names.Add(entry.Name)) return;
        var slash = entry.Name.LastIndexOf('/');
        if (slash > 0 && !_names.Contains(entry.Name[..slash]))
        {
            _names.Remove(entry.Name);
            Directory(entry.Name[..slash], Octal("755"));
            _names.Add(entry.Name);
        }
        _entries.Add(entry);
    }

    public void WriteTo(Stream output)
    {
        var ino = 1;
        foreach (var e in _entries)
        {
            WriteHeader(output, ino++, e.Name, e.Mode, e.Length, e.RdevMajor, e.RdevMinor);
            if (e.Data is not null) output.Write(e.Data);
            else
            {
                using var source = new FileStream(e.Source!, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                var copied = 0L;
                var buffer = new byte[1 << 16];
                int n;
                while (copied < e.Length && (n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, e.Length - copied))) > 0)
                {
                    output.Write(buffer, 0, n);
                    copied += n;
                }
                if (copied != e.Length) throw new IOException($"{e.Source} changed while the archive was written");
            }
            Pad(output, e.Length);
        }
        WriteHeader(output, 0, "TRAILER!!!", 0, 0, 0, 0);
    }

    private static void WriteHeader(Stream output, int ino, string name, int mode, long length, int rdevMajor, int rdevMinor)
    {
        if (length > uint.MaxValue) throw new IOException($"{name} is too large for a cpio archive");
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var nlink = (mode & 0xF000) == DirectoryType ? 2 : 1;
        var header = string.Concat("070701", Hex(ino), Hex(mode), Hex(0), Hex(0), Hex(nlink), Hex(0), Hex((int)(uint)length),
            Hex(0), Hex(0), Hex(rdevMajor), Hex(rdevMinor), Hex(nameBytes.Length), Hex(0));
        output.Write(Encoding.ASCII.GetBytes(header));
        output.Write(nameBytes);
        Pad(output, 110 + nameBytes.Length);
    }

    private static string Hex(int value) => value.ToString("x8", CultureInfo.InvariantCulture);

    private static void Pad(Stream output, long length)
    {
        var pad = (int)((4 - length % 4) % 4);
        for (var i = 0; i < pad; i++) output.WriteByte(0);
    }
}
