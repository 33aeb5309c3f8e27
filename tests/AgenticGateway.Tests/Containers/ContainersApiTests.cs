using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Sandboxes;

namespace AgenticGateway.Tests.Containers;

/// <summary>A sandbox gateway whose sandbox time has a price: what the containers and code interpreter tests share.</summary>
public sealed class ContainersGatewayFixture : IAsyncLifetime
{
    public const decimal CostPerSecond = 0.5m;

    internal SandboxGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Gateway = await SandboxGateway.StartAsync($"pools: {{python: {{min_ready: 1, max_total: 30}}}}, cost_per_second: {CostPerSecond}");

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>OpenAI's Containers API (and its files) on real sandboxes, in openai-node's shapes, scoped to the caller.</summary>
[Trait("Category", "sandbox")]
public class ContainersApiTests(ContainersGatewayFixture fixture) : IClassFixture<ContainersGatewayFixture>
{
    private SandboxGateway G => fixture.Gateway;

    private async Task<JsonElement> CreateAsync(string json, string key = SandboxGateway.Master)
    {
        var (status, body) = await G.PostAsync("/v1/containers", json, key);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        return body;
    }

    [Fact]
    public async Task Create_retrieve_list_and_delete_in_openais_shapes()
    {
        var created = await CreateAsync("""{"name":"analysis","expires_after":{"anchor":"last_active_at","minutes":5}}""");
        var id = created.GetProperty("id").GetString()!;
        Assert.Matches("^cntr_[0-9a-f]{20}$", id);
        Assert.Equal("container", created.GetProperty("object").GetString());
        Assert.Equal("analysis", created.GetProperty("name").GetString());
        Assert.Equal("running", created.GetProperty("status").GetString());
        Assert.Equal("last_active_at", created.GetProperty("expires_after").GetProperty("anchor").GetString());
        Assert.Equal(5, created.GetProperty("expires_after").GetProperty("minutes").GetInt32());
        Assert.Equal("disabled", created.GetProperty("network_policy").GetProperty("type").GetString());
        Assert.InRange(created.GetProperty("created_at").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);

        // The idle expiry is the sandbox's own timeout: the same sandbox, seen through the sandbox API, expires in 5 minutes.
        var (status, sandbox) = await G.SendAsync(HttpMethod.Get, "/v1/sandboxes/sb-" + id["cntr_".Length..]);
        Assert.Equal(HttpStatusCode.OK, status);
        var lifetime = sandbox.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow;
        Assert.InRange(lifetime.TotalMinutes, 4, 5.1);
        Assert.Equal("none", sandbox.GetProperty("network").GetString());

        var (getStatus, got) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}");
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal(id, got.GetProperty("id").GetString());
        Assert.True(got.GetProperty("last_active_at").GetInt64() >= got.GetProperty("created_at").GetInt64());

        // A sandbox made through the sandbox API is not a container.
        var plain = await G.CreateAsync();
        var (listStatus, list) = await G.SendAsync(HttpMethod.Get, "/containers?order=asc&limit=100");   // the path without /v1, as LiteLLM serves it
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.Equal("list", list.GetProperty("object").GetString());
        var ids = list.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList();
        Assert.Contains(id, ids);
        Assert.DoesNotContain("cntr_" + plain["sb-".Length..], ids);
        var (plainStatus, _) = await G.SendAsync(HttpMethod.Get, "/v1/containers/cntr_" + plain["sb-".Length..]);
        Assert.Equal(HttpStatusCode.NotFound, plainStatus);

