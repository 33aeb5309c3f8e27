using System.Net;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Edge.Runtime;

/// <summary>
/// Hot reload: the file provider's file changes under load (an editor's save: a new file renamed over the old), the
/// edge swaps in the new routers, and no request fails on the way; a change that does not parse leaves it as it was.
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeReloadTests
{
    private static string Dynamic(string url, string extra = "") => $"""
        http:
          routers:
            r:
              rule: "PathPrefix(`/`)"
              service: s
          services:
            s:
              loadBalancer:
                servers:
                  - url: "{url}"
        {extra}
        """;

    private static async Task ReplaceAsync(string path, string content)
    {
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    [Fact]
    public async Task A_changed_file_is_applied_under_load_without_a_failed_request()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        using var dir = new TempDirectory("agw-edge-");
        var file = Path.Combine(dir.Path, "dynamic.yml");
        await File.WriteAllTextAsync(file, Dynamic(a.Url));
        var port = LocalServers.FreePort();
        await using var gateway = await GatewayServer.StartAsync($"""
            entryPoints:
              web:
                address: "127.0.0.1:{port}"
            providers:
              file:
                directory: "{dir.Path}"
                watch: true
            """);
        using var web = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var failures = new List<string>();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await web.GetAsync("/");
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.OK) lock (failures) failures.Add($"{(int)response.StatusCode} {body}");
                    else seen.AddOrUpdate(TestBackend.Parse(body)["backend"], 1, (_, n) => n + 1);
                }
                catch (HttpRequestException ex)
                {
                    lock (failures) failures.Add(ex.Message);
                }
            }
        })).ToArray();

        await EdgeRoutingTests.WaitUntilAsync(() => Task.FromResult(seen.ContainsKey("a")));
        await ReplaceAsync(file, Dynamic(b.Url));
        await EdgeRoutingTests.WaitUntilAsync(async () =>
        {
            var body = await web.GetStringAsync("/");
            return TestBackend.Parse(body)["backend"] == "b";
        });
        // A broken edit is refused and the running configuration stays: a file that does not parse, and a middleware
        // option that does not decode (which would otherwise disable the router that uses it).
        await ReplaceAsync(file, "http:\n  routers:\n    r:\n      rule: \"Host(`x\"\n      service: s\n");
        await Task.Delay(600);
        Assert.Equal("b", TestBackend.Parse(await web.GetStringAsync("/"))["backend"]);
        await ReplaceAsync(file, Dynamic(a.Url, "  middlewares:\n    strip:\n      stripPrefix:\n        prefixs: [\"/x\"]\n").Replace("service: s", "service: s\n      middlewares: [strip]"));
        await Task.Delay(600);
        Assert.Equal("b", TestBackend.Parse(await web.GetStringAsync("/"))["backend"]);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.True(seen["a"] > 0 && seen["b"] > 0);
    }

    [Fact]
    public async Task A_middleware_option_that_does_not_decode_stops_the_start_with_its_path()
    {
        var port = LocalServers.FreePort();
        var error = await Assert.ThrowsAsync<AgenticGateway.Edge.Runtime.EdgeConfigException>(() => GatewayServer.StartAsync($$"""
            entryPoints:
              web:
                address: "127.0.0.1:{{port}}"
            http:
              routers:
                r:
                  rule: "PathPrefix(`/`)"
                  middlewares: [strip]
                  service: s
              middlewares:
                strip:
                  stripPrefix:
                    prefixs: ["/api"]
              services:
                s:
                  loadBalancer:
                    servers:
                      - url: "http://127.0.0.1:1"
            """));
        Assert.Contains("http.middlewares.strip.stripPrefix.prefixs: unknown field 'prefixs'", error.Message);
    }
}
