using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;
using AgenticGateway.Keys;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// The gateway's own edge middlewares (gatewayAuth, gatewayBudget, tokenMetering, conversationAffinity), built from
/// Traefik-style dynamic configuration through the edge's registry and driven on a request, with the real identity,
/// limits and spend services of a running gateway.
/// </summary>
[Trait("Category", "functional")]
public class GatewayMiddlewareTests : IAsyncLifetime
{
    private const string Master = "sk-edge-master";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: mock, model: gpt-4o{"}"}
            """);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private EdgeMiddleware Build(string yaml, string name, List<string>? errors = null)
    {
        errors ??= [];
        var built = GatewayMiddlewareHost.TryBuild(yaml, name, _gateway.Services, errors);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        return built!;
    }

    /// <summary>The chain of the named middlewares, in order, around <paramref name="service"/>.</summary>
    private RequestDelegate Chain(string yaml, RequestDelegate service, params string[] names)
    {
        var next = service;
        foreach (var name in names.Reverse()) next = Build(yaml, name)(next);
        return next;
    }

    private static DefaultHttpContext Request(string? key = null, string body = "", string contentType = "application/json", Action<HttpRequest>? configure = null)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.Path = "/v1/chat/completions";
        http.Request.ContentType = contentType;
        http.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        http.Request.ContentLength = Encoding.UTF8.GetByteCount(body);
        if (key is not null) http.Request.Headers.Authorization = "Bearer " + key;
        http.Response.Body = new MemoryStream();
        http.Features.Set(new EdgeRequest { EntryPoint = "web", Router = "agents" });
        configure?.Invoke(http.Request);
        return http;
    }

    private static string ResponseText(HttpContext http) => Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());

    private const string Middlewares = """
        http:
          middlewares:
            auth:
              gatewayAuth: {}
            admin-only:
              gatewayAuth:
                adminOnly: true
            strip-key:
              gatewayAuth:
                removeHeader: true
            limits:
              gatewayBudget: {}
            meter:
              tokenMetering:
                agentHeader: x-agent
            affinity:
              conversationAffinity: {}
        """;

    [Fact]
    public async Task GatewayAuth_refuses_a_missing_or_wrong_key_with_openais_401_and_names_a_good_keys_caller()
    {
        var reached = 0;
        var auth = Chain(Middlewares, _ => { reached++; return Task.CompletedTask; }, "auth");

        var none = Request();
        await auth(none);
        Assert.Equal(401, none.Response.StatusCode);
        using (var doc = JsonDocument.Parse(ResponseText(none)))
        {
            Assert.Equal("invalid_request_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Equal("missing_api_key", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        var wrong = Request("sk-wrong");
        await auth(wrong);
        Assert.Equal(401, wrong.Response.StatusCode);
        Assert.Equal(0, reached);

        var key = await _gateway.GenerateKeyAsync("""{"key_alias": "agent-7"}""", Master);
        var good = Request(key);
        Caller? seen = null;
        await Chain(Middlewares, c => { seen = c.Features.Get<Caller>(); return Task.CompletedTask; }, "auth")(good);
        Assert.Equal("agent-7", seen?.Key?.KeyAlias);
        Assert.Equal("Bearer " + key, good.Request.Headers.Authorization.ToString());

        var admin = Request(Master);
        await auth(admin);
        Assert.Equal(1, reached);
    }

    [Fact]
    public async Task GatewayAuth_adminOnly_refuses_a_virtual_key_and_removeHeader_keeps_the_key_from_the_service()
    {
        var key = await _gateway.GenerateKeyAsync("{}", Master);
        var http = Request(key);
        await Chain(Middlewares, _ => Task.CompletedTask, "admin-only")(http);
        Assert.Equal(403, http.Response.StatusCode);

        var stripped = Request(key, configure: r => r.Headers["x-api-key"] = "also-key");
        string? seenAuth = "unset";
        await Chain(Middlewares, c => { seenAuth = c.Request.Headers.Authorization.ToString() + c.Request.Headers["x-api-key"]; return Task.CompletedTask; }, "strip-key")(stripped);
        Assert.Equal("", seenAuth);
    }

    [Fact]
    public async Task GatewayBudget_needs_a_caller_and_refuses_a_key_over_its_rpm_with_429_and_openais_headers()
    {
        var alone = Request();
        await Chain(Middlewares, _ => Task.CompletedTask, "limits")(alone);
        Assert.Equal(401, alone.Response.StatusCode);

        var key = await _gateway.GenerateKeyAsync("""{"rpm_limit": 1}""", Master);
        var limited = Chain(Middlewares, _ => Task.CompletedTask, "auth", "limits");
        var first = Request(key);
        await limited(first);
        Assert.Equal(200, first.Response.StatusCode);
        Assert.Equal("1", first.Response.Headers["x-ratelimit-limit-requests"].ToString());
        var second = Request(key);
        await limited(second);
        Assert.Equal(429, second.Response.StatusCode);
        Assert.Contains("rpm_limit", ResponseText(second));
    }

    private const string ChatAnswer = """{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":800,"total_tokens":2000}}""";

    private static RequestDelegate Answer(string body, string contentType = "application/json", int chunk = 0) => async c =>
    {
        c.Response.ContentType = contentType;
        var bytes = Encoding.UTF8.GetBytes(body);
        if (chunk <= 0) await c.Response.Body.WriteAsync(bytes);
        else
            for (var i = 0; i < bytes.Length; i += chunk)
            {
                await c.Response.Body.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
                await c.Response.Body.FlushAsync();
            }
    };

    [Fact]
    public async Task GatewayBudget_settles_on_the_cost_tokenMetering_read_so_a_spent_budget_refuses_the_next_call()
    {
        var key = await _gateway.GenerateKeyAsync("""{"max_budget": 0.001}""", Master);
        var chain = Chain(Middlewares, Answer(ChatAnswer), "auth", "limits", "meter");
        var first = Request(key);
        await chain(first);
        Assert.Equal(200, first.Response.StatusCode);
        Assert.Equal(ChatAnswer, ResponseText(first));
        var second = Request(key);
        await chain(second);
        Assert.Equal(400, second.Response.StatusCode);
        Assert.Contains("budget_exceeded", ResponseText(second));

        await _gateway.FlushSpendAsync();
        var (_, logs) = await _gateway.AdminAsync($"/spend/logs?api_key={key}", null, Master);
        var log = Assert.Single(logs.EnumerateArray());
        Assert.Equal(2000, log.GetProperty("total_tokens").GetInt64());
        Assert.Equal("gpt-4o", log.GetProperty("model").GetString());
        Assert.True(log.GetProperty("spend").GetDecimal() > 0.001m);
    }

    [Fact]
    public async Task TokenMetering_reads_an_anthropic_stream_split_anywhere_passes_it_unchanged_and_counts_per_router_key_agent_and_session()
    {
        var key = await _gateway.GenerateKeyAsync("""{"key_alias": "planner"}""", Master);
        const string stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":40,\"cache_read_input_tokens\":10,\"output_tokens\":1}}}\n\n"
            + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":25}}\n\n"
            + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        var measured = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Name == "edge.tokens") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => { lock (measured) measured.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))); });
        listener.Start();

        var http = Request(key, configure: r => { r.Headers["x-agent"] = "researcher"; r.Headers["x-session-id"] = "sess-42"; });
        await Chain(Middlewares, Answer(stream, "text/event-stream", chunk: 7), "auth", "meter")(http);
        Assert.Equal(stream, ResponseText(http));

        lock (measured)
        {
            var input = Assert.Single(measured, m => Equals(m.Tags["direction"], "input"));
            var output = Assert.Single(measured, m => Equals(m.Tags["direction"], "output"));
            Assert.Equal(50, input.Value);
            Assert.Equal(25, output.Value);
            Assert.Equal("test-router", input.Tags["router"]);
            Assert.Equal("planner", input.Tags["key"]);
            Assert.Equal("researcher", input.Tags["agent"]);
            Assert.Equal("sess-42", input.Tags["session"]);
        }
        await _gateway.FlushSpendAsync();
        var (_, logs) = await _gateway.AdminAsync($"/spend/logs?api_key={key}", null, Master);
        var log = Assert.Single(logs.EnumerateArray());
        Assert.Equal(50, log.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(25, log.GetProperty("completion_tokens").GetInt64());
        Assert.Equal("claude-sonnet-4-5", log.GetProperty("model").GetString());
    }

    [Fact]
    public async Task TokenMetering_never_holds_bytes_back()
    {
        var http = Request();
        var client = new MemoryStream();
        http.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(client));
        var seenBeforeSecondWrite = -1L;
        RequestDelegate service = async c =>
        {
            c.Response.ContentType = "text/event-stream";
            await c.Response.Body.WriteAsync("data: {\"choices\":[]}\n\n"u8.ToArray());
            await c.Response.Body.FlushAsync();
            seenBeforeSecondWrite = client.Length;
            await c.Response.Body.WriteAsync("data: {\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n"u8.ToArray());
        };
        await Chain(Middlewares, service, "meter")(http);
        Assert.Equal(22, seenBeforeSecondWrite);
        Assert.EndsWith("data: [DONE]\n\n", Encoding.UTF8.GetString(client.ToArray()));
    }

    [Fact]
    public async Task ConversationAffinity_takes_a_session_header_else_a_body_field_and_leaves_the_body_whole()
    {
        var affinity = Build(Middlewares, "affinity");
        string? body = null;
        RequestDelegate service = async c => body = await new StreamReader(c.Request.Body).ReadToEndAsync();

        var byHeader = Request(body: "{}", configure: r => r.Headers["x-conversation-id"] = "conv-1");
        await affinity(service)(byHeader);
        Assert.Equal("conv-1", byHeader.Features.Get<EdgeRequest>()!.AffinityKey);

        var json = """{"model":"gpt-4o","input":[{"role":"user","content":"long text"}],"previous_response_id":"resp_abc","user":"u1"}""";
        var byBody = Request(body: json);
        await affinity(service)(byBody);
        Assert.Equal("resp_abc", byBody.Features.Get<EdgeRequest>()!.AffinityKey);
        Assert.Equal(json, body);

        var conversation = Request(body: """{"conversation":{"id":"conv_77"},"input":"hi"}""");
        await affinity(service)(conversation);
        Assert.Equal("conv_77", conversation.Features.Get<EdgeRequest>()!.AffinityKey);

        var none = Request(body: """{"input":"hi"}""");
        await affinity(service)(none);
        Assert.Null(none.Features.Get<EdgeRequest>()!.AffinityKey);

        var text = Request(body: "previous_response_id", contentType: "text/plain");
        await affinity(service)(text);
        Assert.Null(text.Features.Get<EdgeRequest>()!.AffinityKey);
        Assert.Equal("previous_response_id", body);
    }

    [Fact]
    public async Task ConversationAffinity_reads_no_further_than_maxBodyBytes()
    {
        var affinity = Build("""
            http:
              middlewares:
                small:
                  conversationAffinity:
                    headers: []
                    bodyFields: [user]
                    maxBodyBytes: 32
            """, "small");
        string? body = null;
        var json = """{"input":"a long input that pushes the field past the peek","user":"late"}""";
        var http = Request(body: json);
        await affinity(async c => body = await new StreamReader(c.Request.Body).ReadToEndAsync())(http);
        Assert.Null(http.Features.Get<EdgeRequest>()!.AffinityKey);
        Assert.Equal(json, body);
    }

    [Theory]
    [InlineData("gatewayAuth: {colour: red}", "colour")]
    [InlineData("gatewayBudget: {budget: maybe}", "budget")]
    [InlineData("conversationAffinity: {headers: [], bodyFields: []}", "no header and no body field")]
    [InlineData("conversationAffinity: {maxBodyBytes: 99999999}", "maxBodyBytes")]
    public void Bad_options_are_errors_with_their_path(string middleware, string expected)
    {
        var errors = new List<string>();
        GatewayMiddlewareHost.TryBuild($"http:\n  middlewares:\n    bad:\n      {middleware}\n", "bad", _gateway.Services, errors);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}

