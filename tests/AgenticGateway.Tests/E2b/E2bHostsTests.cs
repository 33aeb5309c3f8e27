using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Sandboxes.Hosts;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// E2B's list over several sandbox hosts (two gateway processes sharing one private Redis): either host lists the
/// owner's sandboxes on both, with the same filters, templates and counts as for its own.
/// </summary>
[Trait("Category", "sandbox")]
[Collection(HostPair.Collection)]
public sealed class E2bHostsTests(HostPairFixture fixture) : IClassFixture<HostPairFixture>
{
    private HostProcess A => fixture.Pair.A;
    private HostProcess B => fixture.Pair.B;

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HostProcess host, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Add("X-API-KEY", HostProcess.Master);
        var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone(), response);
    }

    [Fact]
    public async Task The_list_on_either_host_merges_both_hosts_sandboxes_with_filters_and_templates()
    {
        var tag = Guid.NewGuid().ToString("N");
        var (status, onA, _) = await SendAsync(A, HttpMethod.Post, "/e2b/sandboxes", $$$"""{"templateID":"code-interpreter-v1","timeout":120,"metadata":{"suite":"{{{tag}}}","on":"a"}}""");
        Assert.True(status == HttpStatusCode.Created, onA.ToString());
        var a = onA.GetProperty("sandboxID").GetString()!;
        string? b = null;
        try
        {
            (status, var onB, _) = await SendAsync(B, HttpMethod.Post, "/e2b/v2/sandboxes", $$$"""{"templateID":"base","timeout":120,"metadata":{"suite":"{{{tag}}}","on":"b"}}""");
            Assert.True(status == HttpStatusCode.Created, onB.ToString());
            b = onB.GetProperty("sandboxID").GetString()!;
            Assert.Equal("host-a", await fixture.Pair.HostOfAsync(a));
            Assert.Equal("host-b", await fixture.Pair.HostOfAsync(b));

            var suite = Uri.EscapeDataString($"suite={tag}");
            foreach (var host in new[] { A, B })
            {
                foreach (var path in new[] { $"/e2b/v2/sandboxes?metadata={suite}", $"/e2b/sandboxes?metadata={suite}", $"/e2b/v2/sandboxes?metadata={suite}&state=running" })
                {
                    (status, var list, var response) = await SendAsync(host, HttpMethod.Get, path);
                    Assert.True(status == HttpStatusCode.OK, list.ToString());
                    var listed = list.EnumerateArray().ToDictionary(e => e.GetProperty("sandboxID").GetString()!);
                    Assert.True(listed.Count == 2, $"{host.Id} {path}: {list}");
                    Assert.Equal("code-interpreter-v1", listed[a].GetProperty("templateID").GetString());
                    Assert.Equal("base", listed[b].GetProperty("templateID").GetString());
                    Assert.All(listed.Values, e => Assert.Equal("running", e.GetProperty("state").GetString()));
                    Assert.Equal("a", listed[a].GetProperty("metadata").GetProperty("on").GetString());
                    Assert.True(listed[b].GetProperty("memoryMB").GetInt32() > 0);
                    if (path.StartsWith("/e2b/v2/", StringComparison.Ordinal)) Assert.Equal("2", response.Headers.GetValues("X-Total-Running").Single());
                }

                // The filters apply to the other host's sandboxes as to its own.
                (_, var one, _) = await SendAsync(host, HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={Uri.EscapeDataString($"suite={tag}&on=b")}");
                Assert.Equal(b, Assert.Single(one.EnumerateArray()).GetProperty("sandboxID").GetString());
                (_, var byTemplate, _) = await SendAsync(host, HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={suite}&template=code-interpreter-v1");
                Assert.Equal(a, Assert.Single(byTemplate.EnumerateArray()).GetProperty("sandboxID").GetString());
                (_, var pausedOnly, _) = await SendAsync(host, HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={suite}&state=paused");
                Assert.Empty(pausedOnly.EnumerateArray());
                (_, var page, var paged) = await SendAsync(host, HttpMethod.Get, $"/e2b/v2/sandboxes?metadata={suite}&limit=1&order=asc");
                Assert.Equal(a, Assert.Single(page.EnumerateArray()).GetProperty("sandboxID").GetString());
                Assert.Equal("1", paged.Headers.GetValues("X-Next-Token").Single());
            }
        }
        finally
        {
            await SendAsync(A, HttpMethod.Delete, $"/e2b/sandboxes/{a}");
            if (b is not null) await SendAsync(B, HttpMethod.Delete, $"/e2b/sandboxes/{b}");
        }
    }
}