        var (deleteStatus, deleted) = await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{id}");
        Assert.Equal(HttpStatusCode.OK, deleteStatus);
        Assert.Equal("""{"id":"%s","object":"container.deleted","deleted":true}""".Replace("%s", id), deleted.GetRawText());
        var (goneStatus, gone) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}");
        Assert.Equal(HttpStatusCode.NotFound, goneStatus);
        Assert.Equal("container_not_found", gone.GetProperty("error").GetProperty("code").GetString());
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{plain}");
    }

    [Fact]
    public async Task Another_keys_container_is_a_404_and_not_listed()
    {
        var alice = await G.NewKeyAsync();
        var bob = await G.NewKeyAsync();
        var id = (await CreateAsync("""{"name":"alice's"}""", alice)).GetProperty("id").GetString()!;

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/v1/containers/{id}"), (HttpMethod.Delete, $"/v1/containers/{id}"),
            (HttpMethod.Get, $"/v1/containers/{id}/files"), (HttpMethod.Get, $"/v1/containers/{id}/files/cfile_00000000000000000000000000000000/content"),
        })
        {
            var (status, body) = await G.SendAsync(method, path, key: bob);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path}: {status} {body}");
            Assert.Equal("container_not_found", body.GetProperty("error").GetProperty("code").GetString());
        }
        var (_, list) = await G.SendAsync(HttpMethod.Get, "/v1/containers", key: bob);
        Assert.Empty(list.GetProperty("data").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, list.GetProperty("first_id").ValueKind);
        Assert.False(list.GetProperty("has_more").GetBoolean());

        var (aliceStatus, _) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}", key: alice);
        Assert.Equal(HttpStatusCode.OK, aliceStatus);
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{id}", key: alice);
    }

    [Fact]
    public async Task The_list_pages_with_after_limit_order_and_name()
    {
        var key = await G.NewKeyAsync();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await CreateAsync($$"""{"name":"{{(i == 1 ? "odd" : "even")}}"}""", key)).GetProperty("id").GetString()!);
            await Task.Delay(1100);   // created_at is in seconds: distinct seconds make the order certain
        }
        var (_, first) = await G.SendAsync(HttpMethod.Get, "/v1/containers?limit=2", key: key);
        Assert.Equal(new[] { ids[2], ids[1] }, first.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(ids[2], first.GetProperty("first_id").GetString());
        Assert.Equal(ids[1], first.GetProperty("last_id").GetString());
        Assert.True(first.GetProperty("has_more").GetBoolean());
        var (_, second) = await G.SendAsync(HttpMethod.Get, $"/v1/containers?limit=2&after={ids[1]}", key: key);
        Assert.Equal(new[] { ids[0] }, second.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToArray());
        Assert.False(second.GetProperty("has_more").GetBoolean());
        var (_, ascending) = await G.SendAsync(HttpMethod.Get, "/v1/containers?order=asc", key: key);
        Assert.Equal(ids, ascending.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList());
        var (_, named) = await G.SendAsync(HttpMethod.Get, "/v1/containers?name=odd", key: key);
        Assert.Equal(new[] { ids[1] }, named.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToArray());

        foreach (var (query, param) in new[] { ("limit=0", "limit"), ("limit=101", "limit"), ("order=up", "order"), ("after=cntr_nope", "after") })
        {
            var (status, body) = await G.SendAsync(HttpMethod.Get, "/v1/containers?" + query, key: key);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        }
        foreach (var id in ids) await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{id}", key: key);
    }

    [Fact]
    public async Task Bad_creates_get_openai_shaped_400s()
    {
        foreach (var (json, param) in new[]
        {
            ("""{"expires_after":{"anchor":"last_active_at","minutes":5}}""", "name"),
            ("""{"name":"n","file_ids":["file-123"]}""", "file_ids"),
            ("""{"name":"n","memory_limit":"64g"}""", "memory_limit"),     // more than sandboxes.max.memory_mb
            ("""{"name":"n","network_policy":{"type":"allowlist","allowed_domains":["127.0.0.1"]}}""", "network_policy.allowed_domains"),   // an address, never a name the proxy resolves
        })
        {
            var (status, body) = await G.PostAsync("/v1/containers", json);
            Assert.True(status == HttpStatusCode.BadRequest, $"{json}: {status} {body}");
            var error = body.GetProperty("error");
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        }
        var (s, b) = await G.PostAsync("/v1/containers", "[1,2]");
        Assert.Equal(HttpStatusCode.BadRequest, s);
        Assert.True(b.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Files_upload_list_retrieve_download_and_delete()
    {
        var id = (await CreateAsync("""{"name":"files"}""")).GetProperty("id").GetString()!;
        var bytes = Encoding.UTF8.GetBytes("city,temp\nOslo,3\nLima,19\n");
        using var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(bytes);
        part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(part, "file", "weather.csv");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/containers/{id}/files") { Content = form };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var response = await G.Server.Client.SendAsync(request);
        var uploaded = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(response.StatusCode == HttpStatusCode.OK, uploaded.ToString());
        var fileId = uploaded.GetProperty("id").GetString()!;
        Assert.Matches("^cfile_[0-9a-f]{32}$", fileId);
        Assert.Equal("container.file", uploaded.GetProperty("object").GetString());
        Assert.Equal(id, uploaded.GetProperty("container_id").GetString());
        Assert.Equal("/home/user/weather.csv", uploaded.GetProperty("path").GetString());
        Assert.Equal(bytes.Length, uploaded.GetProperty("bytes").GetInt64());
        Assert.Equal("user", uploaded.GetProperty("source").GetString());

        // Code sees the upload in its working directory, and what it writes is a container file too.
        var sandbox = "sb-" + id["cntr_".Length..];
        var run = await G.ExecAsync(sandbox, "print(open('weather.csv').read().count('\\n')); open('out.txt','w').write('done'); import os; os.makedirs('.hidden', exist_ok=True); open('.hidden/x','w').write('x')");
        Assert.Equal("3\n", run.GetProperty("stdout").GetString());

        var (listStatus, list) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}/files?order=asc");
        Assert.Equal(HttpStatusCode.OK, listStatus);
        var files = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(new[] { "/home/user/out.txt", "/home/user/weather.csv" }, files.Select(f => f.GetProperty("path").GetString()!).Order().ToArray());
        var written = files.Single(f => f.GetProperty("path").GetString() == "/home/user/out.txt");
        Assert.Equal("assistant", written.GetProperty("source").GetString());

        var (getStatus, got) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}/files/{fileId}");
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal(uploaded.GetRawText(), got.GetRawText());

        using var download = new HttpRequestMessage(HttpMethod.Get, $"/v1/containers/{id}/files/{fileId}/content");
        download.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
        using var content = await G.Server.Client.SendAsync(download);
        Assert.Equal(HttpStatusCode.OK, content.StatusCode);
        Assert.Equal(bytes, await content.Content.ReadAsByteArrayAsync());

        var (deleteStatus, deleted) = await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{id}/files/{fileId}");
        Assert.Equal(HttpStatusCode.OK, deleteStatus);
        Assert.Equal("container.file.deleted", deleted.GetProperty("object").GetString());
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        var (missingStatus, missing) = await G.SendAsync(HttpMethod.Get, $"/v1/containers/{id}/files/{fileId}");
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);
        Assert.Equal("file_not_found", missing.GetProperty("error").GetProperty("code").GetString());

        // OpenAI's other form copies a file of its Files API, which this gateway does not have.
        var (jsonStatus, jsonBody) = await G.PostAsync($"/v1/containers/{id}/files", """{"file_id":"file-abc"}""");
        Assert.Equal(HttpStatusCode.BadRequest, jsonStatus);
        Assert.Equal("file_id", jsonBody.GetProperty("error").GetProperty("param").GetString());
        await G.SendAsync(HttpMethod.Delete, $"/v1/containers/{id}");
    }
}