/// <summary>Builds one of the middlewares of a Traefik dynamic configuration (YAML) through the edge's registry.</summary>
internal static class GatewayMiddlewareHost
{
    public static EdgeMiddleware? TryBuild(string yaml, string name, IServiceProvider services, List<string> errors)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = ToNode((YamlMappingNode)stream.Documents[0].RootNode, "");
        var middleware = root["http"]!["middlewares"]!.Entries.Single(e => e.Key == name).Value;
        var (typeName, options) = Assert.Single(middleware.Entries);
        Assert.True(EdgeMiddlewareTypes.All.TryGetValue(typeName, out var type), $"no middleware type {typeName}");
        var context = new EdgeBuildContext
        {
            Services = services,
            Router = "test-router",
            Name = name,
            Service = _ => null,
            Middleware = _ => null,
            Time = TimeProvider.System,
            Loggers = NullLoggerFactory.Instance,
            Options = services.GetRequiredService<AgenticGateway.Runtime.RuntimeHolder>().Current.Options,
        };
        return type.Build(new EdgeOptions(options, errors), context);
    }

    private static EdgeNode ToNode(YamlNode node, string path) => node switch
    {
        YamlMappingNode map => EdgeNode.OfMap(path, map.Children.Select(c =>
        {
            var key = ((YamlScalarNode)c.Key).Value!;
            return new KeyValuePair<string, EdgeNode>(key, ToNode(c.Value, EdgeNode.ChildPath(path, key)));
        })),
        YamlSequenceNode list => EdgeNode.OfList(path, list.Children.Select((c, i) => ToNode(c, $"{path}[{i}]"))),
        YamlScalarNode { Value: "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain } => EdgeNode.OfScalar(path, null),
        YamlScalarNode scalar => EdgeNode.OfScalar(path, scalar.Value),
        _ => throw new InvalidOperationException($"unexpected YAML node at {path}"),
    };
}
