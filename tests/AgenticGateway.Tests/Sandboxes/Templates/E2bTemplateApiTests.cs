using System.Net;
using System.Text.Json;
using AgenticGateway.Pipeline;
using AgenticGateway.Services.E2b;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Sandboxes.Templates;

/// <summary>
/// E2B's template build API as the SDK's Template.build() drives it (request, start with steps, poll the status), on a
/// group of its own here (the /e2b prefix and its X-API-KEY are the REST helper's): the shapes, the refusals in
/// E2B's error shape, and a sandbox started from the result.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bTemplateApiTests
{
    [Fact]
    public async Task A_build_requested_started_and_polled_the_sdks_way_gives_a_template_sandboxes_start_from()
    {
        const string master = SandboxGateway.Master;
        await using var server = await GatewayServer.StartAsync($"master_key: {master}\nmodels:\n  - {{name: gpt-4o, provider: mock}}\nsandboxes: {{pools: {{}}}}\n",
            routes: app => E2bTemplateEndpoints.Map(app.MapGroup("/e2bt").Gateway(GatewayRoute.Sandboxes)));

        var (status, requested) = await server.AdminAsync("/e2bt/v3/templates", """{"name":"sdk-demo:v1","cpuCount":1,"memoryMB":512}""", master);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var templateId = requested.GetProperty("templateID").GetString()!;
        var buildId = requested.GetProperty("buildID").GetString()!;
        Assert.Equal(["sdk-demo"], requested.GetProperty("names").EnumerateArray().Select(n => n.GetString()!).ToArray());
        Assert.Equal("waiting", (await server.AdminAsync($"/e2bt/templates/{templateId}/builds/{buildId}/status", null, master)).Body.GetProperty("status").GetString());

        var steps = """
            {"fromTemplate":"base","startCmd":"echo up > /tmp/up","steps":[
              {"type":"USER","args":["root"]},
              {"type":"WORKDIR","args":["/"]},
              {"type":"ENV","args":["MODE","e2b","LEVEL","3"]},
              {"type":"WORKDIR","args":["proj"]},
              {"type":"USER","args":["user"]},
              {"type":"RUN","args":["echo \"$MODE\" > mode.txt && echo built","user"]}]}
            """;
        var (started, _) = await server.AdminAsync($"/e2bt/v2/templates/{templateId}/builds/{buildId}", steps, master);
        Assert.Equal(HttpStatusCode.Accepted, started);
        JsonElement info;
        var until = DateTime.UtcNow.AddMinutes(2);
        do
        {
            await Task.Delay(100);
            (_, info) = await server.AdminAsync($"/e2bt/templates/{templateId}/builds/{buildId}/status?logsOffset=0", null, master);
        } while (info.GetProperty("status").GetString() == "building" && DateTime.UtcNow < until);
        Assert.True(info.GetProperty("status").GetString() == "ready", info.ToString());
        Assert.Contains(info.GetProperty("logEntries").EnumerateArray(), e => e.GetProperty("message").GetString() == "built" && e.GetProperty("level").GetString() == "info");
        Assert.Equal(info.GetProperty("logEntries").GetArrayLength(), info.GetProperty("logs").GetArrayLength());
        var (_, tail) = await server.AdminAsync($"/e2bt/templates/{templateId}/builds/{buildId}/status?logsOffset=2&limit=1", null, master);
        Assert.Equal(1, tail.GetProperty("logEntries").GetArrayLength());

        // Listed and described in E2B's shapes; the alias check finds it.
        var (_, list) = await server.AdminAsync("/e2bt/templates", null, master);
        var listed = Assert.Single(list.EnumerateArray());
        Assert.Equal(templateId, listed.GetProperty("templateID").GetString());
        Assert.Equal("ready", listed.GetProperty("buildStatus").GetString());
        Assert.Equal(HttpStatusCode.OK, (await server.AdminAsync("/e2bt/templates/aliases/sdk-demo", null, master)).Status);
        var (missing, error) = await server.AdminAsync("/e2bt/templates/aliases/nope", null, master);
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal(404, error.GetProperty("code").GetInt32());
        var (_, described) = await server.AdminAsync($"/e2bt/templates/{templateId}", null, master);
        Assert.Equal(buildId, described.GetProperty("builds")[0].GetProperty("buildID").GetString());

        // A sandbox from it (the native API here; E2B's create resolves the same way).
        var (created, sandbox) = await server.AdminAsync("/v1/sandboxes", """{"template":"sdk-demo"}""", master);
        Assert.Equal(HttpStatusCode.Created, created);
        var (_, run) = await server.AdminAsync($"/v1/sandboxes/{sandbox.GetProperty("id").GetString()}/commands", """{"cmd":"pwd; cat mode.txt; echo $LEVEL; cat /tmp/up"}""", master);
        Assert.Equal("/home/user/proj\ne2b\n3\nup\n", run.GetProperty("stdout").GetString());

        // What cannot be built here is refused in E2B's shape, with the step.
        var (_, second) = await server.AdminAsync("/e2bt/v3/templates", """{"name":"other"}""", master);
        var path = $"/e2bt/v2/templates/{second.GetProperty("templateID").GetString()}/builds/{second.GetProperty("buildID").GetString()}";
        foreach (var (body, expected) in new[]
        {
            ("""{"fromImage":"ubuntu:22.04"}""", "Base 'ubuntu:22.04' is not available"),
            ("""{"steps":[{"type":"COPY","args":["a","b","",""],"filesHash":"x"}]}""", "step 1: COPY a: its files were not uploaded"),
            ("""{"steps":[{"type":"COPY","args":["a","b","",""]}]}""", "step 1: COPY needs the filesHash"),
            ("""{"steps":[{"type":"COPY","args":["*.txt","b","",""],"filesHash":"x"}]}""", "wildcards are not supported"),
            ("""{"steps":[{"type":"COPY","args":["../a","b","",""],"filesHash":"x"}]}""", "leaves the uploaded files"),
            ("""{"steps":[{"type":"COPY","args":["a","/etc/a","",""],"filesHash":"x"}]}""", "COPY to /etc/a is outside /home/user"),
            ("""{"steps":[{"type":"COPY","args":["a","b","","0755"],"filesHash":"x"}]}""", "COPY with a mode is not supported"),
            ("""{"steps":[{"type":"RUN","args":["true"]},{"type":"WORKDIR","args":["/etc"]}]}""", "step 2: WORKDIR /etc is outside /home/user"),
            ("""{"steps":[{"type":"USER","args":["admin"]}]}""", "step 1: USER has arguments"),
            ("""{"steps":[{"type":"ARG","args":["x"]}]}""", "step 1: ARG is not supported"),
        })
        {
            var (refused, why) = await server.AdminAsync(path, body, master);
            Assert.Equal(HttpStatusCode.BadRequest, refused);
            Assert.Equal(400, why.GetProperty("code").GetInt32());
            Assert.Contains(expected, why.GetProperty("message").GetString());
        }
        // An upload link answers under the prefix the caller used (here /e2bt); the upload itself is E2bTemplateCopyTests'.
        var (link, linkBody) = await server.AdminAsync($"/e2bt/templates/{templateId}/files/abc", null, master);
        Assert.Equal(HttpStatusCode.Created, link);
        Assert.False(linkBody.GetProperty("present").GetBoolean());
        Assert.StartsWith($"{server.Url.TrimEnd('/')}/e2bt/templates/{templateId}/files/abc?owner=", linkBody.GetProperty("url").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await server.AdminAsync($"/e2bt/templates/{templateId}/files/a.b", null, master)).Status);
        // A build id that was never requested, or another owner's, is a 404.
        var key = await server.GenerateKeyAsync("{}", master);
        Assert.Equal(HttpStatusCode.NotFound, (await server.AdminAsync(path, "{}", key)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await server.AdminAsync($"/e2bt/templates/{templateId}/builds/{buildId}/status", null, key)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await server.AdminAsync("/e2bt/v3/templates", """{"name":"base"}""", master)).Status);
    }
}
