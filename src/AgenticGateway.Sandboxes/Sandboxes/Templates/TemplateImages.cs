using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// Boot images of templates for the microVM drivers, under <c>&lt;data dir&gt;/templates/images/&lt;layer digest&gt;/
/// &lt;image version&gt;-&lt;base file&gt;/</c>: the guest image's initramfs (<c>rootfs.cpio.gz</c>, or the small
/// <c>initrd.img</c> of the disk mode) with the layer appended as one more cpio archive (<see cref="LayerCpio"/>),
/// and a <c>manifest.json</c> with its SHA-256 and the layer's. The kernel unpacks concatenated archives in order, so
/// the VM boots with the home already in memory and the guest's init moves it into /home/user: nothing is copied in
/// through the agent. Each image is made once (per layer, image version and base file; two starts of one template
/// wait for the same build), checked against its SHA-256 before every boot (a damaged one is made again, never
/// booted), and removed with its template's layer; making one for a new image version removes the older versions'.
/// </summary>
internal sealed class TemplateImages(string dataDirectory, ILogger logger)
{
    private const string BootFile = "initrd", Manifest = "manifest.json";
    private readonly string _root = Root(dataDirectory);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    public static string Root(string dataDirectory) => Path.Join(Path.GetFullPath(dataDirectory), "templates", "images");

    /// <summary>Removes every boot image of a layer (its template was deleted and no other uses it).</summary>
    public static void Delete(string dataDirectory, string layerDigest) => UnixFiles.TryDeleteTree(Path.Join(Root(dataDirectory), layerDigest));

    /// <summary>
    /// The boot file (an initrd) for a VM started from <paramref name="template"/>: <paramref name="baseFile"/> of
    /// guest image <paramref name="imageVersion"/> with the template's home appended, checked or made now.
    /// </summary>
    /// <exception cref="InvalidDataException">The layer is damaged or holds what a home cannot.</exception>
    public async Task<string> BootFileAsync(SandboxTemplate template, string baseFile, string imageVersion, CancellationToken cancellationToken)
    {
        var digest = template.LayerDigest;
        var directory = Path.Join(_root, digest, $"{imageVersion}-{Path.GetFileName(baseFile)}");
        var layerSha = LayerSha256(template.LayerFile) ?? throw new InvalidDataException("the template's layer has no readable manifest: build the template again");
        var gate = _gates.GetOrAdd(directory, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var file = Path.Join(directory, BootFile);
            if (ReadManifest(directory) is { } manifest)
            {
                if (manifest.GetValueOrDefault("layer_sha256") == layerSha && manifest.GetValueOrDefault("sha256") == await Sha256Async(file, cancellationToken))
                {
                    TemplateLog.ImageReused(logger, template.Name, directory);
                    return file;
                }
                TemplateLog.ImageDamaged(logger, template.Name, directory);
            }
            UnixFiles.TryDeleteTree(directory);
            await BuildAsync(template, baseFile, imageVersion, layerSha, directory, cancellationToken);
            TemplateLog.ImageBuilt(logger, template.Name, directory, new FileInfo(file).Length);
            // Older image versions' boot files of this layer serve no driver of this gateway any more.
            foreach (var other in Directory.EnumerateDirectories(Path.Join(_root, digest)))
                if (other != directory && other.EndsWith("-" + Path.GetFileName(baseFile), StringComparison.Ordinal)) UnixFiles.TryDeleteTree(other);
            return file;
        }
        finally { gate.Release(); }
    }

    /// <summary>Writes into a temporary directory moved into place whole, so a boot image directory that exists is complete.</summary>
    private static async Task BuildAsync(SandboxTemplate template, string baseFile, string imageVersion, string layerSha, string directory, CancellationToken cancellationToken)
    {
        if (await Sha256Async(template.LayerFile, cancellationToken) != layerSha)
            throw new InvalidDataException("the template's layer does not match its manifest's checksum: build the template again");
        Directory.CreateDirectory(Path.GetDirectoryName(directory)!);
        var temp = directory + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        Directory.CreateDirectory(temp);
        try
        {
            var file = Path.Join(temp, BootFile);
            long bytes;
            await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await using (var image = new FileStream(baseFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
                    await image.CopyToAsync(output, cancellationToken);
                // The kernel reads an uncompressed archive only at a 4-byte boundary; it skips the zeros before it.
                for (var pad = (4 - output.Length % 4) % 4; pad > 0; pad--) output.WriteByte(0);
                await LayerCpio.WriteAsync(template.LayerFile, output, cancellationToken);
                bytes = output.Length;
            }
            var manifest = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
            {
                ["sha256"] = await Sha256Async(file, cancellationToken) ?? throw new IOException("the boot image just written cannot be read"), ["bytes"] = bytes.ToString(CultureInfo.InvariantCulture),
                ["image_version"] = imageVersion, ["base"] = Path.GetFileName(baseFile), ["layer_sha256"] = layerSha,
                ["built_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            }, TemplateManifestJson.Default.DictionaryStringString);
            await File.WriteAllBytesAsync(Path.Join(temp, Manifest), manifest, cancellationToken);
            Directory.Move(temp, directory);
        }
        finally { UnixFiles.TryDeleteTree(temp); }
    }

    private static Dictionary<string, string>? ReadManifest(string directory)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Join(directory, Manifest)), TemplateManifestJson.Default.DictionaryStringString); }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The SHA-256 the layer's own manifest (written when it was built) records.</summary>
    private static string? LayerSha256(string layerFile) =>
        ReadManifest(Path.GetDirectoryName(layerFile)!)?.GetValueOrDefault("layer_sha256");

    private static async Task<string?> Sha256Async(string file, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }
}
