using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// The files uploaded with a build request, staged in a private directory for COPY: regular files and directories
/// only (a symlink or device in an upload is refused, never followed), every name relative and inside the upload,
/// bounded in bytes and in count. Deleted with the build.
/// </summary>
internal sealed class TemplateContext : IDisposable
{
    private readonly string _root;
    private readonly SortedDictionary<string, (string Full, UnixFileMode Mode)> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal) { "" };
    private long _bytes;

    public TemplateContext(string stagingDirectory, long maxBytes, int maxFiles = 10_000)
    {
        MaxBytes = maxBytes;
        MaxFiles = maxFiles;
        Directory.CreateDirectory(stagingDirectory);
        _root = Directory.CreateDirectory(Path.Join(stagingDirectory, "ctx-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)))).FullName;
    }

    public long MaxBytes { get; }
    public int MaxFiles { get; }
    public int Count => _files.Count;

    /// <summary>Adds one file; null, or why it was refused.</summary>
    public async Task<string?> AddAsync(string name, Stream content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        if (TemplatePaths.InContext(name) is not { Length: > 0 } path) return $"'{DockerfileParser.Shown(name)}' is not a relative path inside the upload";
        if (_files.Count >= MaxFiles) return $"more than {MaxFiles} files";
        if (_directories.Contains(path)) return $"'{DockerfileParser.Shown(path)}' is both a file and a directory";
        // A name given twice (a tar may hold one twice) would reuse the staged file's name below.
        if (_files.ContainsKey(path)) return $"'{DockerfileParser.Shown(path)}' appears twice in the upload";
        if (Parents(path).Any(_files.ContainsKey)) return $"'{DockerfileParser.Shown(path)}' is inside a file";
        var full = Path.Join(_root, "f" + _files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using (var file = new FileStream(full, FileMode.CreateNew, FileAccess.Write))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                _bytes += read;
                if (_bytes > MaxBytes) return $"the upload is larger than {MaxBytes} bytes";
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        _files[path] = (full, (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0 ? Executable : Regular);
        foreach (var parent in Parents(path)) _directories.Add(parent);
        return null;
    }

    private const UnixFileMode Regular = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Executable = Regular | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Adds a tar archive's files (gzip-compressed when it starts with gzip's magic); null, or why it was refused.</summary>
    public Task<string?> AddTarAsync(Stream archive, CancellationToken cancellationToken) => AddTarAsync(archive, "", cancellationToken);

    /// <summary>
    /// Adds a tar archive's files under the directory <paramref name="under"/> of the upload ("" for its top), so
    /// several archives (E2B uploads one per COPY) stay apart; null, or why it was refused. Every entry's own name is
    /// checked before it is placed, so an absolute or escaping name cannot hide behind the prefix.
    /// </summary>
    public async Task<string?> AddTarAsync(Stream archive, string under, CancellationToken cancellationToken)
    {
        if (under.Length > 0 && TemplatePaths.InContext(under) != under) throw new ArgumentException("Not a normalized relative path.", nameof(under));
        var buffered = new BufferedStream(archive, 4096);
        var magic = new byte[2];
        var peeked = await buffered.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false, cancellationToken);
        // BufferedStream cannot un-read: put the two bytes back in front.
        Stream input = new PrefixStream(magic.AsMemory(0, peeked), buffered);
        if (peeked == 2 && magic[0] == 0x1f && magic[1] == 0x8b) input = new GZipStream(input, CompressionMode.Decompress);
        try
        {
            await using var reader = new TarReader(input);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        if (TemplatePaths.InContext(entry.Name) is not { } relative) return $"'{DockerfileParser.Shown(entry.Name)}' is not a relative path inside the upload";
                        var dir = Under(under, relative);
                        if (dir.Length > 0) { _directories.Add(dir); foreach (var p in Parents(dir)) _directories.Add(p); }
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        if (TemplatePaths.InContext(entry.Name) is not { Length: > 0 } file) return $"'{DockerfileParser.Shown(entry.Name)}' is not a relative path inside the upload";
                        if (await AddAsync(Under(under, file), entry.DataStream ?? Stream.Null, entry.Mode, cancellationToken) is { } problem) return problem;
                        break;
                    case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                        break;
                    default:
                        return $"'{DockerfileParser.Shown(entry.Name)}' is a {entry.EntryType} (an upload may hold regular files and directories only)";
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
        {
            return $"not a readable tar archive ({ex.Message})";
        }
        return null;
    }

    /// <summary>The upload's content address: every path and its content's SHA-256, in order.</summary>
    public string Digest()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (path, (full, mode)) in _files)
        {
            using var file = File.OpenRead(full);
            hash.AppendData(Encoding.UTF8.GetBytes($"{path.Length}:{path};{(mode == Executable ? "x" : "-")};{Convert.ToHexStringLower(SHA256.HashData(file))};"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The files a COPY source names (one file, or every file under a directory), relative to it; null when it names nothing.</summary>
    public List<(string Relative, string Full, UnixFileMode Mode)>? Select(string source)
    {
        if (_files.TryGetValue(source, out var one)) return [(Path.GetFileName(source), one.Full, one.Mode)];
        if (!_directories.Contains(source)) return null;
        var prefix = source.Length == 0 ? "" : source + "/";
        return _files.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(f => (f.Key[prefix.Length..], f.Value.Full, f.Value.Mode)).ToList();
    }

    public bool IsDirectory(string source) => _directories.Contains(source);

    private static string Under(string under, string relative) =>
        under.Length == 0 ? relative : relative.Length == 0 ? under : under + "/" + relative;

    private static IEnumerable<string> Parents(string path)
    {
        for (var i = path.LastIndexOf('/'); i > 0; i = path.LastIndexOf('/', i - 1)) yield return path[..i];
    }

    public void Dispose() => UnixFiles.TryDeleteTree(_root);

    /// <summary>A few bytes already read, then the rest of the stream.</summary>
    private sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty) return rest.Read(buffer);
            var n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty) return await rest.ReadAsync(buffer, cancellationToken);
            var n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer.Span);
            _prefix = _prefix[n..];
            return n;
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
