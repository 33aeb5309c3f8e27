using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Runtime;
using AgenticGateway.Services.E2b;
using AgenticGateway.Tests.Sandboxes;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// COPY in E2B's template build API: the official SDK's Template.build uploading its files through the signed links
/// (scripts in E2b/node), and on the wire what the links refuse (unsigned, forged, expired, too large), that one
/// owner's uploads are not another's, and archives whose entries would leave the upload.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bTemplateCopyTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    private HttpClient Client => e2b.Gateway.Server.Client;

    [Fact]
    public async Task The_sdk_builds_a_template_with_a_copied_file_and_directory_and_a_sandbox_starts_with_them()
    {
        var name = "copy-" + Guid.NewGuid().ToString("N")[..8];
        var r = await e2b.RunSdkJsonAsync("template-copy.mjs", new Dictionary<string, string> { ["TEMPLATE_NAME"] = name });

        var first = r.GetProperty("firstLogs").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains("Uploaded 'hello.txt'", first);
        Assert.Contains("Uploaded 'data'", first);
        Assert.Contains("read the copies", first);   // the RUN step's own output, from the build's logs
        // The same files again: the SDK's hashes are in this owner's cache, nothing is uploaded.
        var second = r.GetProperty("secondLogs").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains("Skipping upload of 'hello.txt', already cached", second);
        Assert.Contains("Skipping upload of 'data', already cached", second);
        Assert.DoesNotContain(second, l => l.StartsWith("Uploaded", StringComparison.Ordinal));
        Assert.Equal(r.GetProperty("templateId").GetString(), r.GetProperty("rebuiltTemplateId").GetString());

        Assert.Equal("hello from a copied file\n", r.GetProperty("hello").GetString());
        Assert.Equal("hello from a copied file\nalpha\nbeta\nran from the copied directory\n", r.GetProperty("combined").GetString());
        Assert.Equal(["a.txt", "nested", "run.sh"], r.GetProperty("data").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal("beta\n", r.GetProperty("nested").GetString());
        Assert.Equal("ran from the copied directory\n", r.GetProperty("runs").GetString());   // still executable
    }

    [Fact]
    public async Task Links_are_signed_for_their_owner_template_and_hash_and_uploads_are_the_owners_own()
    {
        var (templateId, buildId) = await RequestAsync("links-" + Guid.NewGuid().ToString("N")[..8]);
        var hash = NewHash();
        var (status, link) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.False(link.GetProperty("present").GetBoolean());
        var url = link.GetProperty("url").GetString()!;
        Assert.StartsWith($"{e2b.ApiUrl}/templates/{templateId}/files/{hash}?", url);
        var archive = Archive(("src/x.txt", "from the wire\n"));

        // Without the signature, with a forged one, or a valid one moved to another hash or owner: refused, E2B-shaped.
        await AssertRefusedAsync(url[..url.IndexOf('?')], archive, HttpStatusCode.Unauthorized);
        var signature = url[(url.IndexOf("signature=", StringComparison.Ordinal) + 10)..];
        var forged = (signature[0] == 'A' ? "B" : "A") + signature[1..];
        await AssertRefusedAsync(url.Replace(signature, forged), archive, HttpStatusCode.Forbidden);
        await AssertRefusedAsync(url.Replace(hash, NewHash()), archive, HttpStatusCode.Forbidden);
        var tag = url.Split("owner=")[1][..32];
        await AssertRefusedAsync(url.Replace(tag, new string('0', 32)), archive, HttpStatusCode.Forbidden);
        // A link that expired, signed with the gateway's own key (another instance on its data directory, an hour ago).
        var data = e2b.Gateway.Server.Services.GetRequiredService<RuntimeHolder>().Current.Options.Storage.DataDirectory;
        var past = new E2bTemplateFiles(data, 1 << 20, new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1)), NullLogger<E2bTemplateFiles>.Instance);
        var expired = await PutAsync($"{e2b.ApiUrl}/templates/{templateId}/files/{hash}?{past.Sign("admin", templateId, hash)}", archive);
        Assert.Equal(HttpStatusCode.Forbidden, expired.Status);
        Assert.Contains("expired", expired.Body.GetProperty("message").GetString());

        // The link itself needs no API key; afterwards the hash is present for this owner.
        var stored = await PutAsync(url, archive);
        Assert.Equal(HttpStatusCode.OK, stored.Status);
        (_, link) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
        Assert.True(link.GetProperty("present").GetBoolean());
        Assert.False(link.TryGetProperty("url", out _));

        // Another owner: not their template; on their own template the hash is not in their cache, and a build of theirs
        // naming it is refused rather than served from the first owner's upload.
        var other = await e2b.NewKeyAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}", key: other)).Status);
        var (theirs, theirBuild) = await RequestAsync("theirs-" + Guid.NewGuid().ToString("N")[..8], other);
        (_, link) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{theirs}/files/{hash}", key: other);
        Assert.False(link.GetProperty("present").GetBoolean());
        var (refused, why) = await SendAsync(HttpMethod.Post, $"/e2b/v2/templates/{theirs}/builds/{theirBuild}", Copy("src/x.txt", "/home/user/x.txt", hash), other);
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal(400, why.GetProperty("code").GetInt32());
        Assert.Contains("step 1: COPY src/x.txt: its files were not uploaded", why.GetProperty("message").GetString());

        // The owner's build takes the upload.
        var (started, body) = await SendAsync(HttpMethod.Post, $"/e2b/v2/templates/{templateId}/builds/{buildId}", Copy("src/x.txt", "/home/user/x.txt", hash));
        Assert.True(started == HttpStatusCode.Accepted, body.ToString());
        Assert.Equal("ready", await FinishedAsync(templateId, buildId));
    }

    [Fact]
    public async Task On_the_E2B_host_name_the_link_is_on_that_host_at_its_root()
    {
        async Task<(HttpStatusCode, JsonElement)> OnHostAsync(HttpMethod method, string pathAndQuery, HttpContent? content = null, bool key = true)
        {
            using var request = new HttpRequestMessage(method, pathAndQuery) { Content = content };
            request.Headers.Host = E2bFixture.Host;
            if (key) request.Headers.Add("X-API-KEY", SandboxGateway.Master);
            using var response = await Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone());
        }
        var (_, requested) = await OnHostAsync(HttpMethod.Post, "/v3/templates", new StringContent($$"""{"name":"host-{{Guid.NewGuid():N}}"}""", Encoding.UTF8, "application/json"));
        var templateId = requested.GetProperty("templateID").GetString()!;
        var hash = NewHash();
        var (status, link) = await OnHostAsync(HttpMethod.Get, $"/templates/{templateId}/files/{hash}");
        Assert.Equal(HttpStatusCode.Created, status);
        var url = new Uri(link.GetProperty("url").GetString()!);
        Assert.Equal($"http://{E2bFixture.Host}/templates/{templateId}/files/{hash}", url.GetLeftPart(UriPartial.Path));
        var (put, _) = await OnHostAsync(HttpMethod.Put, url.PathAndQuery, new ByteArrayContent(Archive(("a.txt", "a"))), key: false);
        Assert.Equal(HttpStatusCode.OK, put);
        // The same owner's cache, whichever way it is reached.
        Assert.True((await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}")).Body.GetProperty("present").GetBoolean());
    }

    [Fact]
    public async Task Archives_with_entries_leaving_the_upload_are_refused_and_forgotten()
    {
        var (templateId, buildId) = await RequestAsync("escape-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var (entry, expected) in new (TarEntry Entry, string Message)[]
        {
            (Entry("/etc/cron.d/x"), "'/etc/cron.d/x' is not a relative path inside the upload"),
            (Entry("../escape.txt"), "'../escape.txt' is not a relative path inside the upload"),
            (Entry("src/../../escape.txt"), "is not a relative path inside the upload"),
            (new PaxTarEntry(TarEntryType.SymbolicLink, "src/link") { LinkName = "/etc/shadow" }, "'src/link' is a SymbolicLink"),
            (new PaxTarEntry(TarEntryType.HardLink, "src/hard") { LinkName = "/etc/shadow" }, "'src/hard' is a HardLink"),
        })
        {
            var hash = NewHash();
            var (_, link) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
            using var buffer = new MemoryStream();
            await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            await using (var writer = new TarWriter(gzip, TarEntryFormat.Pax))
            {
                await writer.WriteEntryAsync(Entry("src/ok.txt"));
                await writer.WriteEntryAsync(entry);
            }
            Assert.Equal(HttpStatusCode.OK, (await PutAsync(link.GetProperty("url").GetString()!, buffer.ToArray())).Status);

            var (status, why) = await SendAsync(HttpMethod.Post, $"/e2b/v2/templates/{templateId}/builds/{buildId}", Copy("src", "/home/user/src", hash));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal(400, why.GetProperty("code").GetInt32());
            var message = why.GetProperty("message").GetString()!;
            Assert.StartsWith("step 1: COPY src: the uploaded archive was refused: ", message);
            Assert.Contains(expected, message);
            // Forgotten: the next build would upload it again.
            (_, link) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
            Assert.False(link.GetProperty("present").GetBoolean());
        }
        // Nothing was started by the refusals: the requested build is still waiting.
        Assert.Equal("waiting", (await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/builds/{buildId}/status")).Body.GetProperty("status").GetString());
        static PaxTarEntry Entry(string name) => new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream("x"u8.ToArray()) };
    }

    [Fact]
    public async Task Uploads_beyond_max_file_bytes_are_413_declared_or_streamed_and_links_expire()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await GatewayServer.StartAsync(
            $"master_key: {SandboxGateway.Master}\nmodels:\n  - {{name: gpt-4o, provider: mock}}\nsandboxes: {{pools: {{}}, max_file_bytes: 65536}}\n", time: clock);
        var (_, requested) = await Send(server, HttpMethod.Post, "/e2b/v3/templates", """{"name":"limits"}""");
        var templateId = requested.GetProperty("templateID").GetString()!;
        var hash = NewHash();
        var (_, link) = await Send(server, HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
        var url = link.GetProperty("url").GetString()!;
        Assert.StartsWith(server.Url.TrimEnd('/') + "/e2b/templates/", url);

        var large = RandomNumberGenerator.GetBytes(80 * 1024);
        var declared = await PutAsync(url, large, server.Client);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.Status);
        Assert.Equal(413, declared.Body.GetProperty("code").GetInt32());
        var streamed = await PutAsync(url, large, server.Client, chunked: true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.Status);
        (_, link) = await Send(server, HttpMethod.Get, $"/e2b/templates/{templateId}/files/{hash}");
        Assert.False(link.GetProperty("present").GetBoolean());   // nothing kept of either

        var fits = await PutAsync(url, large[..(64 * 1024)], server.Client, chunked: true);
        Assert.True(fits.Status == HttpStatusCode.OK, fits.Body.ToString());
        clock.Advance(E2bTemplateFiles.LinkLifetime + TimeSpan.FromSeconds(1));
        var late = await PutAsync(url, large[..1024], server.Client);
        Assert.Equal(HttpStatusCode.Forbidden, late.Status);
        Assert.Contains("expired", late.Body.GetProperty("message").GetString());
    }

    private static string NewHash() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static string Copy(string source, string destination, string hash) =>
        $$"""{"fromTemplate":"base","steps":[{"type":"COPY","args":["{{source}}","{{destination}}","",""],"filesHash":"{{hash}}","force":false}]}""";

    private static byte[] Archive(params (string Name, string Text)[] files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax))
            foreach (var (name, text) in files)
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) });
        return buffer.ToArray();
    }

    private async Task<(string TemplateId, string BuildId)> RequestAsync(string name, string key = SandboxGateway.Master)
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "/e2b/v3/templates", $$"""{"name":"{{name}}"}""", key);
        Assert.True(status == HttpStatusCode.Accepted, body.ToString());
        return (body.GetProperty("templateID").GetString()!, body.GetProperty("buildID").GetString()!);
    }

    private async Task<string> FinishedAsync(string templateId, string buildId)
    {
        var until = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var (_, info) = await SendAsync(HttpMethod.Get, $"/e2b/templates/{templateId}/builds/{buildId}/status");
            var status = info.GetProperty("status").GetString()!;
            if (status is not ("building" or "waiting") || DateTime.UtcNow > until) return status == "error" ? info.ToString() : status;
            await Task.Delay(200);
        }
    }

    private async Task AssertRefusedAsync(string url, byte[] archive, HttpStatusCode expected)
    {
        var (status, body) = await PutAsync(url, archive);
        Assert.Equal(expected, status);
        Assert.Equal((int)expected, body.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json = null, string key = SandboxGateway.Master) =>
        Send(e2b.Gateway.Server, method, path, json, key);

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Send(GatewayServer server, HttpMethod method, string path, string? json = null, string key = SandboxGateway.Master)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Add("X-API-KEY", key);
        using var response = await server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone());
    }

    /// <summary>A PUT as the SDK makes it: no API key, the archive as the body (with its length, or chunked).</summary>
    private async Task<(HttpStatusCode Status, JsonElement Body)> PutAsync(string url, byte[] body, HttpClient? client = null, bool chunked = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, url)
        {
            Content = chunked ? new StreamContent(new UnknownLength(body)) : new ByteArrayContent(body),
        };
        using var response = await (client ?? Client).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone());
    }

    /// <summary>A body whose length is not known up front, so it goes chunked.</summary>
    private sealed class UnknownLength(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
