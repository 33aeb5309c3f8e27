using System.Net;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Pricing;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>
/// A key limited to some models is never served by a fallback group it may not use (ordinary, default, context-window
/// and content-policy fallbacks alike), and what it reserves is priced only over groups it may actually reach.
/// </summary>
[Trait("Category", "functional")]
public class FallbackAccessTests
{
    private const string Master = "sk-master-key-for-fallback-access";

    // "cheap" always fails (with the fault each test names); "premium" would answer, at gpt-4o's price.
    private static string Config(string fault, string fallbacks) => $$"""
        master_key: {{Master}}
        models:
          - {name: cheap, provider: mock, model: gpt-4o-mini, mock: {fault: "{{fault}}"} }
          - {name: premium, provider: mock, model: gpt-4o}
        router:
          num_retries: 0
        {{fallbacks}}
        """;

    [Theory]
    [InlineData("status=500", "  fallbacks: {cheap: [premium]}")]
    [InlineData("status=500", "  default_fallbacks: [premium]")]
    [InlineData("context_window", "  context_window_fallbacks: {cheap: [premium]}")]
    [InlineData("content_policy", "  content_policy_fallbacks: {cheap: [premium]}")]
    public async Task A_key_is_never_served_by_a_fallback_group_it_may_not_use(string fault, string fallbacks)
    {
        await using var g = await GatewayServer.StartAsync(Config(fault, fallbacks));
        var limited = await g.GenerateKeyAsync("""{"models": ["cheap"]}""", Master);
        using (var refused = await g.ChatAsync(limited, "cheap"))
        {
            Assert.NotEqual(HttpStatusCode.OK, refused.StatusCode);
            Assert.False(refused.Headers.Contains("x-agw-model-group"), "no deployment may have served the limited key");
            var body = await refused.Content.ReadAsStringAsync();
            Assert.Contains("\"error\"", body, StringComparison.Ordinal);
        }

        // The same fallback serves a key that may use both groups.
        var both = await g.GenerateKeyAsync("""{"models": ["cheap", "premium"]}""", Master);
        using var served = await g.ChatAsync(both, "cheap");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("premium", served.Headers.GetValues("x-agw-model-group").Single());
    }

    [Fact]
    public async Task The_reservation_is_priced_over_the_groups_the_caller_may_reach_and_no_others()
    {
        await using var g = await GatewayServer.StartAsync(Config("status=500", "  fallbacks: {cheap: [premium]}"));
        var runtime = g.Services.GetRequiredService<RuntimeHolder>().Current;
        Assert.True(runtime.Catalog.TryResolve("cheap", out var group));
        var body = System.Text.Encoding.UTF8.GetBytes(Chat.Request("cheap", extra: ",\"max_tokens\":1000"));
        Assert.Null(RequestReader.TryParse(body, LlmOperation.ChatCompletions, out var parsed));
        const long prompt = 20;

        var onlyCheap = Reservation.For(runtime, CallerFor(["cheap"]), group, parsed, LlmOperation.ChatCompletions, prompt);
        var withPremium = Reservation.For(runtime, CallerFor(["cheap", "premium"]), group, parsed, LlmOperation.ChatCompletions, prompt);

        Assert.Equal(PriceBook.Find("gpt-4o-mini")!.Estimate(prompt, 1000), onlyCheap.Cost);
        Assert.Equal(PriceBook.Find("gpt-4o")!.Estimate(prompt, 1000), withPremium.Cost);
        Assert.Equal(prompt + 1000, onlyCheap.Tokens);
    }

    [Fact]
    public async Task Without_max_tokens_the_reservation_takes_the_models_maximum_output_times_n()
    {
        await using var g = await GatewayServer.StartAsync("""
            models:
              - {name: known, provider: mock, model: gpt-4o}
              - {name: configured, provider: mock, model: gpt-4o, max_output_tokens: 500}
              - {name: unknown, provider: mock, model: house-model, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
            budgets: {default_max_output_tokens: 3000}
            """);
        var runtime = g.Services.GetRequiredService<RuntimeHolder>().Current;
        long Reserved(string model, string extra = "")
        {
            Assert.True(runtime.Catalog.TryResolve(model, out var group));
            var body = System.Text.Encoding.UTF8.GetBytes(Chat.Request(model, extra: extra));
            Assert.Null(RequestReader.TryParse(body, LlmOperation.ChatCompletions, out var parsed));
            return Reservation.For(runtime, CallerFor([]), group, parsed, LlmOperation.ChatCompletions, 10).Tokens - 10;
        }
        Assert.Equal(16_384, Reserved("known"));
        Assert.Equal(4 * 16_384, Reserved("known", ",\"n\":4"));
        Assert.Equal(500, Reserved("configured"));
        Assert.Equal(3000, Reserved("unknown"));
        Assert.Equal(2 * 64, Reserved("unknown", ",\"n\":2,\"max_completion_tokens\":64"));
    }

    private static Caller CallerFor(IReadOnlyList<string> models) => new(false, new KeyIdentity(
        new VirtualKey { Token = "t", KeyName = "k", Models = models, Limits = new LimitSettings { MaxBudget = 10 } }, null, null));
}
