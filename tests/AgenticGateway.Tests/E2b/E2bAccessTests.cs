using System.Net;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// Who may call a sandbox's code interpreter, on the wire: the SDKs send their context calls with the traffic access
/// token (never the envd token), so a context call needs one of the two, right; /execute needs the envd token.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bAccessTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    private HttpClient Client => e2b.Gateway.Server.Client;

    private async Task<HttpStatusCode> InterpreterAsync(HttpMethod method, string path, string id, string? token, string? traffic, string? json = null)
    {
        using var request = new HttpRequestMessage(method, "/e2b" + path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Add("E2b-Sandbox-Id", id);
        request.Headers.Add("E2b-Sandbox-Port", "49999");
        if (token is not null) request.Headers.Add("X-Access-Token", token);
        if (traffic is not null) request.Headers.Add("E2B-Traffic-Access-Token", traffic);
        using var response = await Client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Context_calls_need_the_traffic_or_the_envd_token_and_execute_the_envd_token()
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/e2b/sandboxes") { Content = new StringContent("""{"templateID":"code-interpreter-v1","timeout":120}""", Encoding.UTF8, "application/json") };
        create.Headers.Add("X-API-KEY", Sandboxes.SandboxGateway.Master);
        using var created = await Client.SendAsync(create);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Assert.True(created.StatusCode == HttpStatusCode.Created, body.ToString());
        var id = body.GetProperty("sandboxID").GetString()!;
        var token = body.GetProperty("envdAccessToken").GetString()!;
        var traffic = body.GetProperty("trafficAccessToken").GetString()!;
        try
        {
            Assert.NotEqual(token, traffic);
            // Neither token: refused, whatever the call (the sandbox id alone is not a credential).
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Get, "/contexts", id, null, null));
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Post, "/contexts", id, null, null, """{"language":"python"}"""));
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Post, "/contexts/python/restart", id, null, null));
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Delete, "/contexts/python", id, null, null));
            // A wrong one of either: refused, even beside a right one.
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Get, "/contexts", id, null, token));
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Get, "/contexts", id, traffic, null));
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Get, "/contexts", id, token, "wrong"));
            // The traffic token (what the SDKs send) or the envd token.
            Assert.Equal(HttpStatusCode.OK, await InterpreterAsync(HttpMethod.Get, "/contexts", id, null, traffic));
            Assert.Equal(HttpStatusCode.OK, await InterpreterAsync(HttpMethod.Get, "/contexts", id, token, null));
            Assert.Equal(HttpStatusCode.OK, await InterpreterAsync(HttpMethod.Post, "/contexts", id, null, traffic, """{"language":"python"}"""));
            // /execute: the envd token only (the SDK sends both); the traffic token alone runs nothing.
            Assert.Equal(HttpStatusCode.Unauthorized, await InterpreterAsync(HttpMethod.Post, "/execute", id, null, traffic, """{"code":"1"}"""));
            Assert.Equal(HttpStatusCode.OK, await InterpreterAsync(HttpMethod.Post, "/execute", id, token, traffic, """{"code":"1"}"""));
        }
        finally
        {
            using var kill = new HttpRequestMessage(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
            kill.Headers.Add("X-API-KEY", Sandboxes.SandboxGateway.Master);
            using var _ = await Client.SendAsync(kill);
        }
    }
}
