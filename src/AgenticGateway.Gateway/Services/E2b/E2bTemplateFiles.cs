using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// The files E2B's SDK uploads for a template's COPY steps: one tar archive (gzipped by default) per COPY, named by
/// the hash the SDK computes over the files, kept per owner under <c>&lt;data dir&gt;/templates/e2b-files/&lt;owner tag&gt;/</c>.
/// The SDK asks for an upload link (<c>GET /templates/{id}/files/{hash}</c>) and PUTs the archive to it without its
/// API key, so the link carries its own authority: an HMAC over (owner, template, hash, expiry) with a key kept in the
/// data directory (gateways sharing the directory, which also share the files, accept each other's links).
/// The hash is the client's word about its own files: it is never trusted across owners (each owner's cache is its
/// own directory), so a wrong one can only spoil the caller's own builds.
/// </summary>
internal sealed partial class E2bTemplateFiles
{
    /// <summary>How long an upload link is good for: the SDK uses it at once, right after asking.</summary>
    public static readonly TimeSpan LinkLifetime = TimeSpan.FromMinutes(15);
    /// <summary>Uploads unused this long are deleted (at start), so the cache does not grow without end.</summary>
    private static readonly TimeSpan Unused = TimeSpan.FromDays(7);
    /// <summary>An owner keeps at most this many uploads' worth of bytes; the least recently used go first.</summary>
    private const int OwnerQuotaUploads = 10;

    private readonly string _root;
    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public E2bTemplateFiles(string dataDirectory, long maxBytes, TimeProvider time, ILogger<E2bTemplateFiles> logger)
    {
        _root = Path.Join(Path.GetFullPath(dataDirectory), "templates", "e2b-files");
        MaxBytes = maxBytes;
        _time = time;
        _logger = logger;
        Directory.CreateDirectory(_root);
        UnixFiles.SetMode(_root, UnixFiles.Private);
        _key = LoadKey(Path.Join(_root, ".link-key"));
        Sweep();
    }

    /// <summary>The largest archive accepted (<c>sandboxes.max_file_bytes</c>, as for the native build's upload).</summary>
    public long MaxBytes { get; }

    /// <summary>The SDK's hash (SHA-256 in hex); anything else that is a plain name is accepted, never a path.</summary>
    public static bool ValidHash(string hash) => hash.Length is > 0 and <= 128 && hash.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The owner's directory name: stable, not the owner's id itself (it appears in upload links).</summary>
    public string OwnerTag(string owner) => Convert.ToHexStringLower(Mac("owner\n" + owner))[..32];

    /// <summary>The owner's upload of that hash, marked as used; null when there is none.</summary>
    public string? Find(string owner, string hash)
    {
        var file = Path.Join(_root, OwnerTag(owner), hash);
        if (!File.Exists(file)) return null;
        try { File.SetLastWriteTimeUtc(file, _time.GetUtcNow().UtcDateTime); }
        catch (IOException) { }   // evicted meanwhile: the caller's open fails and says so
        return file;
    }

    /// <summary>Deletes the owner's upload of that hash (an archive a build refused: the next build uploads it again).</summary>
    public void Forget(string owner, string hash)
    {
        try { File.Delete(Path.Join(_root, OwnerTag(owner), hash)); }
        catch (IOException) { }
    }

    /// <summary>The query string of an upload link: the owner's tag, the expiry (Unix seconds) and the signature.</summary>
    public string Sign(string owner, string templateId, string hash)
    {
        var tag = OwnerTag(owner);
        var expires = (_time.GetUtcNow() + LinkLifetime).ToUnixTimeSeconds();
        return $"owner={tag}&expires={expires.ToString(System.Globalization.CultureInfo.InvariantCulture)}&signature={Base64Url(Mac(Signed(tag, templateId, hash, expires)))}";
    }

    /// <summary>Whether a link's signature holds (compared in constant time) and it has not expired; why not, else.</summary>
    public LinkCheck Verify(string? tag, string? expires, string? signature, string templateId, string hash)
    {
        if (string.IsNullOrEmpty(tag) || string.IsNullOrEmpty(signature) || !long.TryParse(expires, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var at))
            return LinkCheck.Missing;
        if (tag.Length != 32 || !tag.All(char.IsAsciiHexDigitLower) || signature.Length > 64) return LinkCheck.Invalid;
        Span<byte> given = stackalloc byte[48];
        if (!TryFromBase64Url(signature, given, out var length)) return LinkCheck.Invalid;
        var expected = Mac(Signed(tag, templateId, hash, at));
        if (!CryptographicOperations.FixedTimeEquals(expected, given[..length])) return LinkCheck.Invalid;
        return _time.GetUtcNow().ToUnixTimeSeconds() > at ? LinkCheck.Expired : LinkCheck.Valid;
    }

