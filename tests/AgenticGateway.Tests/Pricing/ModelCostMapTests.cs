using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Pricing;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Pricing;

/// <summary>LiteLLM's model_prices_and_context_window.json, shipped with the gateway and read as data.</summary>
[Trait("Category", "unit")]
public class ModelCostMapTests
{
    [Fact]
    public void The_shipped_copy_of_litellms_map_loads_whole_and_without_warnings()
    {
        var map = ModelCostMap.Shipped;
        Assert.Empty(map.Warnings);
        Assert.True(map.Count > 2500, $"{map.Count} models");
        // LiteLLM's gpt-4o entry, field by field.
        var gpt4o = map.Find("gpt-4o")!;
        Assert.Equal(0.0000025m, gpt4o.Price!.InputPerToken);
        Assert.Equal(0.00001m, gpt4o.Price.OutputPerToken);
        Assert.Equal(0.00000125m, gpt4o.Price.CachedInputPerToken);
        Assert.Equal((128000, 16384, 16384, "chat", "openai"), (gpt4o.MaxInputTokens, gpt4o.MaxOutputTokens, gpt4o.MaxTokens, gpt4o.Mode, gpt4o.Provider));
        Assert.Equal(0.00000375m, map.Find("claude-sonnet-4-5-20250929")!.CacheCreationInputPerToken);
    }

    [Theory]
    // Models the curated table never listed: priced now, from LiteLLM's map, by the deployment's provider and model.
    [InlineData("gpt-5-mini", "openai", 0.00000025, 0.000002)]
    [InlineData("llama-3.3-70b-versatile", "groq", 0.00000059, 0.00000079)]
    [InlineData("gemini-2.5-flash-lite", "gemini", 0.0000001, 0.0000004)]
    [InlineData("groq/llama-3.3-70b-versatile", null, 0.00000059, 0.00000079)]
    public void Common_models_beyond_the_curated_table_are_priced(string model, string? provider, double input, double output)
    {
        var price = PriceBook.Find(model, provider);
        Assert.NotNull(price);
        Assert.Equal((decimal)input, price.InputPerToken);
        Assert.Equal((decimal)output, price.OutputPerToken);
    }

    [Fact]
    public void A_deployment_is_priced_and_sized_from_the_map_and_its_configured_price_still_wins()
    {
        var options = ConfigLoader.Load("""
            model_list:
              - model_name: fast
                litellm_params: {model: groq/llama-3.3-70b-versatile, api_key: k}
              - model_name: mine
                litellm_params: {model: openai/gpt-5-mini, api_key: k, input_cost_per_token: 0.000001, output_cost_per_token: 0.000003}
            """, "config.yaml", new Dictionary<string, string>()).Options!;
        var fast = options.Deployments[0];
        Assert.Equal(0.00000059m, fast.ResolvedPrice!.InputPerToken);
        Assert.Equal(32768, fast.ResolvedMaxOutputTokens);
        var mine = options.Deployments[1];
        Assert.Equal(0.000001m, mine.ResolvedPrice!.InputPerToken);
        Assert.Equal(0.000003m, mine.ResolvedPrice.OutputPerToken);
    }

    [Fact]
    public void A_dated_snapshot_gets_its_own_price_from_the_map_not_its_familys()
    {
        // gpt-3.5-turbo-1106 has its own entry in LiteLLM's map ($1/$2); stripping the suffix would give gpt-3.5-turbo's $0.50/$1.50.
        var snapshot = PriceBook.Find("gpt-3.5-turbo-1106")!;
        Assert.Equal((0.000001m, 0.000002m), (snapshot.InputPerToken, snapshot.OutputPerToken));
    }

    [Fact]
    public void The_curated_table_wins_over_the_shipped_map()
    {
        // mock-gpt is ours alone; claude-3-5-haiku keeps Anthropic's published $0.80 (see PriceBook).
        Assert.Null(ModelCostMap.Shipped.Find("mock-gpt"));
        Assert.NotNull(PriceBook.Find("mock-gpt"));
        Assert.Equal(0.0000008m, PriceBook.Find("claude-3-5-haiku-20241022", "anthropic")!.InputPerToken);
    }

    [Fact]
    public void A_rerank_model_costs_its_price_per_query_per_request()
    {
        var entry = ModelCostMap.Shipped.Find("amazon.rerank-v1:0")!;
        Assert.Equal("rerank", entry.Mode);
        Assert.Equal(0.001m, entry.Price!.PerRequest);
        Assert.Equal(0.001m, entry.Price.Cost(new AgenticGateway.OpenAi.Usage(120, 0)));
    }

