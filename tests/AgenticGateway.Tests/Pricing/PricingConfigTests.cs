using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Routing;
using static AgenticGateway.Tests.Pricing.PricingTestData;

namespace AgenticGateway.Tests.Pricing;

[Trait("Category", "unit")]
public class PricingConfigTests
{
    private static readonly ModelPrice Custom = new()
    {
        InputPerToken = 0.000001m, OutputPerToken = 0.000003m, CachedInputPerToken = 0.0000001m, ReasoningPerToken = 0.000004m, PerRequest = 0.002m,
    };

    [Fact]
    public void Own_schema_reads_every_cost_key()
    {
        var o = Load("""
            models:
              - name: gpt-4o
                provider: openai
                input_cost_per_token: 0.000001
                output_cost_per_token: 3e-6
                cache_read_input_token_cost: 0.0000001
                output_cost_per_reasoning_token: 0.000004
                input_cost_per_request: 0.002
              - name: gpt-4o-mini
                provider: openai
            """);
        Assert.Equal(Custom, o.Deployments[0].Price);
        Assert.Null(o.Deployments[1].Price);
        // The configured price replaces the built-in one.
        Assert.Equal(Custom, Deployment(o.Deployments[0]).Price);
        Assert.Equal(PriceBook.Find("gpt-4o-mini"), Deployment(o.Deployments[1]).Price);
    }

    [Fact]
    public void Own_schema_rejects_a_misspelt_cost_key_and_a_negative_cost()
    {
        var result = ConfigLoader.Load("""
            models:
              - name: m
                provider: openai
                input_cost_per_tokens: 0.000001
                cache_read_input_token_cost: -1
            """, "test.yaml", new Dictionary<string, string>());
        Assert.Null(result.Options);
        Assert.Contains("models[0].input_cost_per_tokens: unknown key", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("models[0].cache_read_input_token_cost: expected a non-negative number", StringComparison.Ordinal));
    }

    [Fact]
    public void Litellm_params_cost_keys_are_applied_without_warnings()
    {
        var result = ConfigLoader.Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params:
                  model: openai/gpt-4o
                  input_cost_per_token: 0.000001
                  output_cost_per_token: 0.000003
                  cache_read_input_token_cost: 0.0000001
                  output_cost_per_reasoning_token: 0.000004
                  input_cost_per_request: 0.002
            """, "config.yaml", new Dictionary<string, string>());
        Assert.Empty(result.Errors);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("cost", StringComparison.Ordinal));
        Assert.Equal(Custom, result.Options!.Deployments[0].Price);
    }

    [Fact]
    public void Model_info_cost_keys_are_applied_and_win_over_litellm_params_key_by_key()
    {
        var result = ConfigLoader.Load("""
            model_list:
              - model_name: my-model
                litellm_params:
                  model: openai/ft:gpt-4o-mini:acme
                  input_cost_per_token: 0.5
                  output_cost_per_token: 0.000003
                model_info:
                  id: ft-1
                  input_cost_per_token: 0.000001
                  cache_read_input_token_cost: 0.0000001
                  output_cost_per_reasoning_token: 0.000004
                  input_cost_per_request: 0.002
            """, "config.yaml", new Dictionary<string, string>());
        Assert.Empty(result.Errors);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("cost", StringComparison.Ordinal));
        Assert.Equal(Custom, result.Options!.Deployments[0].Price);
    }

    [Fact]
    public void A_partial_override_replaces_the_built_in_price_as_a_whole()
    {
        var o = Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o}
                model_info: {input_cost_per_token: 0.000002}
            """);
        var price = Deployment(o.Deployments[0]).Price!;
        Assert.Equal(0.000002m, price.InputPerToken);
        Assert.Equal(0m, price.OutputPerToken);
        Assert.Null(price.CachedInputPerToken);
        // Cached tokens then cost the configured input rate.
        Assert.Equal(0.002m, price.Cost(new Usage(1000, 0) { CachedPromptTokens = 1000 }));
    }

    [Fact]
    public void Price_resolution_prefers_config_then_upstream_model_then_public_name()
    {
        // Configured.
        Assert.Equal(0.000009m, Deployment("gpt-4o", "gpt-4o", inputCost: 0.000009m).Price!.InputPerToken);
        // Upstream model, with its date suffix, over the public name.
        Assert.Same(PriceBook.Find("gpt-4o-mini"), Deployment("gpt-4o", "gpt-4o-mini-2024-07-18").Price);
        // An Azure-style deployment name says nothing: the public name does.
        Assert.Same(PriceBook.Find("gpt-4o"), Deployment("gpt-4o", "my-eastus-deployment").Price);
        // Neither known.
        Assert.Null(Deployment("internal", "my-finetune").Price);
    }

    [Fact]
    public void A_wildcard_deployment_prices_each_upstream_model()
    {
        var d = Deployment("openai/*", "*");
        Assert.Null(d.Price);
        Assert.Same(PriceBook.Find("gpt-4.1"), d.PriceFor(d.UpstreamModel("openai/gpt-4.1")));
        Assert.Null(d.PriceFor("something-else"));
        var priced = Deployment("openai/*", "*", inputCost: 0.000001m);
        Assert.Same(priced.Price, priced.PriceFor("gpt-4.1"));
    }

    [Fact]
    public void Lowest_cost_uses_built_in_prices_and_puts_unknown_prices_last()
    {
        var group = new ModelGroup("g",
            [Deployment("g", "gpt-4o"), Deployment("g", "my-finetune"), Deployment("g", "gpt-4o-mini"), Deployment("g", "o1")],
            new LowestCostStrategy());
        for (var i = 0; i < 20; i++)
        {
            var picked = group.Deployments[group.Pick(0, new RoutingInput(false, 1), 0, out _)];
            Assert.Equal("gpt-4o-mini", picked.Options.Model);
        }
        // With the cheap ones tried, the unpriced deployment still comes after every priced one.
        var onlyPricey = new ModelGroup("h", [Deployment("h", "my-finetune"), Deployment("h", "o1")], new LowestCostStrategy());
        Assert.Equal("o1", onlyPricey.Deployments[onlyPricey.Pick(0, new RoutingInput(false, 1), 0, out _)].Options.Model);
    }

    [Fact]
    public void Lowest_cost_counts_a_per_request_price()
    {
        var perRequest = Deployment(new DeploymentOptions
        {
            Id = "per-request", ModelName = "g", Provider = "openai", Model = "x", ApiBase = new Uri("http://127.0.0.1:1/v1"),
            Price = new ModelPrice { PerRequest = 0.01m },
        });
        // gpt-4o: a 1k/1k reference request costs $0.0125; the flat $0.01 is cheaper.
        var group = new ModelGroup("g", [Deployment("g", "gpt-4o"), perRequest], new LowestCostStrategy());
        Assert.Equal("per-request", group.Deployments[group.Pick(0, new RoutingInput(false, 1), 0, out _)].Id);
    }
}