    /// <summary>
    /// Streams an upload to a temporary file beside its place and moves it in whole (a reader never sees half an
    /// archive); false when it is larger than <see cref="MaxBytes"/> (nothing kept).
    /// </summary>
    public async Task<bool> StoreAsync(string tag, string hash, Stream body, CancellationToken cancellationToken)
    {
        var directory = Path.Join(_root, tag);
        Directory.CreateDirectory(directory);
        var temp = Path.Join(directory, ".part-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long total = 0;
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFiles.OwnerOnly;
            await using (var file = new FileStream(temp, options))
            {
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > MaxBytes) return false;
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            File.Move(temp, Path.Join(directory, hash), overwrite: true);
            Stored(_logger, tag, hash, total);
            Evict(directory, hash);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            try { File.Delete(temp); } catch (IOException) { }
        }
    }

    /// <summary>Keeps an owner's uploads within their share of the disk: the least recently used go, never the one just stored.</summary>
    private void Evict(string directory, string keep)
    {
        var files = new DirectoryInfo(directory).EnumerateFiles().Where(f => !f.Name.StartsWith('.')).OrderByDescending(f => f.LastWriteTimeUtc).ToList();
        long total = 0;
        foreach (var f in files)
        {
            total += f.Length;
            if (total > MaxBytes * OwnerQuotaUploads && f.Name != keep)
            {
                try { f.Delete(); Evicted(_logger, Path.GetFileName(directory), f.Name); }
                catch (IOException) { }
            }
        }
    }

    /// <summary>At start: uploads unused for <see cref="Unused"/>, and partial ones (an hour old: no upload takes that long).</summary>
    private void Sweep()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        foreach (var directory in Directory.EnumerateDirectories(_root))
            foreach (var file in new DirectoryInfo(directory).EnumerateFiles())
            {
                var age = now - file.LastWriteTimeUtc;
                if (age > Unused || (file.Name.StartsWith(".part-", StringComparison.Ordinal) && age > TimeSpan.FromHours(1)))
                    try { file.Delete(); } catch (IOException) { }
            }
    }

    private static string Signed(string tag, string templateId, string hash, long expires) =>
        $"e2b-template-upload-v1\n{tag}\n{templateId}\n{hash}\n{expires.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    private byte[] Mac(string text) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(text));

    /// <summary>The link key: made once (moved into place whole, so racing gateways agree on one), read after.</summary>
    private static byte[] LoadKey(string file)
    {
        if (!File.Exists(file))
        {
            var temp = file + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + ".tmp";
            UnixFiles.WriteOwnerOnly(temp, RandomNumberGenerator.GetBytes(32));
            try { File.Move(temp, file, overwrite: false); }
            catch (IOException) when (File.Exists(file)) { }
            finally { File.Delete(temp); }
        }
        var key = File.ReadAllBytes(file);
        if (key.Length != 32) throw new InvalidOperationException($"{file} is not a 32-byte key: delete it to have a new one made (outstanding upload links stop working).");
        return key;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryFromBase64Url(string text, Span<byte> into, out int length)
    {
        length = 0;
        if (text.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))) return false;
        var padded = text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - text.Length % 4) % 4);
        return Convert.TryFromBase64String(padded, into, out length);
    }

    [LoggerMessage(EventId = 2260, Level = LogLevel.Information, Message = "E2B template upload stored for owner tag {Tag}: {Hash} ({Bytes} bytes)")]
    private static partial void Stored(ILogger logger, string tag, string hash, long bytes);

    [LoggerMessage(EventId = 2261, Level = LogLevel.Information, Message = "E2B template upload evicted for owner tag {Tag}: {Hash} (the owner's uploads exceed their share)")]
    private static partial void Evicted(ILogger logger, string tag, string hash);
}

/// <summary>What an upload link's check found.</summary>
internal enum LinkCheck { Valid, Missing, Invalid, Expired }
