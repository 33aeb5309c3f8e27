using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>
/// Cooldowns count errors across requests: one request counts at most once per deployment however often it is
/// retried there, one request alone never takes a deployment out, and a client's own mistake never counts.
/// </summary>
[Trait("Category", "functional")]
public class OutlierDetectionTests : IAsyncLifetime
{
    private EmulatorServer _a = null!;
    private EmulatorServer _b = null!;

    public async Task InitializeAsync()
    {
        _a = await EmulatorServer.StartAsync();
        _b = await EmulatorServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private Task<GatewayServer> Gateway(string router) => GatewayServer.StartAsync($"""
        models:
          - {"{"}name: m, provider: openai_compatible, model: m, api_base: {_a.ApiBase}{"}"}
          - {"{"}name: m, provider: openai_compatible, model: m, api_base: {_b.ApiBase}{"}"}
          - {"{"}name: "w/*", provider: openai_compatible, model: "*", api_base: {_a.ApiBase}{"}"}
        router:
          retry_backoff: 10ms
          max_retry_backoff: 20ms
          cooldown_time: 60s
        {router}
        """);

    private static async Task<string[]> StatesAsync(GatewayServer gw)
    {
        using var health = JsonDocument.Parse(await gw.Client.GetStringAsync("/health"));
        return health.RootElement.GetProperty("deployments").EnumerateArray().Select(d => d.GetProperty("state").GetString()!).ToArray();
    }

    [Fact]
    public async Task One_poison_request_retried_across_every_deployment_cools_none_down()
    {
        // Four attempts alternate over the two deployments: each is hit twice by the one request, allowed_fails is 2.
        await using var gw = await Gateway("  num_retries: 3\n  allowed_fails: 2\n  strategy: round-robin");
        using (var poison = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", extra: ",\"mock_fault\":\"status=500\"")))
            Assert.Equal(HttpStatusCode.BadGateway, poison.StatusCode);
        Assert.Equal(4, _a.Engine.RequestCount + _b.Engine.RequestCount);
        Assert.All(await StatesAsync(gw), s => Assert.Equal("healthy", s));

        using var next = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Even_allowed_fails_1_needs_failures_from_two_requests()
    {
        await using var gw = await Gateway("  num_retries: 0\n  allowed_fails: 1\n  strategy: round-robin");
        var extra = ",\"mock_fault\":\"status=500\"";
        // Round robin: requests 1 and 3 land on the same deployment; only the second failure there cools it down.
        for (var i = 0; i < 2; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", extra: extra))).Dispose();
        Assert.All(await StatesAsync(gw), s => Assert.Equal("healthy", s));
        for (var i = 0; i < 2; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", extra: extra))).Dispose();
        Assert.Equal(2, (await StatesAsync(gw)).Count(s => s == "cooldown"));
    }

    [Theory]
    [InlineData("status=404")]
    [InlineData("status=403")]
    public async Task A_wildcard_request_for_a_model_the_provider_refuses_does_not_cool_the_wildcard_down(string fault)
    {
        await using var gw = await Gateway("  num_retries: 0\n  allowed_fails: 2");
        for (var i = 0; i < 3; i++)
        {
            using var refused = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("w/no-such-model", extra: $",\"mock_fault\":\"{fault}\""));
            Assert.NotEqual(HttpStatusCode.OK, refused.StatusCode);
        }
        using var ok = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("w/real-model"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
