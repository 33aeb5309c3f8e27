using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;

namespace AgenticGateway.Tests.Pricing;

[Trait("Category", "unit")]
public class PriceBookTests
{
    public static TheoryData<string> RequiredModels => new()
    {
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o1-mini", "o3", "o3-mini", "o4-mini",
        "gpt-3.5-turbo", "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
        "claude-3-5-sonnet", "claude-3-5-haiku", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-3-haiku",
        "gemini-1.5-pro", "gemini-1.5-flash", "gemini-2.0-flash", "gemini-2.5-pro", "gemini-2.5-flash",
        "deepseek-chat", "deepseek-reasoner", "mistral-large-latest", "llama-3.1-8b-instant", "mock-gpt",
    };

    [Theory]
    [MemberData(nameof(RequiredModels))]
    public void Common_models_have_a_built_in_price(string model)
    {
        var price = PriceBook.Find(model);
        Assert.NotNull(price);
        Assert.True(price.InputPerToken > 0);
        Assert.True(price.OutputPerToken > 0 || model.StartsWith("text-embedding", StringComparison.Ordinal));
        Assert.True(price.CachedInputPerToken is null || price.CachedInputPerToken < price.InputPerToken);
    }

    [Fact]
    public void Every_entry_is_sane()
    {
        foreach (var model in PriceBook.Models)
        {
            var p = PriceBook.Find(model)!;
            // Nothing in the table costs more than $100 per million tokens: catches a slip of the decimal point.
            Assert.InRange(p.InputPerToken, 0.000000001m, 0.0001m);
            Assert.InRange(p.OutputPerToken, 0m, 0.0001m);
        }
    }

    [Fact]
    public void Known_prices()
    {
        var gpt4o = PriceBook.Find("gpt-4o")!;
        Assert.Equal(0.0000025m, gpt4o.InputPerToken);
        Assert.Equal(0.00001m, gpt4o.OutputPerToken);
        Assert.Equal(0.00000125m, gpt4o.CachedInputPerToken);
        Assert.Equal(0.00000015m, PriceBook.Find("gpt-4o-mini")!.InputPerToken);
        Assert.Equal(0.000015m, PriceBook.Find("claude-opus-4")!.InputPerToken);
        Assert.Equal(0.0000025m, PriceBook.Find("gemini-2.5-flash")!.ReasoningPerToken);
    }

    [Theory]
    [InlineData("GPT-4o", "gpt-4o")]
    [InlineData("openai/gpt-4o", "gpt-4o")]
    [InlineData("azure/gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("openrouter/openai/gpt-4.1", "gpt-4.1")]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("openai/gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("o1-2024-12-17", "o1")]
    [InlineData("claude-3-5-sonnet-20241022", "claude-3-5-sonnet")]
    [InlineData("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4")]
    [InlineData("claude-3-7-sonnet-latest", "claude-3-7-sonnet")]
    [InlineData("claude-3-5-haiku-latest", "claude-3-5-haiku")]
    [InlineData("gemini/gemini-1.5-flash-002", "gemini-1.5-flash")]
    [InlineData("groq/llama-3.1-8b-instant", "llama-3.1-8b-instant")]
    [InlineData("mistral/mistral-large-latest", "mistral-large-latest")]
    [InlineData(" deepseek/DeepSeek-Chat ", "deepseek-chat")]
    [InlineData("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet")]
    [InlineData("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5")]
    [InlineData("bedrock/eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5")]
    [InlineData("claude-opus-4-1-20250805", "claude-opus-4-1")]
    public void Lookup_strips_provider_prefixes_and_date_or_version_suffixes(string name, string expected)
    {
        Assert.Same(PriceBook.Find(expected), PriceBook.Find(name));
    }

    [Fact]
    public void An_exact_entry_wins_over_suffix_stripping()
    {
        // The first gpt-4o snapshot kept its higher launch price.
        Assert.Equal(0.000005m, PriceBook.Find("gpt-4o-2024-05-13")!.InputPerToken);
        Assert.Equal(0.0000015m, PriceBook.Find("gpt-3.5-turbo-instruct")!.InputPerToken);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("my-finetune")]
    [InlineData("openai/*")]
    [InlineData("-latest")]
    [InlineData("gpt-4o-x")]
    [InlineData("2024-08-06")]
    public void Unknown_models_have_no_price(string? name)
    {
        Assert.Null(PriceBook.Find(name!));
    }

    [Fact]
    public void Every_model_of_the_embedded_defaults_has_a_price_so_the_default_gateway_reports_costs()
    {
        var options = EmbeddedDefaults.Load().Options!;
        Assert.NotEmpty(options.Deployments);
        foreach (var d in options.Deployments)
        {
            var deployment = PricingTestData.Deployment(d);
            Assert.NotNull(deployment.Price);
            Assert.True(deployment.Price.Cost(new Usage(100, 100)) > 0, d.ModelName);
        }
        // The emulator's own model is documented as priced like gpt-4o-mini.
        Assert.Equal(PriceBook.Find("gpt-4o-mini"), PriceBook.Find("mock-gpt"));
    }
}
