using System.Net;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// The /e2b REST API and code interpreter on the wire, where the SDKs hide it: E2B's error shape, pages, logs, the
/// interpreter's JSON lines, and the headers that name a sandbox and its service.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bRestApiTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    private HttpClient Client => e2b.Gateway.Server.Client;

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? json = null, string? key = Sandboxes.SandboxGateway.Master)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (key is not null) request.Headers.Add("X-API-KEY", key);
        var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone(), response);
    }

    private async Task<(string Id, string Token)> CreateAsync(string json = """{"templateID":"code-interpreter-v1","timeout":120}""")
    {
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/e2b/sandboxes", json);
        Assert.True(status == HttpStatusCode.Created, body.ToString());
        return (body.GetProperty("sandboxID").GetString()!, body.GetProperty("envdAccessToken").GetString()!);
    }

    [Fact]
    public async Task Errors_are_E2B_shaped_with_their_status()
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, "/e2b/v2/sandboxes", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(401, body.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));

        (status, body, _) = await SendAsync(HttpMethod.Get, "/e2b/sandboxes/sb-00000000000000000000");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(404, body.GetProperty("code").GetInt32());

        (status, body, _) = await SendAsync(HttpMethod.Post, "/e2b/v2/sandboxes", """{"templateID":"desktop"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(400, body.GetProperty("code").GetInt32());
        Assert.Contains("code-interpreter-v1", body.GetProperty("message").GetString());

        (status, _, _) = await SendAsync(HttpMethod.Get, "/e2b/v2/sandboxes?state=sleeping");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task On_its_own_host_name_the_API_answers_without_the_prefix()
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v2/sandboxes") { Content = new StringContent("""{"templateID":"base"}""", Encoding.UTF8, "application/json") };
        create.Headers.Host = E2bFixture.Host;
        create.Headers.Add("X-API-KEY", Sandboxes.SandboxGateway.Master);
        using var created = await Client.SendAsync(create);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Assert.True(created.StatusCode == HttpStatusCode.Created, body.ToString());
        var id = body.GetProperty("sandboxID").GetString()!;
        try
        {
            using var get = new HttpRequestMessage(HttpMethod.Get, $"/sandboxes/{id}");
            get.Headers.Host = E2bFixture.Host;
            get.Headers.Add("X-API-KEY", Sandboxes.SandboxGateway.Master);
            using var got = await Client.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, got.StatusCode);
            Assert.Equal("running", JsonDocument.Parse(await got.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());

            // Elsewhere only under the prefix.
            var (status, _, _) = await SendAsync(HttpMethod.Get, $"/sandboxes/{id}");
            Assert.Equal(HttpStatusCode.NotFound, status);
            (status, _, _) = await SendAsync(HttpMethod.Get, $"/e2b/sandboxes/{id}");
            Assert.Equal(HttpStatusCode.OK, status);
        }
        finally
        {
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
        }
    }

    [Fact]
    public async Task The_v2_list_pages_with_X_Next_Token_and_counts_running_sandboxes()
    {
        var tag = Guid.NewGuid().ToString("N");
        var json = """{"templateID":"base","metadata":{"page":"TAG"}}""".Replace("TAG", tag);
        var a = await CreateAsync(json);
        var b = await CreateAsync(json);
        try
        {
            var filter = Uri.EscapeDataString($"page={tag}");
            var (status, page1, response) = await SendAsync(HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={filter}&limit=1&order=asc");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(a.Id, Assert.Single(page1.EnumerateArray()).GetProperty("sandboxID").GetString());
            Assert.Equal("2", response.Headers.GetValues("X-Total-Running").Single());
            var next = response.Headers.GetValues("X-Next-Token").Single();
            (status, var page2, response) = await SendAsync(HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={filter}&limit=1&order=asc&nextToken={next}");
            Assert.Equal(b.Id, Assert.Single(page2.EnumerateArray()).GetProperty("sandboxID").GetString());
            Assert.False(response.Headers.Contains("X-Next-Token"));
        }
        finally
        {
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{a.Id}");
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{b.Id}");
        }
    }

    [Fact]
    public async Task Logs_tell_the_lifecycle_and_refreshes_only_extend()
    {
        var (id, _) = await CreateAsync();
        try
        {
            var (status, _, _) = await SendAsync(HttpMethod.Post, $"/e2b/sandboxes/{id}/timeout", """{"timeout":300}""");
            Assert.Equal(HttpStatusCode.NoContent, status);
            (_, var before, _) = await SendAsync(HttpMethod.Get, $"/e2b/sandboxes/{id}");
            (status, _, _) = await SendAsync(HttpMethod.Post, $"/e2b/sandboxes/{id}/refreshes", """{"duration":10}""");
            Assert.Equal(HttpStatusCode.NoContent, status);
            (_, var after, _) = await SendAsync(HttpMethod.Get, $"/e2b/sandboxes/{id}");
            Assert.Equal(before.GetProperty("endAt").GetDateTimeOffset(), after.GetProperty("endAt").GetDateTimeOffset());

            (status, var logs, _) = await SendAsync(HttpMethod.Get, $"/e2b/v2/sandboxes/{id}/logs");
            Assert.Equal(HttpStatusCode.OK, status);
            var messages = logs.GetProperty("logs").EnumerateArray().Select(e => e.GetProperty("message").GetString()!).ToList();
            Assert.StartsWith("Sandbox created from template code-interpreter-v1", messages[0]);
            Assert.Contains(messages, m => m.StartsWith("Timeout set to 300 s", StringComparison.Ordinal));
            (_, logs, _) = await SendAsync(HttpMethod.Get, $"/e2b/v2/sandboxes/{id}/logs?search=Timeout");
            Assert.Single(logs.GetProperty("logs").EnumerateArray());
        }
        finally
        {
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
        }
    }

    [Fact]
    public async Task Execute_streams_json_lines_ending_with_the_count_and_end_of_execution()
    {
        var (id, token) = await CreateAsync();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/e2b/execute")
            {
                Content = new StringContent("""{"code":"print('hi')\n6 * 7"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("E2b-Sandbox-Id", id);
            request.Headers.Add("E2b-Sandbox-Port", "49999");
            request.Headers.Add("X-Access-Token", token);
            using var response = await Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Equal(["stdout", "result", "number_of_executions", "end_of_execution"], lines.Select(l => l.GetProperty("type").GetString()!));
            Assert.Equal("hi\n", lines[0].GetProperty("text").GetString());
            Assert.Equal("42", lines[1].GetProperty("text").GetString());
            Assert.True(lines[1].GetProperty("is_main_result").GetBoolean());
            Assert.Equal(1, lines[2].GetProperty("execution_count").GetInt32());
        }
        finally
        {
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
        }
    }

    [Theory]
    [InlineData("49983", null, 502)]
    [InlineData("49999", "wrong", 401)]
    [InlineData("49999", "", 401)]
    public async Task Execute_refuses_another_port_and_a_wrong_or_missing_token(string port, string? tokenOverride, int expected)
    {
        var (id, token) = await CreateAsync();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/e2b/execute") { Content = new StringContent("""{"code":"1"}""", Encoding.UTF8, "application/json") };
            request.Headers.Add("E2b-Sandbox-Id", id);
            request.Headers.Add("E2b-Sandbox-Port", port);
            var sent = tokenOverride ?? token;
            if (sent.Length > 0) request.Headers.Add("X-Access-Token", sent);
            using var response = await Client.SendAsync(request);
            Assert.Equal(expected, (int)response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(expected, body.GetProperty("code").GetInt32());
        }
        finally
        {
            await SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
        }
    }
}