    [Fact]
    public void Unused_fields_are_ignored_and_a_malformed_entry_is_skipped_with_a_warning()
    {
        const string json = """
            {
              "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0},
              "last_updated": "2026-07-24T18:23:43Z",
              "fallback_generalizations": [{"pattern": "claude-*"}],
              "good-model": {
                "input_cost_per_token": 1e-06, "output_cost_per_token": 2.5E-06, "max_input_tokens": 1000, "max_tokens": 500,
                "mode": "chat", "litellm_provider": "acme", "supported_regions": ["eu"], "search_context_cost_per_query": {"low": 0.1},
                "supports_vision": true, "input_cost_per_token_above_200k_tokens": 2e-06, "deprecation_date": null
              },
              "string-price": {"input_cost_per_token": "cheap", "output_cost_per_token": 1e-06},
              "negative": {"input_cost_per_token": -1e-06},
              "fractional-window": {"input_cost_per_token": 1e-06, "max_input_tokens": 12.5},
              "image-only": {"output_cost_per_image": 0.04, "mode": "image_generation"},
              "after": {"input_cost_per_token": 3e-06, "output_cost_per_token": 4e-06}
            }
            """;
        var map = ModelCostMap.Parse(Encoding.UTF8.GetBytes(json), "test.json");
        var good = map.Find("GOOD-MODEL")!;
        Assert.Equal(0.000001m, good.Price!.InputPerToken);
        Assert.Equal(0.0000025m, good.Price.OutputPerToken);
        Assert.Equal((1000, 500, 500, "chat", "acme"), (good.MaxInputTokens, good.MaxOutputTokens, good.MaxTokens, good.Mode, good.Provider));
        Assert.Null(map.Find("image-only")!.Price);
        Assert.Equal(0.000003m, map.Find("after")!.Price!.InputPerToken);
        Assert.Null(map.Find("sample_spec"));
        Assert.Null(map.Find("string-price"));
        Assert.Equal(3, map.Warnings.Count);
        Assert.Contains("test.json: model 'string-price' skipped: input_cost_per_token is not a price in dollars", map.Warnings);
        Assert.Contains("test.json: model 'negative' skipped: input_cost_per_token is not a price in dollars", map.Warnings);
        Assert.Contains("test.json: model 'fractional-window' skipped: max_input_tokens is not a token count", map.Warnings);

        Assert.Throws<JsonException>(() => ModelCostMap.Parse("[1, 2]"u8, "list.json"));
    }

    [Fact]
    public void An_unreadable_operator_map_is_reported_and_the_built_in_one_serves()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "{ not json");
            var (map, error) = ModelCostMap.LoadOperator(file);
            Assert.Null(map);
            Assert.StartsWith($"AGW_MODEL_COST_MAP={file}: cannot read the model cost map (", error, StringComparison.Ordinal);
            Assert.EndsWith("the built-in copy is used", error, StringComparison.Ordinal);
            Assert.Equal((null, null), ModelCostMap.LoadOperator(null));
            Assert.NotNull(ModelCostMap.LoadOperator(Path.Combine(file, "missing")).Error);
        }
        finally { File.Delete(file); }
    }
}

/// <summary>/model/info carries the map's context window and mode, as LiteLLM's does.</summary>
[Trait("Category", "functional")]
public class ModelInfoContextWindowTests
{
    [Fact]
    public async Task Model_info_shows_max_tokens_max_input_tokens_and_mode_from_the_map()
    {
        await using var g = await GatewayServer.StartAsync("""
            master_key: sk-model-info
            models:
              - {name: gpt-4o, provider: openai, model: gpt-4o, api_key: k}
              - {name: mini, provider: openai, model: gpt-5-mini, api_key: k, max_input_tokens: 1000}
              - {name: local, provider: mock}
            """);
        var (status, body) = await g.AdminAsync("/model/info", null, "sk-model-info");
        Assert.Equal(HttpStatusCode.OK, status);
        var info = body.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("model_name").GetString()!, e => e.GetProperty("model_info"));
        Assert.Equal(128000, info["gpt-4o"].GetProperty("max_input_tokens").GetInt32());
        Assert.Equal(16384, info["gpt-4o"].GetProperty("max_output_tokens").GetInt32());
        Assert.Equal(16384, info["gpt-4o"].GetProperty("max_tokens").GetInt32());
        Assert.Equal("chat", info["gpt-4o"].GetProperty("mode").GetString());
        Assert.Equal("openai", info["gpt-4o"].GetProperty("litellm_provider").GetString());
        // Configured wins over the map.
        Assert.Equal(1000, info["mini"].GetProperty("max_input_tokens").GetInt32());
        Assert.Equal(0.00000025m, info["mini"].GetProperty("input_cost_per_token").GetDecimal());
        Assert.Equal(JsonValueKind.Null, info["local"].GetProperty("max_input_tokens").ValueKind);
    }
}
