using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Sandboxes.Templates;

/// <summary>
/// Templates built for real: in a bubblewrap sandbox of the base runtime, with files uploaded for COPY and a package
/// from the local package cache (no network), then sandboxes started from them.
/// </summary>
[Trait("Category", "sandbox")]
public class TemplateBuildTests
{
    private const string Dockerfile = """
        FROM python
        ENV GREETING=hello
        WORKDIR app
        COPY data.txt ./data.txt
        COPY src lib/
        RUN echo "$GREETING from the build" > out.txt && python3 -c "import agwdemo; print('built with', agwdemo.answer())"
        ENV PATH=$PATH:/home/user/app/bin
        """;

    [Fact]
    public async Task A_dockerfile_build_gives_sandboxes_its_files_env_workdir_packages_and_start_command_and_a_rebuild_is_a_cache_hit()
    {
        var cache = Directory.CreateTempSubdirectory("agw-wheels-").FullName;
        SandboxLifecycleTests.BuildWheel(Path.Combine(cache, "agwdemo-1.2.0-py3-none-any.whl"), "agwdemo", "1.2.0", "def answer():\n    return 42\n");
        AgenticGateway.Sandboxes.UnixFiles.SetMode(cache, AgenticGateway.Sandboxes.UnixFiles.WorldTraversable);
        await using var g = await SandboxGateway.StartAsync($"pools: {{}}, package_cache: {cache}");
        try
        {
            var spec = """{"name":"demo","packages":["agwdemo==1.2.0"],"start_command":"echo started > /tmp/started.txt && sleep 300"}""";
            var (status, build) = await BuildAsync(g, spec, Dockerfile);
            Assert.True(status == HttpStatusCode.Accepted, build.ToString());
            var templateId = build.GetProperty("template_id").GetString()!;
            var done = await WaitAsync(g, templateId, build.GetProperty("build_id").GetString()!);
            Assert.True(done.GetProperty("status").GetString() == "ready", done.ToString());
            Assert.False(done.GetProperty("cached").GetBoolean());
            var log = string.Join("\n", done.GetProperty("logs").EnumerateArray().Select(l => l.GetProperty("message").GetString()));
            Assert.Contains("step 5/6 (line 6): RUN", log);
            Assert.Contains("built with 42", log);

            // A sandbox from the template: the layer in its home, the template's env and workdir, the package importable.
            var id = await g.CreateAsync("""{"template":"demo"}""");
            var r = await g.ExecAsync(id, "import os, agwdemo\nprint(os.getcwd(), os.environ['GREETING'], open('out.txt').read().strip(), open('data.txt').read(), agwdemo.answer())");
            Assert.Equal("/home/user/app hello hello from the build payload 42\n", r.GetProperty("stdout").GetString());
            var cmd = await g.RunAsync(id, "pwd; echo $GREETING; cat lib/mod.py; echo $PATH; cat /tmp/started.txt");
            Assert.Equal("/home/user/app\nhello\nVALUE = 7\n/usr/local/bin:/usr/bin:/bin:/home/user/app/bin\nstarted\n", cmd.GetProperty("stdout").GetString());
            var (_, described) = await g.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
            Assert.Equal("demo", described.GetProperty("template").GetString());
            // The request's own env wins over the template's.
            var other = await g.CreateAsync("""{"template":"demo","env":{"GREETING":"bye"}}""");
            Assert.Equal("bye\n", (await g.RunAsync(other, "echo $GREETING")).GetProperty("stdout").GetString());

            // The same spec and files again: the cached layer, no build sandbox.
            var manager = g.Server.Services.GetRequiredService<AgenticGateway.Sandboxes.SandboxManager>();
            var active = manager.Active;
            var (again, rebuild) = await BuildAsync(g, spec, Dockerfile);
            Assert.Equal(HttpStatusCode.Accepted, again);
            Assert.Equal(templateId, rebuild.GetProperty("template_id").GetString());
            var cached = await WaitAsync(g, templateId, rebuild.GetProperty("build_id").GetString()!);
            Assert.Equal("ready", cached.GetProperty("status").GetString());
            Assert.True(cached.GetProperty("cached").GetBoolean());
            Assert.Equal(done.GetProperty("digest").GetString(), cached.GetProperty("digest").GetString());
            Assert.Equal(active, manager.Active);
            // A cached layer damaged on disk is not served: the next build of it builds it again.
            var layer = Path.Combine(g.Server.Services.GetRequiredService<AgenticGateway.Sandboxes.Templates.TemplateStore>().Staging, "..", "layers", done.GetProperty("digest").GetString()!, "layer.tar");
            await File.AppendAllTextAsync(layer, "tampered");
            var (_, repaired) = await BuildAsync(g, spec, Dockerfile);
            var rebuilt = await WaitAsync(g, templateId, repaired.GetProperty("build_id").GetString()!);
            Assert.Equal("ready", rebuilt.GetProperty("status").GetString());
            Assert.False(rebuilt.GetProperty("cached").GetBoolean());
            Assert.Contains(rebuilt.GetProperty("logs").EnumerateArray(), l => l.GetProperty("message").GetString()!.Contains("does not match its manifest", StringComparison.Ordinal));
            // A changed upload is another layer.
            var (_, changed) = await BuildAsync(g, spec, Dockerfile, data: "other");
            Assert.NotEqual(done.GetProperty("digest").GetString(), changed.GetProperty("digest").GetString());
            var (_, t) = await g.SendAsync(HttpMethod.Get, $"/v1/templates/{templateId}");
            Assert.Equal(4, t.GetProperty("build_count").GetInt32());
            Assert.Equal(4, t.GetProperty("builds").GetArrayLength());
        }
        finally { Directory.Delete(cache, true); }
    }

