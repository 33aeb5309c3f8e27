using System.Formats.Tar;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// Turns a template's layer (a tar archive of the home directory the build left) into a cpio archive in the "newc"
/// format the kernel unpacks as an initramfs, every entry under <see cref="Prefix"/>. Appended after a guest image's
/// own initramfs it puts the home into the VM's boot image, where the guest's init moves it into /home/user: no file
/// of the layer is ever written on the host. The layer is treated as untrusted (the build ran user code): names are
/// normalised and kept inside the prefix, nothing is written through a symlink the layer itself made, device nodes
/// and FIFOs are left out, and every entry belongs to the sandbox user (uid 1000), with the modes the build left
/// (less setuid and setgid).
/// </summary>
internal static class LayerCpio
{
    /// <summary>Where the home is in the initramfs; the guest's init looks for it there.</summary>
    public const string Prefix = "agw/home";
    public const int SandboxUid = 1000;
    private const int DirectoryType = 0x4000, FileType = 0x8000, SymlinkType = 0xA000;
    private const int MaxNameBytes = 4000;     // the kernel's unpacker takes names up to PATH_MAX

    /// <summary>Writes the archive for <paramref name="layerTar"/> to <paramref name="output"/>; returns how many entries it holds.</summary>
    /// <exception cref="InvalidDataException">The layer holds something that cannot go into a home (a name leaving it, a file through a symlink, a file too large).</exception>
    public static async Task<int> WriteAsync(string layerTar, Stream output, CancellationToken cancellationToken)
    {
        // A hard link's cpio entry shares its target's inode number, and the kernel links the two only if the target
        // said it has more than one link: the targets are found first.
        var linked = new HashSet<string>(StringComparer.Ordinal);
        await using (var first = File.OpenRead(layerTar))
        await using (var reader = new TarReader(first))
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                if (entry.EntryType == TarEntryType.HardLink && Name(entry.LinkName) is { } target) linked.Add(target);

        var inodes = new Dictionary<string, int>(StringComparer.Ordinal);
        var symlinks = new HashSet<string>(StringComparer.Ordinal);
        // The home itself first (tar names it "./" too, and then its mode wins): the kernel makes no missing parents.
        Header(output, 1, Prefix, DirectoryType | 0x1ED, 0, 2, 0);
        var ino = 2;
        var count = 0;
        await using (var file = File.OpenRead(layerTar))
        await using (var reader = new TarReader(file))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                var relative = Name(entry.Name) ?? throw new InvalidDataException($"the layer holds an entry outside the home: {Shown(entry.Name)}");
                // The home itself ("." or "./") may only be a directory: anything else would replace it, and every later
                // entry (and the guest's own files around it) would be written through what replaced it.
                if (relative.Length == 0 && entry.EntryType != TarEntryType.Directory)
                    throw new InvalidDataException($"the layer makes the home itself a {entry.EntryType}: {Shown(entry.Name)}");
                var name = relative.Length == 0 ? Prefix : Prefix + "/" + relative;
                if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes) throw new InvalidDataException($"the layer holds a name longer than {MaxNameBytes} bytes");
                for (var slash = relative.IndexOf('/'); slash > 0; slash = relative.IndexOf('/', slash + 1))
                    if (symlinks.Contains(relative[..slash]))
                        throw new InvalidDataException($"the layer holds {Shown(relative)} below a symlink it made ({Shown(relative[..slash])})");
                var mode = (int)entry.Mode & 0x3FF;   // permissions and sticky (01777): never setuid or setgid
                var mtime = entry.ModificationTime.ToUnixTimeSeconds();
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        symlinks.Remove(relative);
                        Header(output, ino++, name, DirectoryType | mode, mtime, 2, 0);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        symlinks.Remove(relative);
                        if (entry.Length > uint.MaxValue) throw new InvalidDataException($"{Shown(relative)} is too large for a boot image (4 GiB at most per file)");
                        var number = ino++;
                        var links = 1;
                        if (linked.Contains(relative))
                        {
                            inodes[relative] = number;
                            links = 2;
                        }
                        Header(output, number, name, FileType | mode, mtime, links, entry.Length);
                        if (entry.DataStream is { } data) await CopyExactlyAsync(data, output, entry.Length, cancellationToken);
                        else if (entry.Length > 0) throw new InvalidDataException($"{Shown(relative)} has no data in the layer");
                        Pad(output, entry.Length);
                        break;
                    case TarEntryType.HardLink:
                        symlinks.Remove(relative);
                        // The target came earlier in the archive (tar writes a file's first name in full); the kernel
                        // links the new name to it and the entry carries no data.
                        if (Name(entry.LinkName) is not { } target || !inodes.TryGetValue(target, out var shared))
                            throw new InvalidDataException($"{Shown(relative)} is a hard link to {Shown(entry.LinkName)}, which the layer does not hold before it");
                        Header(output, shared, name, FileType | mode, mtime, 2, 0);
                        break;
                    case TarEntryType.SymbolicLink:
                        var bytes = Encoding.UTF8.GetBytes(entry.LinkName);
                        if (bytes.Length is 0 or > MaxNameBytes) throw new InvalidDataException($"{Shown(relative)} is a symlink without a usable target");
                        symlinks.Add(relative);
                        Header(output, ino++, name, SymlinkType | 0x1FF, mtime, 1, bytes.Length);
                        output.Write(bytes);
                        Pad(output, bytes.Length);
                        break;
                    default:
                        // FIFOs and device nodes: the sandbox user cannot make the latter, and neither belongs in a home.
                        continue;
                }
                count++;
            }
        }
        Header(output, 0, "TRAILER!!!", 0, 0, 1, 0);
        return count;
    }

    /// <summary>A tar name relative to the home ("" for the home itself), or null when it leaves it.</summary>
    internal static string? Name(string tarName)
    {
        if (tarName.Contains('\0', StringComparison.Ordinal) || tarName.StartsWith('/')) return null;
        var parts = new List<string>();
        foreach (var part in tarName.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..") return null;
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    private static string Shown(string name) => name.Length > 200 ? name[..200] + "..." : name;

    private static async Task CopyExactlyAsync(Stream source, Stream destination, long length, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        var left = length;
        while (left > 0)
        {
            var n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
            if (n == 0) throw new InvalidDataException("the layer ends inside a file");
            await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            left -= n;
        }
    }

    private static void Header(Stream output, int ino, string name, int mode, long mtime, int links, long size)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var owner = name == "TRAILER!!!" ? 0 : SandboxUid;
        var header = string.Concat("070701", Hex(ino), Hex(mode), Hex(owner), Hex(owner), Hex(links), Hex(Math.Clamp(mtime, 0, uint.MaxValue)), Hex(size),
            Hex(0), Hex(0), Hex(0), Hex(0), Hex(nameBytes.Length), Hex(0));
        output.Write(Encoding.ASCII.GetBytes(header));
        output.Write(nameBytes);
        Pad(output, 110 + nameBytes.Length);
    }

    private static string Hex(long value) => ((uint)value).ToString("x8", CultureInfo.InvariantCulture);

    private static void Pad(Stream output, long length)
    {
        for (var pad = (4 - length % 4) % 4; pad > 0; pad--) output.WriteByte(0);
    }
}
