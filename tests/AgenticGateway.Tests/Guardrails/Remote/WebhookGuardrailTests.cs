using System.Collections.Immutable;
using System.Net.Sockets;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Guardrails.Remote;
using AgenticGateway.Hosting;
using AgenticGateway.Keys;
using AgenticGateway.Safety.Guardrails;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>
/// The webhook guardrail against a vendor service on loopback that speaks LiteLLM's Generic Guardrail API
/// (POST /beta/litellm_basic_guardrail_api): what it is sent, and what each answer, failure and timeout comes to.
/// </summary>
[Trait("Category", "functional")]
public class WebhookGuardrailTests : IAsyncLifetime
{
    private WebApplication _vendor = null!;
    private string _url = null!;
    private readonly RemoteGuardrailHttp _http = new();
    private readonly List<(JsonDocument Body, Dictionary<string, string> Headers)> _received = [];
    private Func<JsonElement, (int Status, string Json, TimeSpan Delay)> _answer = _ => (200, """{"action":"NONE"}""", TimeSpan.Zero);

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        _vendor = builder.Build();
        _vendor.Urls.Add("http://127.0.0.1:0");
        _vendor.MapPost("/beta/litellm_basic_guardrail_api", async context =>
        {
            var body = await JsonDocument.ParseAsync(context.Request.Body);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            lock (_received) _received.Add((body, headers));
            var (status, json, delay) = _answer(body.RootElement);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, context.RequestAborted);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json);
        });
        await _vendor.StartAsync();
        _url = GatewayApp.BoundAddresses(_vendor)[0];
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _vendor.StopAsync();
        await _vendor.DisposeAsync();
    }

    private static readonly Caller TeamKey = new(false, new KeyIdentity(
        new VirtualKey { Token = "hashed-token", KeyName = "sk-...abcd", KeyAlias = "ci-key", UserId = "u1", TeamId = "team-a" },
        null, new Team { TeamId = "team-a", TeamAlias = "Team A" }));

    private WebhookGuardrail Guardrail(string? apiBase = null, UnreachableFallback fallback = UnreachableFallback.FailClosed, TimeSpan? timeout = null) => new(
        new GuardrailDefinition { Name = "vendor-guard", Type = GenericGuardrailApiSettings.TypeName, Modes = [GuardrailMode.PreCall], Settings = GuardrailSettings() },
        new GenericGuardrailApiSettings
        {
            Endpoint = new Uri((apiBase ?? _url) + GenericGuardrailApiSettings.EndpointPath),
            ApiKey = "vendor-key",
            Headers = [new("x-tenant", "t1")],
            AdditionalParamsJson = """{"threshold":0.8}""",
            Fallback = fallback,
            Timeout = timeout ?? TimeSpan.FromSeconds(5),
        }, _http);

    private static GuardrailSettings GuardrailSettings() => new GenericGuardrailApiSettings { Endpoint = new Uri("http://unused.example") };

    private static GuardrailCheck Check(GuardrailMode mode, params string[] texts) => new(mode, texts, TeamKey, "gpt-4o", "req-123");

    [Fact]
    public async Task The_service_gets_litellms_request_with_its_own_key_and_none_lets_the_texts_through()
    {
        var verdict = await Guardrail().CheckAsync(Check(GuardrailMode.PreCall, "hello", "my email is a@b.example"), CancellationToken.None);

        Assert.Equal(GuardrailAction.Allow, verdict.Action);
        var (body, headers) = Assert.Single(_received);
        var root = body.RootElement;
        Assert.Equal(["hello", "my email is a@b.example"], root.GetProperty("texts").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("request", root.GetProperty("input_type").GetString());
        Assert.Equal("req-123", root.GetProperty("litellm_call_id").GetString());
        Assert.Equal("gpt-4o", root.GetProperty("model").GetString());
        Assert.Equal(0.8, root.GetProperty("additional_provider_specific_params").GetProperty("threshold").GetDouble());
        var data = root.GetProperty("request_data");
        Assert.Equal("hashed-token", data.GetProperty("user_api_key_hash").GetString());
        Assert.Equal("ci-key", data.GetProperty("user_api_key_alias").GetString());
        Assert.Equal("u1", data.GetProperty("user_api_key_user_id").GetString());
        Assert.Equal("team-a", data.GetProperty("user_api_key_team_id").GetString());
        Assert.Equal("Team A", data.GetProperty("user_api_key_team_alias").GetString());
        Assert.Equal("vendor-key", headers["x-api-key"]);
        Assert.Equal("t1", headers["x-tenant"]);
        Assert.False(headers.ContainsKey("Authorization"));
    }

    [Theory]
    [InlineData(nameof(GuardrailMode.PostCall), "response")]
    [InlineData(nameof(GuardrailMode.PostMcpCall), "response")]
    [InlineData(nameof(GuardrailMode.SandboxOutput), "response")]
    [InlineData(nameof(GuardrailMode.DuringCall), "request")]
    [InlineData(nameof(GuardrailMode.PreMcpCall), "request")]
    public async Task Output_is_sent_as_a_response_and_input_as_a_request(string mode, string inputType)
    {
        await Guardrail().CheckAsync(Check(Enum.Parse<GuardrailMode>(mode), "text"), CancellationToken.None);
        Assert.Equal(inputType, Assert.Single(_received).Body.RootElement.GetProperty("input_type").GetString());
    }

    [Fact]
    public async Task Blocked_refuses_with_the_services_reason()
    {
        _answer = _ => (200, """{"action":"BLOCKED","blocked_reason":"Content contains prohibited terms"}""", TimeSpan.Zero);
        var verdict = await Guardrail().CheckAsync(Check(GuardrailMode.PreCall, "badword"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, verdict.Action);
        Assert.Equal("Content contains prohibited terms", verdict.Reason);

        _answer = _ => (200, """{"action":"BLOCKED"}""", TimeSpan.Zero);
        Assert.Equal("Content violates policy", (await Guardrail().CheckAsync(Check(GuardrailMode.PreCall, "x"), CancellationToken.None)).Reason);
    }

    [Fact]
    public async Task Guardrail_intervened_replaces_the_texts_in_order()
    {
        _answer = body => (200, JsonSerializerTexts(body.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!.Replace("a@b.example", "[EMAIL]")).ToArray()), TimeSpan.Zero);
        var verdict = await Guardrail().CheckAsync(Check(GuardrailMode.PostCall, "keep", "mail a@b.example now"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Mask, verdict.Action);
        Assert.Equal(["keep", "mail [EMAIL] now"], verdict.Masked!);
        Assert.Equal(1, verdict.Counts["modified"]);
    }

    private static string JsonSerializerTexts(string[] texts)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("action", "GUARDRAIL_INTERVENED");
            w.WriteStartArray("texts");
            foreach (var t in texts) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    [Theory]
    [InlineData("""{"action":"GUARDRAIL_INTERVENED","texts":["only one"]}""")]
    [InlineData("""{"action":"MAYBE"}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""not json""")]
    public async Task An_answer_outside_the_contract_fails_closed_even_with_fail_open(string answer)
    {
        _answer = _ => (200, answer, TimeSpan.Zero);
        var verdict = await Guardrail(fallback: UnreachableFallback.FailOpen).CheckAsync(Check(GuardrailMode.PreCall, "one", "two"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, verdict.Action);
        Assert.Contains("'vendor-guard' could not check the content", verdict.Reason);
        Assert.Equal(1, verdict.Counts["error"]);
    }

    [Theory]
    [InlineData(503, true, true)]
    [InlineData(502, false, false)]
    [InlineData(500, true, false)]
    [InlineData(401, true, false)]
    public async Task Only_an_unreachable_service_may_fail_open(int status, bool failOpen, bool allowed)
    {
        _answer = _ => (status, """{"detail":"down"}""", TimeSpan.Zero);
        var verdict = await Guardrail(fallback: failOpen ? UnreachableFallback.FailOpen : UnreachableFallback.FailClosed).CheckAsync(Check(GuardrailMode.PreCall, "text"), CancellationToken.None);
        Assert.Equal(allowed ? GuardrailAction.Allow : GuardrailAction.Block, verdict.Action);
        if (!allowed) Assert.Contains($"HTTP {status}", verdict.Reason);
    }

    [Fact]
    public async Task No_listener_and_a_timeout_are_unreachable()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var closed = $"http://127.0.0.1:{((System.Net.IPEndPoint)socket.LocalEndPoint!).Port}";

        var refused = await Guardrail(closed).CheckAsync(Check(GuardrailMode.PreCall, "text"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, refused.Action);
        Assert.Contains("could not be reached", refused.Reason);
        Assert.Equal(GuardrailAction.Allow, (await Guardrail(closed, UnreachableFallback.FailOpen).CheckAsync(Check(GuardrailMode.PreCall, "text"), CancellationToken.None)).Action);

        _answer = _ => (200, """{"action":"NONE"}""", TimeSpan.FromSeconds(5));
        var slow = await Guardrail(timeout: TimeSpan.FromMilliseconds(200)).CheckAsync(Check(GuardrailMode.PreCall, "text"), CancellationToken.None);
        Assert.Equal(GuardrailAction.Block, slow.Action);
        Assert.Contains("did not answer within 0.2 s", slow.Reason);
        Assert.Equal(1, slow.Counts["unreachable"]);
    }
}
