using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Templates;
using AgenticGateway.Tests.Sandboxes.Qemu;

namespace AgenticGateway.Tests.Sandboxes.Templates;

/// <summary>
/// Templates on real QEMU microVMs (TCG here): the template is built in a VM, and sandboxes of it boot from a cached
/// boot image that holds its home, instead of having the layer copied in through the agent.
/// </summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class QemuTemplateImageTests(QemuGatewayFixture fixture)
{
    private SandboxGateway G => fixture.Gateway;

    // The guest image has no pip: a pure-Python wheel is a zip made to be unpacked into site-packages, which is an
    // offline install as pip --no-index would make it.
    private const string Dockerfile = """
        FROM python
        ENV MODE=vm
        WORKDIR app
        COPY agwimg-1.0.0-py3-none-any.whl /home/user/wheels/
        RUN python3 -c "import site, zipfile; zipfile.ZipFile('/home/user/wheels/agwimg-1.0.0-py3-none-any.whl').extractall(site.getusersitepackages())"
        RUN echo built in the vm > out.txt && chmod 640 out.txt && ln -s out.txt link.txt && mkdir -p data/deep && echo x > data/deep/f
        """;

    [Fact]
    public Task A_template_sandbox_boots_from_a_cached_image_with_its_home_and_a_damaged_image_is_made_again() =>
        ScenarioAsync(G, "initrd.img", pauseAndResume: true);

    [Fact]
    public async Task With_the_root_filesystem_as_the_initramfs_the_layer_is_appended_to_it()
    {
        // The whole root filesystem unpacks into guest memory: every sandbox (the build's too) gets room for it.
        await using var gateway = await SandboxGateway.StartAsync("driver: qemu, pools: {}, defaults: {memory_mb: 1024}, qemu: {root: initramfs, snapshots: false}");
        await ScenarioAsync(gateway, "rootfs.cpio.gz");
    }

    /// <summary>
    /// Builds the template in a VM, starts sandboxes from it (the first makes the boot image from <paramref name="baseFile"/>,
    /// the second reuses it, a third after damaging it makes it again) and deletes it. The second is paused and
    /// resumed first when <paramref name="pauseAndResume"/>: its home, in the VM's memory, comes back with it.
    /// </summary>
    private static async Task ScenarioAsync(SandboxGateway g, string baseFile, bool pauseAndResume = false)
    {
        var staging = Directory.CreateTempSubdirectory("agw-tplimg-").FullName;
        try
        {
            var wheel = Path.Combine(staging, "agwimg-1.0.0-py3-none-any.whl");
            SandboxLifecycleTests.BuildWheel(wheel, "agwimg", "1.0.0", "def answer():\n    return 42\n");
            using var form = new MultipartFormDataContent
            {
                { new StringContent("""{"name":"img-demo"}"""), "spec" },
                { new StringContent(Dockerfile), "dockerfile" },
                { new ByteArrayContent(await File.ReadAllBytesAsync(wheel)), "file", "agwimg-1.0.0-py3-none-any.whl" },
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/templates") { Content = form };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await g.Server.Client.SendAsync(request);
            var build = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, build.ToString());
            var templateId = build.GetProperty("template_id").GetString()!;
            var done = await TemplateBuildTests.WaitAsync(g, templateId, build.GetProperty("build_id").GetString()!, minutes: 6);
            Assert.True(done.GetProperty("status").GetString() == "ready", done.ToString());
            var digest = done.GetProperty("digest").GetString()!;

            var manager = g.Server.Services.GetRequiredService<SandboxManager>();
            var store = g.Server.Services.GetRequiredService<TemplateStore>();
            var images = Path.GetFullPath(Path.Combine(store.Staging, "..", "images", digest));

            // The first sandbox makes the boot image, and its home is there without the layer being copied in.
            var first = await g.CreateAsync("""{"template":"img-demo"}""");
            Assert.True(manager.FindAny(first)!.Instance.TemplateInImage);
            await AssertHomeAsync(g, first);
            var image = Assert.Single(Directory.GetDirectories(images));
            Assert.EndsWith("-" + baseFile, image);
            var file = Path.Combine(image, "initrd");
            var manifest = Manifest(image);
            Assert.Equal(Sha256(file), manifest["sha256"]);
            var written = File.GetLastWriteTimeUtc(file);

            // The second reuses it: the same file, not written again.
            var second = await g.CreateAsync("""{"template":"img-demo"}""");
            Assert.True(manager.FindAny(second)!.Instance.TemplateInImage);
            await AssertHomeAsync(g, second);
            Assert.Equal(written, File.GetLastWriteTimeUtc(file));
            Assert.Equal(manifest["built_at"], Manifest(image)["built_at"]);
            if (pauseAndResume)
            {
                var (paused, body) = await g.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{second}/pause");
                Assert.True(paused == HttpStatusCode.OK, body.ToString());
                var (resumed, again) = await g.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{second}/resume", "{}");
                Assert.True(resumed == HttpStatusCode.OK, again.ToString());
                await AssertHomeAsync(g, second);
            }
            await g.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{first}");
            await g.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{second}");

            // A damaged image (same size, other bytes) is never booted: it is made again from the layer.
            await using (var damage = new FileStream(file, FileMode.Open, FileAccess.Write))
            {
                damage.Position = damage.Length - 4096;
                damage.Write(new byte[512]);
            }
            Assert.NotEqual(manifest["sha256"], Sha256(file));
            var third = await g.CreateAsync("""{"template":"img-demo"}""");
            await AssertHomeAsync(g, third);
            var remade = Manifest(image);
            Assert.NotEqual(manifest["built_at"], remade["built_at"]);
            Assert.Equal(manifest["sha256"], remade["sha256"]);      // the same inputs give the same bytes
            Assert.Equal(remade["sha256"], Sha256(file));
            await g.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{third}");

            // Deleting the template removes its boot images with its layer.
            var (deleted, _) = await g.SendAsync(HttpMethod.Delete, $"/v1/templates/{templateId}");
            Assert.Equal(HttpStatusCode.OK, deleted);
            Assert.False(Directory.Exists(images));
        }
        finally { Directory.Delete(staging, true); }
    }

    private static async Task AssertHomeAsync(SandboxGateway g, string id)
    {
        // The package the layer installed imports in the runtime's context, which runs in the workdir with the env.
        var r = await g.ExecAsync(id, "import os, agwimg\nprint(os.getcwd(), os.environ['MODE'], open('out.txt').read().strip(), agwimg.answer())");
        Assert.Equal("/home/user/app vm built in the vm 42\n", r.GetProperty("stdout").GetString());
        // Owners and modes as the build left them, every file the sandbox user's; the symlink a symlink.
        var stat = await g.RunAsync(id, "cd /home/user/app && stat -c '%u:%g %a %F %n' /home/user /home/user/app out.txt link.txt data/deep/f; readlink link.txt");
        Assert.Equal("""
            1000:1000 755 directory /home/user
            1000:1000 755 directory /home/user/app
            1000:1000 640 regular file out.txt
            1000:1000 777 symbolic link link.txt
            1000:1000 644 regular file data/deep/f
            out.txt

            """.Replace("\r", ""), stat.GetProperty("stdout").GetString());
    }

    private static Dictionary<string, string> Manifest(string image) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(Path.Combine(image, "manifest.json")))!;

    private static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
