using System.Net;
using System.Text.Json;

namespace AgenticGateway.Tests.Edge.Ops;

/// <summary>
/// Traefik's API over the edge (pkg/api: handler_http.go, criterion.go, sort.go): field names, status and errors,
/// usedBy, serverStatus, filters, sorting, paging with X-Next-Page, Traefik's {"message"} errors, admin credentials.
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeApiTests : IAsyncLifetime
{
    private const string Dynamic = """
        http:
          routers:
            whoami:
              rule: "Host(`emu.test`)"
              service: emu
            broken:
              rule: "Path(`/broken`)"
              service: nothing
            prefixed:
              rule: "Host(`prefixed.test`)"
              service: emu
              middlewares: [add]
          services:
            emu:
              loadBalancer:
                servers:
                  - url: "{upstream}"
          middlewares:
            add:
              addPrefix:
                prefix: /v1
        """;

    private EdgeOpsServer _server = null!;

    public async Task InitializeAsync() => _server = await EdgeOpsServer.StartAsync(Dynamic);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpResponseMessage Response, JsonElement Body)> GetAsync(string path)
    {
        var response = await _server.Client.SendAsync(_server.Admin(HttpMethod.Get, path));
        var text = await response.Content.ReadAsStringAsync();
        return (response, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static JsonElement Named(JsonElement list, string name) => list.EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);

    [Fact]
    public async Task The_API_needs_the_admin_key()
    {
        var response = await _server.Client.GetAsync("/api/http/routers");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Routers_are_listed_with_Traefiks_fields_status_and_errors()
    {
        var (response, body) = await GetAsync("/api/http/routers");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("1", response.Headers.GetValues("X-Next-Page").Single());
        var whoami = Named(body, "whoami@file");
        Assert.Equal("file", whoami.GetProperty("provider").GetString());
        Assert.Equal("enabled", whoami.GetProperty("status").GetString());
        Assert.Equal("Host(`emu.test`)", whoami.GetProperty("rule").GetString());
        Assert.Equal("emu", whoami.GetProperty("service").GetString());
        // Traefik sets a router's priority to its rule's length when none is given, and repeats it as priorityStr.
        Assert.Equal(16, whoami.GetProperty("priority").GetInt32());
        Assert.Equal("16", whoami.GetProperty("priorityStr").GetString());
        Assert.Equal(["gateway"], whoami.GetProperty("using").EnumerateArray().Select(e => e.GetString()));
        Assert.False(whoami.TryGetProperty("error", out _));

        var broken = Named(body, "broken@file");
        Assert.Equal("disabled", broken.GetProperty("status").GetString());
        Assert.Contains("nothing@file", broken.GetProperty("error")[0].GetString());

        var gateway = Named(body, "gateway@internal");
        Assert.Equal("internal", gateway.GetProperty("provider").GetString());
        Assert.Equal("gateway@internal", gateway.GetProperty("service").GetString());
        // Sorted by name by default, as Traefik sorts.
        var names = body.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task Filters_sorting_and_pages_follow_Traefik()
    {
        var (_, disabled) = await GetAsync("/api/http/routers?status=disabled");
        Assert.All(disabled.EnumerateArray(), r => Assert.Equal("disabled", r.GetProperty("status").GetString()));
        Assert.Contains(disabled.EnumerateArray(), r => r.GetProperty("name").GetString() == "broken@file");

        var (_, search) = await GetAsync("/api/http/routers?search=EMU.TEST");
        Assert.Equal(["whoami@file"], search.EnumerateArray().Select(r => r.GetProperty("name").GetString()));

        var (_, byService) = await GetAsync("/api/http/routers?serviceName=emu@file");
        Assert.Equal(["prefixed@file", "whoami@file"], byService.EnumerateArray().Select(r => r.GetProperty("name").GetString()));

        var (_, byMiddleware) = await GetAsync("/api/http/routers?middlewareName=add");
        Assert.Equal(["prefixed@file"], byMiddleware.EnumerateArray().Select(r => r.GetProperty("name").GetString()));

        var (_, descending) = await GetAsync("/api/http/routers?sortBy=priority&direction=desc");
        var priorities = descending.EnumerateArray().Select(r => r.GetProperty("priority").GetInt32()).ToList();
        Assert.Equal(priorities.OrderDescending(), priorities);

        var (first, page1) = await GetAsync("/api/http/routers?per_page=2");
        Assert.Equal(2, page1.GetArrayLength());
        Assert.Equal("2", first.Headers.GetValues("X-Next-Page").Single());
        var (_, page2) = await GetAsync("/api/http/routers?per_page=2&page=2");
        Assert.DoesNotContain(page2.EnumerateArray().Select(r => r.GetProperty("name").GetString()), page1.EnumerateArray().Select(r => r.GetProperty("name").GetString()).Contains);

        var (past, error) = await GetAsync("/api/http/routers?page=99");
        Assert.Equal(HttpStatusCode.BadRequest, past.StatusCode);
        Assert.Equal("invalid request: page: 99, per_page: 100", error.GetProperty("message").GetString());
        var (bad, badError) = await GetAsync("/api/http/routers?per_page=x");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("invalid request: per_page: 0", badError.GetProperty("message").GetString());
    }

    [Fact]
    public async Task One_item_by_name_and_Traefiks_404()
    {
        var (ok, router) = await GetAsync("/api/http/routers/whoami@file");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("whoami@file", router.GetProperty("name").GetString());
        var (missing, error) = await GetAsync("/api/http/routers/nope@file");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("router not found: nope@file", error.GetProperty("message").GetString());
        var (missingService, serviceError) = await GetAsync("/api/http/services/nope@file");
        Assert.Equal(HttpStatusCode.NotFound, missingService.StatusCode);
        Assert.Equal("service not found: nope@file", serviceError.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Services_show_their_servers_status_and_users()
    {
        var (_, body) = await GetAsync("/api/http/services");
        var emu = Named(body, "emu@file");
        Assert.Equal("loadbalancer", emu.GetProperty("type").GetString());
        Assert.Equal("enabled", emu.GetProperty("status").GetString());
        Assert.Equal(_server.Upstream.Url, emu.GetProperty("loadBalancer").GetProperty("servers")[0].GetProperty("url").GetString());
        Assert.True(emu.GetProperty("loadBalancer").GetProperty("passHostHeader").GetBoolean());
        Assert.Equal("UP", emu.GetProperty("serverStatus").GetProperty(_server.Upstream.Url).GetString());
        Assert.Contains("whoami@file", emu.GetProperty("usedBy").EnumerateArray().Select(e => e.GetString()));
        var gateway = Named(body, "gateway@internal");
        Assert.Equal("internal", gateway.GetProperty("provider").GetString());

        var (_, one) = await GetAsync("/api/http/services/emu@file");
        Assert.Equal("emu@file", one.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Middlewares_show_their_options_under_their_type()
    {
        var (_, body) = await GetAsync("/api/http/middlewares");
        var add = Named(body, "add@file");
        Assert.Equal("addprefix", add.GetProperty("type").GetString());
        Assert.Equal("/v1", add.GetProperty("addPrefix").GetProperty("prefix").GetString());
        Assert.Equal(["prefixed@file"], add.GetProperty("usedBy").EnumerateArray().Select(e => e.GetString()));
        Assert.True(add.TryGetProperty("status", out _));
    }

    [Fact]
    public async Task Overview_entry_points_rawdata_version_and_the_empty_tcp_and_udp_lists()
    {
        var (_, overview) = await GetAsync("/api/overview");
        var routers = overview.GetProperty("http").GetProperty("routers");
        Assert.True(routers.GetProperty("total").GetInt32() >= 4);
        Assert.True(routers.GetProperty("errors").GetInt32() >= 1);
        Assert.Equal(0, overview.GetProperty("tcp").GetProperty("routers").GetProperty("total").GetInt32());
        Assert.Equal("Prometheus", overview.GetProperty("features").GetProperty("metrics").GetString());
        Assert.True(overview.GetProperty("features").GetProperty("accessLog").GetBoolean());

        var (_, entryPoints) = await GetAsync("/api/entrypoints");
        Assert.Equal("gateway", entryPoints[0].GetProperty("name").GetString());
        var (missing, error) = await GetAsync("/api/entrypoints/web");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("entry point not found: web", error.GetProperty("message").GetString());

        var (_, raw) = await GetAsync("/api/rawdata");
        Assert.Equal("enabled", raw.GetProperty("routers").GetProperty("whoami@file").GetProperty("status").GetString());
        Assert.False(raw.GetProperty("routers").GetProperty("whoami@file").TryGetProperty("name", out _));
        Assert.Equal("UP", raw.GetProperty("services").GetProperty("emu@file").GetProperty("serverStatus").GetProperty(_server.Upstream.Url).GetString());

        var (_, version) = await GetAsync("/api/version");
        Assert.False(string.IsNullOrEmpty(version.GetProperty("Version").GetString()));
        Assert.True(version.TryGetProperty("startDate", out _));

        foreach (var path in new[] { "/api/tcp/routers", "/api/tcp/services", "/api/tcp/middlewares", "/api/udp/routers", "/api/udp/services" })
        {
            var (response, list) = await GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(0, list.GetArrayLength());
        }
    }
}
