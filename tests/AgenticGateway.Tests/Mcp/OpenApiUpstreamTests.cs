using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.Mcp;
using AgenticGateway.Mcp.OpenApi;
using AgenticGateway.Mcp.Upstreams;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Mcp;

/// <summary>
/// The OpenAPI Initiative's own examples (Fixtures/openapi: petstore.yaml and petstore-expanded.json, see SOURCE.md)
/// served as tools, called against a small Kestrel pet store that implements their operations.
/// </summary>
[Trait("Category", "functional")]
public sealed class OpenApiUpstreamTests : IAsyncLifetime
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "openapi");
    private static readonly string PetstoreYaml = Path.Combine(Fixtures, "petstore.yaml");
    private static readonly string PetstoreJson = Path.Combine(Fixtures, "petstore-expanded.json");

    private PetStore _store = null!;
    private readonly TempDirectory _temp = new("agw-openapi-");

    public async Task InitializeAsync() => _store = await PetStore.StartAsync();

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _temp.Dispose();
    }

    private OpenApiUpstream Upstream(string spec, string? basePath, ImmutableArray<KeyValuePair<string, Secret>> headers = default, OpenApiLimits? limits = null,
        TimeSpan? callTimeout = null) =>
        OpenApiUpstream.Create(new McpServerConfig
        {
            Name = "petstore",
            Transport = McpTransport.OpenApi,
            SpecPath = spec,
            Url = basePath is null ? null : new Uri(_store.Address + basePath),
            Headers = headers.IsDefault ? [] : headers,
            CallTimeout = callTimeout,
        }, NullLoggerFactory.Instance, limits);

    private static McpCallContext Caller(params (string, string)[] headers) => new("key-hash", null, [.. headers.Select(h => new KeyValuePair<string, string>(h.Item1, h.Item2))]);

    private static Dictionary<string, JsonElement> Args(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    private static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

    private static JsonNode Schema(Tool tool) => JsonNode.Parse(tool.InputSchema.GetRawText())!;

    [Fact]
    public async Task Yaml_petstore_operations_are_tools_named_as_LiteLLM_names_them()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1");
        var tools = await upstream.ListToolsAsync(default);

        Assert.Equal(["listpets", "createpets", "showpetbyid"], tools.Select(t => t.Name));
        Assert.Equal("List all pets", tools[0].Description);
        Assert.True(tools[0].Annotations?.ReadOnlyHint);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"type":"object","properties":{"limit":{"type":"integer","format":"int32","description":"How many items to return at one time (max 100)"}}}
            """), Schema(tools[0])), Schema(tools[0]).ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"object","properties":{}}"""), Schema(tools[1])));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"type":"object","properties":{"petId":{"type":"string","description":"The id of the pet to retrieve"}},"required":["petId"]}
            """), Schema(tools[2])), Schema(tools[2]).ToJsonString());
    }

    [Fact]
    public async Task Json_petstore_body_is_one_body_argument_with_its_schema_resolved()
    {
        await using var upstream = Upstream(PetstoreJson, "/api");
        var tools = await upstream.ListToolsAsync(default);

        // "find pet by id" has spaces: LiteLLM makes them underscores.
        Assert.Equal(["findpets", "addpet", "find_pet_by_id", "deletepet"], tools.Select(t => t.Name));
        Assert.StartsWith("Returns all pets from the system", tools[0].Description);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"type":"object","properties":{"body":{"type":"object","required":["name"],
              "properties":{"name":{"type":"string"},"tag":{"type":"string"}},"description":"Pet to add to the store"}},
             "required":["body"]}
            """), Schema(tools[1])), Schema(tools[1]).ToJsonString());
        Assert.Equal("array", Schema(tools[0])["properties"]!["tags"]!["type"]!.GetValue<string>());
        Assert.Equal("integer", Schema(tools[2])["properties"]!["id"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_get_sends_its_path_and_query_parameters_escaped()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1");
        var list = await upstream.CallToolAsync("listpets", Args("""{"limit":2}"""), Caller(), default);
        Assert.NotEqual(true, list.IsError);
        Assert.Equal(2, JsonNode.Parse(Text(list))!.AsArray().Count);
        Assert.Equal("GET /v1/pets?limit=2", _store.Last.Target);

        var one = await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"rex/../a b"}"""), Caller(), default);
        Assert.NotEqual(true, one.IsError);
        Assert.Equal("GET /v1/pets/rex%2F..%2Fa%20b", _store.Last.Target);
        Assert.Equal("rex/../a b", JsonNode.Parse(Text(one))!["name"]!.GetValue<string>());

        await using var expanded = Upstream(PetstoreJson, "/api");
        var tagged = await expanded.CallToolAsync("findpets", Args("""{"tags":["a&b","c"],"limit":1}"""), Caller(), default);
        Assert.NotEqual(true, tagged.IsError);
        Assert.Equal("GET /api/pets?tags=a%26b&tags=c&limit=1", _store.Last.Target);
    }

    [Fact]
    public async Task A_post_sends_the_body_argument_as_json()
    {
        await using var upstream = Upstream(PetstoreJson, "/api");
        var result = await upstream.CallToolAsync("addpet", Args("""{"body":{"name":"Rex","tag":"dog"}}"""), Caller(), default);

        Assert.NotEqual(true, result.IsError);
        Assert.Equal("POST /api/pets", _store.Last.Target);
        Assert.StartsWith("application/json", _store.Last.ContentType);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Rex","tag":"dog"}"""), JsonNode.Parse(_store.Last.Body)));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"id":1,"name":"Rex","tag":"dog"}"""), JsonNode.Parse(Text(result))));

        // A body sent as a string of JSON, as models do, goes as that JSON.
        await upstream.CallToolAsync("addpet", Args("""{"body":"{\"name\":\"Tom\"}"}"""), Caller(), default);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Tom"}"""), JsonNode.Parse(_store.Last.Body)));
    }

    [Fact]
    public async Task An_upstream_error_status_is_a_tool_error_with_its_status_and_body()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1");
        var result = await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"missing"}"""), Caller(), default);

        Assert.True(result.IsError);
        Assert.Contains("HTTP 404", Text(result));
        Assert.Contains("no such pet", Text(result));
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_not_cut()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1", limits: new OpenApiLimits { MaxResponseBytes = 1000 });
        var result = await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"huge"}"""), Caller(), default);
        Assert.True(result.IsError);
        Assert.Contains("over the 1000-byte limit", Text(result));

        var small = await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"rex"}"""), Caller(), default);
        Assert.NotEqual(true, small.IsError);
    }

    [Fact]
    public async Task The_servers_headers_and_the_callers_forwarded_ones_are_sent_and_the_servers_win()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1", [new("Authorization", new Secret("Bearer upstream-token")), new("X-Api-Version", new Secret("2"))]);
        await upstream.CallToolAsync("listpets", null, Caller(("X-Tenant", "acme"), ("Authorization", "Bearer caller-token")), default);

        var headers = _store.Last.Headers;
        Assert.Equal("Bearer upstream-token", headers["Authorization"]);
        Assert.Equal("2", headers["X-Api-Version"]);
        Assert.Equal("acme", headers["X-Tenant"]);
    }

    [Fact]
    public async Task A_spec_url_is_fetched_through_its_redirect_and_a_relative_server_resolves_against_where_it_was_found()
    {
        var spec = JsonNode.Parse(await File.ReadAllTextAsync(PetstoreJson))!;
        spec["servers"] = JsonNode.Parse("""[{"url":"api"}]""");
        _store.Specs["/specs/v2/petstore.json"] = spec.ToJsonString();
        _store.Redirects["/specs/latest"] = "/specs/v2/petstore.json";

        await using var upstream = Upstream(_store.Address + "/specs/latest", basePath: null);
        Assert.Equal(4, (await upstream.ListToolsAsync(default)).Count);
        var result = await upstream.CallToolAsync("find_pet_by_id", Args("""{"id":7}"""), Caller(), default);
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("GET /specs/v2/api/pets/7", _store.Last.Target);
    }

    [Fact]
    public async Task A_call_that_outlives_the_timeout_fails_and_does_not_hang()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1", callTimeout: TimeSpan.FromSeconds(1));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TimeoutException>(async () => await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"slow"}"""), Caller(), default));
        Assert.Contains("'petstore': GET /pets/{petId} did not answer within 1 s", error.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");

        // A body that starts at once and then stalls is under the same deadline.
        started.Restart();
        error = await Assert.ThrowsAsync<TimeoutException>(async () => await upstream.CallToolAsync("showpetbyid", Args("""{"petId":"trickle"}"""), Caller(), default));
        Assert.Contains("did not answer within 1 s", error.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task A_spec_url_over_the_size_limit_is_refused()
    {
        _store.Specs["/specs/big.json"] = await File.ReadAllTextAsync(PetstoreJson);
        await using var upstream = Upstream(_store.Address + "/specs/big.json", "/api", limits: new OpenApiLimits { MaxSpecBytes = 1000 });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await upstream.ListToolsAsync(default));
        Assert.Contains("over the 1000-byte limit", error.Message);
        Assert.Contains("/specs/big.json", error.Message);
    }

    [Fact]
    public async Task A_broken_ref_fails_the_listing_naming_the_server_the_spec_and_the_ref()
    {
        var path = Path.Combine(_temp.Path, "broken.yaml");
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(PetstoreJson)).Replace("#/components/schemas/NewPet", "#/components/schemas/OldPet"));
        await using var upstream = Upstream(path, "/api");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await upstream.ListToolsAsync(default));
        Assert.Contains("'petstore'", error.Message);
        Assert.Contains(path, error.Message);
        Assert.Contains("$ref '#/components/schemas/OldPet' points at nothing", error.Message);
    }

    [Fact]
    public async Task A_swagger_2_spec_and_a_missing_file_are_refused_clearly()
    {
        var swagger = Path.Combine(_temp.Path, "swagger.yaml");
        await File.WriteAllTextAsync(swagger, "swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths: {}\n");
        await using var old = Upstream(swagger, "/v1");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await old.ListToolsAsync(default));
        Assert.Contains("Swagger 2.0 document; only OpenAPI 3.0 and 3.1 are supported", error.Message);

        await using var missing = Upstream(Path.Combine(_temp.Path, "nope.yaml"), "/v1");
        error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await missing.ListToolsAsync(default));
        Assert.Contains("no file at", error.Message);
    }

    [Fact]
    public async Task An_unknown_tool_is_a_protocol_error_and_a_missing_argument_a_tool_error()
    {
        await using var upstream = Upstream(PetstoreYaml, "/v1");
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(async () => await upstream.CallToolAsync("nope", null, Caller(), default));
        Assert.Equal(McpErrorCode.InvalidParams, unknown.ErrorCode);

        var missing = await upstream.CallToolAsync("showpetbyid", null, Caller(), default);
        Assert.True(missing.IsError);
        Assert.Equal("Missing required argument: petId.", Text(missing));
        var dots = await upstream.CallToolAsync("showpetbyid", Args("""{"petId":".."}"""), Caller(), default);
        Assert.True(dots.IsError);
        Assert.Equal(0, _store.Count(r => r.Target.StartsWith("GET /v1/pets/", StringComparison.Ordinal)));

        Assert.Empty(await upstream.ListResourcesAsync(default));
        Assert.Empty(await upstream.ListPromptsAsync(default));
        var read = await Assert.ThrowsAsync<McpProtocolException>(async () => await upstream.ReadResourceAsync("x://y", Caller(), default));
        Assert.Equal(McpErrorCode.InvalidParams, read.ErrorCode);
    }

    /// <summary>One request as the pet store saw it.</summary>
    internal sealed record Seen(string Target, IReadOnlyDictionary<string, string> Headers, string? ContentType, string Body);

    /// <summary>The petstore examples' operations on real Kestrel, and specs served at /specs/.</summary>
    internal sealed class PetStore : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<Seen> _seen = new();

        private PetStore(WebApplication app) => _app = app;

        public string Address => GatewayApp.BoundAddresses(_app)[0];
        public ConcurrentDictionary<string, string> Specs { get; } = new();
        public ConcurrentDictionary<string, string> Redirects { get; } = new();
        public Seen Last => _seen.Last();
        public int Count(Func<Seen, bool> match) => _seen.Count(match);

        public static async Task<PetStore> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var store = new PetStore(app);
            app.Run(store.HandleAsync);
            await app.StartAsync();
            return store;
        }

        private async Task HandleAsync(HttpContext context)
        {
            var request = context.Request;
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            var path = request.Path.ToUriComponent();
            if (Redirects.TryGetValue(path, out var location))
            {
                context.Response.Redirect(location);
                return;
            }
            if (Specs.TryGetValue(path, out var spec))
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(spec);
                return;
            }
            _seen.Enqueue(new Seen($"{request.Method} {path}{request.QueryString}",
                request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), request.ContentType, body));

            var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            context.Response.ContentType = "application/json";
            switch (request.Method, segments)
            {
                case ("GET", [.., "pets"]):
                    var limit = int.TryParse(request.Query["limit"], out var l) ? l : 3;
                    await context.Response.WriteAsync(new JsonArray([.. Enumerable.Range(1, limit).Select(i => new JsonObject { ["id"] = i, ["name"] = $"pet{i}" })]).ToJsonString());
                    return;
                case ("POST", [.., "pets"]):
                    var pet = JsonNode.Parse(body)!.AsObject();
                    pet.Insert(0, "id", 1);
                    await context.Response.WriteAsync(pet.ToJsonString());
                    return;
                case ("GET", [.., "pets", var id]):
                    var name = Uri.UnescapeDataString(id);
                    if (name == "trickle")
                    {
                        await context.Response.WriteAsync("{\"id\":1,");
                        await context.Response.Body.FlushAsync();
                        await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { });
                        return;
                    }
                    if (name == "slow")
                    {
                        await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { });
                        return;
                    }
                    if (name == "missing")
                    {
                        context.Response.StatusCode = 404;
                        await context.Response.WriteAsync("""{"code":404,"message":"no such pet"}""");
                    }
                    else
                    {
                        var tag = name == "huge" ? new string('x', 5000) : "dog";
                        await context.Response.WriteAsync(new JsonObject { ["id"] = 1, ["name"] = name, ["tag"] = tag }.ToJsonString());
                    }
                    return;
                default:
                    context.Response.StatusCode = 405;
                    return;
            }
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
