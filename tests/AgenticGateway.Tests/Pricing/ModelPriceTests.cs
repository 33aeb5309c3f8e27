using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;

namespace AgenticGateway.Tests.Pricing;

[Trait("Category", "unit")]
public class ModelPriceTests
{
    private static readonly ModelPrice Plain = new() { InputPerToken = 0.000002m, OutputPerToken = 0.000008m };

    [Fact]
    public void Prompt_and_completion_tokens_are_billed_at_their_rates()
    {
        // 1,000 x $2/M + 500 x $8/M = $0.002 + $0.004
        Assert.Equal(0.006m, Plain.Cost(new Usage(1000, 500)));
        Assert.Equal(0m, Plain.Cost(new Usage(0, 0)));
    }

    [Fact]
    public void Cached_prompt_tokens_are_billed_at_the_cached_rate_and_the_rest_at_the_input_rate()
    {
        var price = Plain with { CachedInputPerToken = 0.0000005m };
        // 600 uncached x $2/M + 400 cached x $0.5/M + 0 output
        Assert.Equal(0.0012m + 0.0002m, price.Cost(new Usage(1000, 0) { CachedPromptTokens = 400 }));
    }

    [Fact]
    public void Without_a_cached_rate_cached_tokens_cost_the_input_rate()
    {
        Assert.Equal(Plain.Cost(new Usage(1000, 10)), Plain.Cost(new Usage(1000, 10) { CachedPromptTokens = 700 }));
    }

    [Fact]
    public void Reasoning_tokens_are_billed_at_the_reasoning_rate_and_default_to_the_output_rate()
    {
        var usage = new Usage(0, 1000) { ReasoningTokens = 800 };
        Assert.Equal(0.008m, Plain.Cost(usage));
        var price = Plain with { ReasoningPerToken = 0.00001m };
        // 200 x $8/M + 800 x $10/M
        Assert.Equal(0.0016m + 0.008m, price.Cost(usage));
    }

    [Fact]
    public void The_per_request_amount_is_added_once()
    {
        var price = Plain with { PerRequest = 0.005m };
        Assert.Equal(0.005m, price.Cost(new Usage(0, 0)));
        Assert.Equal(0.011m, price.Cost(new Usage(1000, 500)));
    }

    [Fact]
    public void Inconsistent_counts_are_clamped()
    {
        var price = Plain with { CachedInputPerToken = 0m, ReasoningPerToken = 0m };
        // More cached than prompt tokens: the whole prompt is cached, never a negative uncached count.
        Assert.Equal(0m, price.Cost(new Usage(100, 0) { CachedPromptTokens = 500 }));
        Assert.Equal(0m, price.Cost(new Usage(0, 100) { ReasoningTokens = 500 }));
        Assert.Equal(0m, Plain.Cost(new Usage(-5, -5)));
    }

    [Fact]
    public void All_parts_together()
    {
        var price = new ModelPrice
        {
            InputPerToken = 0.0000025m, OutputPerToken = 0.00001m, CachedInputPerToken = 0.00000125m, ReasoningPerToken = 0.000012m, PerRequest = 0.001m,
        };
        var usage = new Usage(2000, 1500) { CachedPromptTokens = 1000, ReasoningTokens = 500 };
        var expected = 1000 * 0.0000025m + 1000 * 0.00000125m + 1000 * 0.00001m + 500 * 0.000012m + 0.001m;
        Assert.Equal(expected, price.Cost(usage));
        Assert.Equal(0.02075m, price.Cost(usage));
    }

    [Fact]
    public void Estimate_is_an_upper_bound_for_any_usage_within_its_limits()
    {
        var price = new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000004m, CachedInputPerToken = 0.0000005m, ReasoningPerToken = 0.000006m, PerRequest = 0.0001m };
        var estimate = price.Estimate(1000, 300);
        Assert.Equal(1000 * 0.000001m + 300 * 0.000006m + 0.0001m, estimate);
        foreach (var cached in new long[] { 0, 500, 1000 })
        foreach (var completion in new long[] { 0, 150, 300 })
        foreach (var reasoning in new long[] { 0, completion })
        {
            var cost = price.Cost(new Usage(1000, completion) { CachedPromptTokens = cached, ReasoningTokens = reasoning });
            Assert.True(cost <= estimate, $"cost {cost} above estimate {estimate}");
        }
        Assert.Equal(0.0001m, price.Estimate(-1, -1));
    }

    [Fact]
    public void Prices_per_million_convert_exactly()
    {
        var p = ModelPrice.FromPerMillion(2.50m, 10m, 1.25m);
        Assert.Equal(0.0000025m, p.InputPerToken);
        Assert.Equal(0.00001m, p.OutputPerToken);
        Assert.Equal(0.00000125m, p.CachedInputPerToken);
        Assert.Null(p.ReasoningPerToken);
        Assert.Equal(12.5m, p.Cost(new Usage(1_000_000, 1_000_000) { CachedPromptTokens = 0 }));
    }
}