    [Fact]
    public async Task A_failing_step_fails_the_build_with_its_line_and_says_the_build_has_no_network()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        var (status, build) = await g.PostAsync("/v1/templates", JsonSerializer.Serialize(new
        {
            name = "fetch",
            dockerfile = "FROM python\nRUN echo first\nRUN python3 -c \"import urllib.request; urllib.request.urlopen('http://example.com', timeout=5)\"\nRUN echo never",
        }));
        Assert.Equal(HttpStatusCode.Accepted, status);
        var done = await WaitAsync(g, build.GetProperty("template_id").GetString()!, build.GetProperty("build_id").GetString()!);
        Assert.Equal("error", done.GetProperty("status").GetString());
        var error = done.GetProperty("error");
        Assert.Equal(3, error.GetProperty("line").GetInt32());
        Assert.Contains("line 3: RUN exited with code 1", error.GetProperty("message").GetString());
        Assert.Contains("no network", error.GetProperty("message").GetString());
        Assert.DoesNotContain(done.GetProperty("logs").EnumerateArray(), l => l.GetProperty("message").GetString()!.Contains("never", StringComparison.Ordinal));
        // No successful build: a sandbox cannot start from it yet; the build sandbox is gone.
        var (refused, body) = await g.PostAsync("/v1/sandboxes", """{"template":"fetch"}""");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("template_not_ready", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, g.Server.Services.GetRequiredService<AgenticGateway.Sandboxes.SandboxManager>().Active);
        // A COPY of a file that was not uploaded is refused before any build starts.
        var (missing, why) = await g.PostAsync("/v1/templates", """{"name":"m","dockerfile":"FROM python\nCOPY nothing.txt ."}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Contains("line 2: COPY nothing.txt: no such file", why.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Templates_are_scoped_to_their_owner_and_the_master_keys_public_ones_serve_everyone()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        var alice = await g.NewKeyAsync();
        var bob = await g.NewKeyAsync();
        var declarative = """{"name":"mine","runtime":"bash","env":{"WHO":"alice"},"files":{"note.txt":"private"}}""";
        var (status, build) = await g.PostAsync("/v1/templates", declarative, alice);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var id = build.GetProperty("template_id").GetString()!;
        Assert.Equal("ready", (await WaitAsync(g, id, build.GetProperty("build_id").GetString()!, alice)).GetProperty("status").GetString());

        // Bob neither sees, reads, uses nor deletes it (404 or "unknown", never "forbidden").
        var (_, list) = await g.SendAsync(HttpMethod.Get, "/v1/templates", key: bob);
        Assert.Empty(list.GetProperty("data").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await g.SendAsync(HttpMethod.Get, $"/v1/templates/{id}", key: bob)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await g.SendAsync(HttpMethod.Get, $"/v1/templates/mine/builds/{build.GetProperty("build_id").GetString()}", key: bob)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await g.SendAsync(HttpMethod.Delete, $"/v1/templates/{id}", key: bob)).Status);
        var (use, refusal) = await g.PostAsync("/v1/sandboxes", """{"template":"mine"}""", bob);
        Assert.Equal(HttpStatusCode.BadRequest, use);
        Assert.Equal("template", refusal.GetProperty("error").GetProperty("param").GetString());
        // Bob's template of the same name is his own.
        var (_, bobs) = await g.PostAsync("/v1/templates", """{"name":"mine","runtime":"bash","env":{"WHO":"bob"}}""", bob);
        Assert.NotEqual(id, bobs.GetProperty("template_id").GetString());
        await WaitAsync(g, bobs.GetProperty("template_id").GetString()!, bobs.GetProperty("build_id").GetString()!, bob);
        var bobBox = await g.CreateAsync("""{"template":"mine"}""", bob);
        Assert.Equal("bob\n", (await g.RunAsync(bobBox, "echo $WHO", key: bob)).GetProperty("stdout").GetString());
        var aliceBox = await g.CreateAsync("""{"template":"mine"}""", alice);
        Assert.Equal("alice private\n", (await g.RunAsync(aliceBox, "echo $WHO $(cat note.txt)", key: alice)).GetProperty("stdout").GetString());

        // Only the master key builds public templates; everyone may start sandboxes from them but not delete them.
        var (denied, _) = await g.PostAsync("/v1/templates", """{"name":"shared","runtime":"bash","public":true}""", alice);
        Assert.Equal(HttpStatusCode.Forbidden, denied);
        var (_, shared) = await g.PostAsync("/v1/templates", """{"name":"shared","runtime":"bash","public":true,"files":{"hello.txt":"public"}}""");
        var sharedId = shared.GetProperty("template_id").GetString()!;
        await WaitAsync(g, sharedId, shared.GetProperty("build_id").GetString()!);
        var (_, aliceList) = await g.SendAsync(HttpMethod.Get, "/v1/templates", key: alice);
        Assert.Equal(["mine", "shared"], aliceList.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).Order().ToArray());
        var fromShared = await g.CreateAsync("""{"template":"shared"}""", bob);
        Assert.Equal("public", (await g.RunAsync(fromShared, "cat hello.txt", key: bob)).GetProperty("stdout").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await g.SendAsync(HttpMethod.Delete, $"/v1/templates/{sharedId}", key: bob)).Status);

        // Built-in names cannot be taken; the owner deletes theirs, and it is gone.
        var (builtIn, _) = await g.PostAsync("/v1/templates", """{"name":"code-interpreter-v1","runtime":"python"}""");
        Assert.Equal(HttpStatusCode.BadRequest, builtIn);
        Assert.Equal(HttpStatusCode.OK, (await g.SendAsync(HttpMethod.Delete, "/v1/templates/mine", key: alice)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await g.SendAsync(HttpMethod.Get, $"/v1/templates/{id}", key: alice)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await g.PostAsync("/v1/sandboxes", """{"template":"mine"}""", alice)).Status);
    }

    [Fact]
    public async Task Bad_build_requests_get_a_400_never_a_500()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        foreach (var (body, type, expected) in new[]
        {
            ("name: t\nruntime: [", "application/yaml", "body: "),
            ("""{"name":"t","dockerfile":"FROM python\nSHELL [\"/bin/sh\"]"}""", "application/json", "line 2: SHELL is not supported"),
            ("{", "application/json", ""),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/templates") { Content = new StringContent(body, Encoding.UTF8, type) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await g.Server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(expected, await response.Content.ReadAsStringAsync());
        }
        // A tar with a path escape in the upload.
        using var form = new MultipartFormDataContent
        {
            { new StringContent("""{"name":"t"}"""), "spec" },
            { new StringContent("FROM python\nCOPY . ."), "dockerfile" },
        };
        var tar = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(tar, leaveOpen: true))
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "../../etc/cron.d/x") { DataStream = new MemoryStream([1]) });
        form.Add(new ByteArrayContent(tar.ToArray()), "context", "context.tar");
        using var upload = new HttpRequestMessage(HttpMethod.Post, "/v1/templates") { Content = form };
        upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var refused = await g.Server.Client.SendAsync(upload);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("is not a relative path inside the upload", await refused.Content.ReadAsStringAsync());
    }

    /// <summary>POST /v1/templates as multipart: the spec, the Dockerfile, a file part and a tar part.</summary>
    internal static async Task<(HttpStatusCode, JsonElement)> BuildAsync(SandboxGateway g, string spec, string dockerfile, string data = "payload")
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent(spec), "spec" },
            { new StringContent(dockerfile), "dockerfile" },
            { new StringContent(data), "file", "data.txt" },
        };
        var tar = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(tar, leaveOpen: true))
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "src/mod.py") { DataStream = new MemoryStream("VALUE = 7\n"u8.ToArray()) });
        form.Add(new ByteArrayContent(tar.ToArray()), "context", "context.tar");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/templates") { Content = form };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var response = await g.Server.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>Polls the build until it is no longer building (within two minutes, or <paramref name="minutes"/>).</summary>
    internal static async Task<JsonElement> WaitAsync(SandboxGateway g, string templateId, string buildId, string key = SandboxGateway.Master, int minutes = 2)
    {
        var until = DateTime.UtcNow.AddMinutes(minutes);
        while (true)
        {
            var (status, body) = await g.SendAsync(HttpMethod.Get, $"/v1/templates/{templateId}/builds/{buildId}", key: key);
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            if (body.GetProperty("status").GetString() != "building") return body;
            Assert.True(DateTime.UtcNow < until, $"the build did not finish in {minutes} minutes: " + body);
            await Task.Delay(100);
        }
    }
}
