using System.Net;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Hosts;

/// <summary>
/// E2B's surfaces across hosts, on the wire (no SDK): a sandbox created with E2B's REST API on host A is described,
/// driven through envd's Connect RPC and the code interpreter's NDJSON stream, paused, resumed and killed, all through
/// host B, which finds A by the sandbox's path or its E2b-Sandbox-Id header.
/// </summary>
[Trait("Category", "sandbox")]
[Collection(HostPair.Collection)]
public sealed class HostE2bTests(HostPairFixture fixture) : IClassFixture<HostPairFixture>
{
    private HostProcess A => fixture.Pair.A;
    private HostProcess B => fixture.Pair.B;

    private static async Task<(HttpStatusCode Status, string Text)> SendAsync(HostProcess host, HttpMethod method, string path, string? json = null,
        (string Id, string Token, string Port)? sandbox = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (sandbox is { } s)
        {
            request.Headers.Add("E2b-Sandbox-Id", s.Id);
            request.Headers.Add("E2b-Sandbox-Port", s.Port);
            request.Headers.Add("X-Access-Token", s.Token);
            request.Headers.Add("Connect-Protocol-Version", "1");
        }
        else request.Headers.Add("X-API-KEY", HostProcess.Master);
        using var response = await host.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_E2B_sandbox_on_one_host_is_described_driven_paused_resumed_and_killed_through_the_other()
    {
        var (status, text) = await SendAsync(A, HttpMethod.Post, "/e2b/sandboxes", """{"templateID":"code-interpreter-v1","timeout":120}""");
        Assert.True(status == HttpStatusCode.Created, $"{status}: {text}");
        var created = JsonDocument.Parse(text).RootElement;
        var id = created.GetProperty("sandboxID").GetString()!;
        var token = created.GetProperty("envdAccessToken").GetString()!;
        try
        {
            Assert.Equal("host-a", await fixture.Pair.HostOfAsync(id));
            (status, text) = await SendAsync(B, HttpMethod.Get, $"/e2b/sandboxes/{id}");
            Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
            Assert.Equal(id, JsonDocument.Parse(text).RootElement.GetProperty("sandboxID").GetString());

            // envd (Connect RPC, JSON) and the code interpreter (NDJSON), named by header only.
            (status, text) = await SendAsync(B, HttpMethod.Post, "/e2b/process.Process/List", "{}", (id, token, "49983"));
            Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
            (status, text) = await SendAsync(B, HttpMethod.Post, "/e2b/execute", """{"code":"x = 6 * 7\nx"}""", (id, token, "49999"));
            Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Contains(lines, l => l.GetProperty("type").GetString() == "result" && l.GetProperty("text").GetString() == "42");
            // The token is still checked by the host that runs the sandbox.
            (status, _) = await SendAsync(B, HttpMethod.Post, "/e2b/process.Process/List", "{}", (id, "not-the-token", "49983"));
            Assert.Equal(HttpStatusCode.Unauthorized, status);

            // Paused, it stays routed to A (its files are on A's disk); connect through B resumes it there.
            (status, text) = await SendAsync(B, HttpMethod.Post, $"/e2b/sandboxes/{id}/pause");
            Assert.True(status == HttpStatusCode.NoContent, $"{status}: {text}");
            Assert.Equal("host-a", await fixture.Pair.HostOfAsync(id));
            (status, text) = await SendAsync(B, HttpMethod.Post, $"/e2b/sandboxes/{id}/connect", """{"timeout":60}""");
            Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, $"{status}: {text}");
            (status, text) = await SendAsync(B, HttpMethod.Post, "/e2b/process.Process/List", "{}", (id, token, "49983"));
            Assert.True(status == HttpStatusCode.OK, $"{status}: {text}");
        }
        finally
        {
            (status, text) = await SendAsync(B, HttpMethod.Delete, $"/e2b/sandboxes/{id}");
            Assert.True(status == HttpStatusCode.NoContent, $"{status}: {text}");
        }
        Assert.Null(await fixture.Pair.HostOfAsync(id));
        (status, _) = await SendAsync(B, HttpMethod.Get, $"/e2b/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }
}
