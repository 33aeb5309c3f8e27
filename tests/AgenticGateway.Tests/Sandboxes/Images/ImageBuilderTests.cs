using System.Diagnostics;
using System.Text;
using AgenticGateway.Sandboxes;
using AgenticGateway.Images;

namespace AgenticGateway.Tests.Sandboxes.Images;

/// <summary>The image builder's pieces that need no download: module order, vmlinux extraction, cpio, the current link.</summary>
[Trait("Category", "vm")]
public sealed class ImageBuilderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("agw-image-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A file shaped like a kernel module: some ELF-ish bytes and a .modinfo string table with depends=.</summary>
    private string Module(string name, string depends)
    {
        var path = Path.Join(_dir, name + ".ko");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes($"\u007fELF....\0license=GPL\0depends={depends}\0vermagic=6.1\0"));
        return path;
    }

    [Fact]
    public void Modules_load_after_their_dependencies_and_a_missing_one_is_named()
    {
        var available = new Dictionary<string, string>
        {
            ["virtio_ring"] = Module("virtio_ring", ""),
            ["virtio"] = Module("virtio", "virtio_ring"),
            ["virtio_blk"] = Module("virtio_blk", "virtio,virtio_ring"),
            ["jbd2"] = Module("jbd2", ""),
            ["crc16"] = Module("crc16", ""),
            ["ext4"] = Module("ext4", "jbd2,crc16"),
        };
        var order = KernelPackage.LoadOrder(["ext4", "virtio_blk"], available).Select(f => Path.GetFileNameWithoutExtension(f)).ToList();
        Assert.Equal(["jbd2", "crc16", "ext4", "virtio_ring", "virtio", "virtio_blk"], order);

        available.Remove("jbd2");
        var ex = Assert.Throws<InvalidOperationException>(() => KernelPackage.LoadOrder(["ext4"], available));
        Assert.Contains("module jbd2 is not in the kernel package", ex.Message);
    }

    [Fact]
    public void The_elf_kernel_is_found_inside_a_compressed_image()
    {
        // A bzImage is a boot stub followed by the compressed kernel: junk, then an xz stream of an ELF file.
        var elf = new byte[4096];
        "\u007fELF"u8.CopyTo(elf);
        new Random(1).NextBytes(elf.AsSpan(4));
        var raw = Path.Join(_dir, "kernel.elf");
        File.WriteAllBytes(raw, elf);
        using (var xz = Process.Start(new ProcessStartInfo("xz", ["-k", "-z", raw]))!) xz.WaitForExit();
        var image = Path.Join(_dir, "vmlinuz");
        File.WriteAllBytes(image, [.. Encoding.ASCII.GetBytes("MZ boot stub \xFD7zXZ not really"), .. File.ReadAllBytes(raw + ".xz"), .. new byte[64]]);

        var vmlinux = Path.Join(_dir, "vmlinux");
        KernelPackage.ExtractVmlinux(image, vmlinux);
        Assert.Equal(elf, File.ReadAllBytes(vmlinux));

        File.WriteAllBytes(image, Encoding.ASCII.GetBytes("no kernel in here"));
        Assert.Throws<InvalidOperationException>(() => KernelPackage.ExtractVmlinux(image, vmlinux));
    }

    [Fact]
    public void Cpio_archives_list_parents_first_and_end_with_the_trailer()
    {
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        Directory.CreateDirectory(Path.Join(tree, "usr/bin"));
        File.WriteAllText(Path.Join(tree, "usr/bin/tool"), "#!/bin/sh\n");
        File.CreateSymbolicLink(Path.Join(tree, "bin"), "usr/bin");
        var cpio = new CpioWriter();
        cpio.File("init", "hi"u8.ToArray(), CpioWriter.Octal("755"));
        cpio.Tree(tree);
        using var output = new MemoryStream();
        cpio.WriteTo(output);

        var archive = Path.Join(_dir, "a.cpio");
        File.WriteAllBytes(archive, output.ToArray());
        var list = Process.Start(new ProcessStartInfo("/bin/busybox", ["cpio", "-t", "-v", "-F", archive]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var listing = list.StandardOutput.ReadToEnd();
        list.WaitForExit();
        Assert.True(list.ExitCode == 0, listing);
        var names = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        // busybox cpio -tv: mode, uid/gid, size, date, time, name [-> target]
        Assert.Equal(["init", "bin", "usr", "usr/bin", "usr/bin/tool"], names.Select(n => n[5]).ToList());
        Assert.Equal("usr/bin", names[1][^1]);                 // bin -> usr/bin stays a link, not a copy of the tree
        Assert.StartsWith("l", names[1][0]);
    }

    [Fact]
    public void Current_is_resolved_to_the_image_it_points_at_now()
    {
        foreach (var v in new[] { "v1", "v2" })
        {
            Directory.CreateDirectory(Path.Join(_dir, v));
            File.WriteAllText(Path.Join(_dir, v, ImageLayout.KernelFile), v);
        }
        File.CreateSymbolicLink(Path.Join(_dir, "current"), "v1");
        var resolved = ImageLayout.Resolve(_dir);
        Assert.Equal(Path.Join(_dir, "v1"), resolved);
        // A build re-pointing current later does not move what a driver resolved.
        File.Delete(Path.Join(_dir, "current"));
        File.CreateSymbolicLink(Path.Join(_dir, "current"), "v2");
        Assert.Equal("v1", File.ReadAllText(Path.Join(resolved, ImageLayout.KernelFile)));
        Assert.Equal(Path.Join(_dir, "v2"), ImageLayout.Resolve(_dir));
        Assert.Equal(Path.Join(_dir, "v1"), ImageLayout.Resolve(Path.Join(_dir, "v1")));
    }
}
