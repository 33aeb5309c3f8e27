using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes.Templates;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Sandboxes.Templates;

/// <summary>
/// The boot image cache on its own (no VM): the image is the base initramfs, zero padding and a cpio archive of the
/// layer under agw/home in the kernel's "newc" format; concurrent starts make it once; an untrusted layer cannot
/// place files outside the home.
/// </summary>
[Trait("Category", "unit")]
public class TemplateImageCacheTests
{
    [Fact]
    public async Task Two_concurrent_starts_make_one_image_of_the_base_and_the_layer_owned_by_the_sandbox_user()
    {
        using var dir = new TempDirectory("agw-tplimg-");
        var template = Layer(dir.Path, w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./") { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./app/") { Mode = (UnixFileMode)Convert.ToInt32("700", 8) });
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./app/run.sh") { Mode = (UnixFileMode)Convert.ToInt32("4755", 8), DataStream = new MemoryStream("echo hi\n"u8.ToArray()) });
            w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "./app/again.sh") { LinkName = "./app/run.sh", Mode = (UnixFileMode)Convert.ToInt32("4755", 8) });
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "./python") { LinkName = "/usr/bin/python3" });
            w.WriteEntry(new PaxTarEntry(TarEntryType.Fifo, "./pipe"));
        });
        var baseFile = Path.Combine(dir.Path, "rootfs.cpio.gz");
        var baseBytes = RandomNumberGenerator.GetBytes(1001);     // not a multiple of 4: the layer's archive is padded
        await File.WriteAllBytesAsync(baseFile, baseBytes);
        var logger = new ListLogger();
        var images = new TemplateImages(dir.Path, logger);

        var both = await Task.WhenAll(images.BootFileAsync(template, baseFile, "v1", default), images.BootFileAsync(template, baseFile, "v1", default));
        Assert.Equal(both[0], both[1]);
        Assert.Single(logger.Messages, m => m.Contains("boot image made", StringComparison.Ordinal));
        Assert.Single(logger.Messages, m => m.Contains("reused", StringComparison.Ordinal));

        var bytes = await File.ReadAllBytesAsync(both[0]);
        Assert.Equal(baseBytes, bytes[..1001]);
        Assert.Equal(new byte[3], bytes[1001..1004]);
        var entries = ParseNewc(bytes.AsSpan(1004));
        Assert.Equal(["agw/home", "agw/home", "agw/home/app", "agw/home/app/run.sh", "agw/home/app/again.sh", "agw/home/python", "TRAILER!!!"], entries.Select(e => e.Name));
        Assert.All(entries.SkipLast(1), e => Assert.Equal((1000, 1000), (e.Uid, e.Gid)));
        var run = entries[3];
        Assert.Equal("100755", Convert.ToString(run.Mode, 8));                 // a regular file, setuid dropped
        Assert.Equal("echo hi\n", Encoding.UTF8.GetString(run.Data));
        var again = entries[4];
        Assert.Equal((run.Ino, 2, 2, 0), (again.Ino, run.Nlink, again.Nlink, again.Data.Length));   // a hard link to it
        Assert.Equal("40700", Convert.ToString(entries[2].Mode, 8));
        Assert.Equal(("120777", "/usr/bin/python3"), (Convert.ToString(entries[5].Mode, 8), Encoding.UTF8.GetString(entries[5].Data)));
        var manifest = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(both[0])!, "manifest.json")))!;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), manifest["sha256"]);

        // A new image version replaces the old one's boot image; deleting the layer's images removes them all.
        var newer = await images.BootFileAsync(template, baseFile, "v2", default);
        Assert.False(File.Exists(both[0]));
        TemplateImages.Delete(dir.Path, template.LayerDigest);
        Assert.False(File.Exists(newer));
    }

    [Theory]
    [InlineData("escape")]
    [InlineData("through-symlink")]
    [InlineData("home-symlink")]
    [InlineData("damaged-layer")]
    public async Task A_layer_that_would_write_outside_the_home_or_is_damaged_makes_no_image(string kind)
    {
        using var dir = new TempDirectory("agw-tplimg-");
        var template = Layer(dir.Path, w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./"));
            if (kind == "escape") w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./a/../../etc/passwd") { DataStream = new MemoryStream("x"u8.ToArray()) });
            // The home itself turned into a symlink: every later entry would go through it.
            else if (kind == "home-symlink") w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, ".") { LinkName = "/" });
            else
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "./l") { LinkName = "/etc" });
                if (kind == "through-symlink") w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./l/passwd") { DataStream = new MemoryStream("x"u8.ToArray()) });
            }
        });
        if (kind == "damaged-layer") await File.AppendAllTextAsync(template.LayerFile, "tampered");
        var baseFile = Path.Combine(dir.Path, "initrd.img");
        await File.WriteAllBytesAsync(baseFile, new byte[64]);
        var images = new TemplateImages(dir.Path, new ListLogger());
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => images.BootFileAsync(template, baseFile, "v1", default));
        Assert.Contains(kind switch { "escape" => "outside the home", "through-symlink" => "below a symlink", "home-symlink" => "the home itself", _ => "checksum" }, ex.Message);
        var root = TemplateImages.Root(dir.Path);
        Assert.True(!Directory.Exists(root) || !Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Any());
    }

    /// <summary>A layer as the template store keeps it: layers/&lt;digest&gt;/layer.tar and its manifest.</summary>
    private static SandboxTemplate Layer(string dataDirectory, Action<TarWriter> write)
    {
        var layers = Path.Combine(dataDirectory, "templates", "layers", "d" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        Directory.CreateDirectory(layers);
        var file = Path.Combine(layers, "layer.tar");
        using (var stream = File.Create(file))
        using (var w = new TarWriter(stream, TarEntryFormat.Pax))
            write(w);
        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
        File.WriteAllText(Path.Combine(layers, "manifest.json"), JsonSerializer.Serialize(new Dictionary<string, string> { ["layer_sha256"] = sha }));
        return new SandboxTemplate("tpl-1", "demo", "python", file, ImmutableDictionary<string, string>.Empty, "/home/user", null);
    }

    private sealed record NewcEntry(string Name, int Ino, int Mode, int Uid, int Gid, int Nlink, byte[] Data);

    /// <summary>Reads a "newc" archive to its trailer (header fields are 8 hex digits; name and data padded to 4 bytes).</summary>
    private static List<NewcEntry> ParseNewc(ReadOnlySpan<byte> archive)
    {
        var entries = new List<NewcEntry>();
        var at = 0;
        while (true)
        {
            var header = Encoding.ASCII.GetString(archive.Slice(at, 110));
            Assert.StartsWith("070701", header);
            int Field(int i) => int.Parse(header.AsSpan(6 + i * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var nameSize = Field(11);
            var name = Encoding.UTF8.GetString(archive.Slice(at + 110, nameSize - 1));
            at = (at + 110 + nameSize + 3) & ~3;
            var size = Field(6);
            entries.Add(new NewcEntry(name, Field(0), Field(1), Field(2), Field(3), Field(4), archive.Slice(at, size).ToArray()));
            at = (at + size + 3) & ~3;
            if (name == "TRAILER!!!") return entries;
        }
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Messages { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Enqueue(formatter(state, exception));
    }
}
