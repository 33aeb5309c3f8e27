using System.Net;
using System.Text.Json;
using AgenticGateway.Caching;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The semantic cache end to end on a real Redis, with embeddings from the emulator's lexical model through the
/// gateway: a reworded question finds the stored answer; negation, numbers, names, tools and a high temperature are
/// refused; another team never matches; a second replica sees what the first indexed (and forgets what it flushed);
/// the embedding calls are metered in the spend log.
/// </summary>
[Trait("Category", "integration")]
public sealed class SemanticCacheRedisTests : IAsyncLifetime
{
    private const string Master = "sk-semantic-master";
    private EmulatorServer _upstream = null!;
    private GatewayServer _one = null!, _two = null!;
    private string _teamA = "", _teamB = "";

    public async Task InitializeAsync()
    {
        var redis = await RedisInstance.SharedAsync();
        _upstream = await EmulatorServer.StartAsync();
        var ns = "sem" + Guid.NewGuid().ToString("N")[..8];
        var yaml = $"""
            master_key: {Master}
            models:
              - name: gpt-4o
                provider: openai
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
              - name: embedder
                provider: openai
                model: mock-lexical-embed
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
            cache:
              type: redis-semantic
              url: redis://{redis.Endpoint}
              namespace: {ns}
              similarity_threshold: 0.8
              redis_semantic_cache_embedding_model: embedder
              max_temperature: 1.0
            guardrails:
              - guardrail_name: mask-email
                litellm_params:
                  guardrail: presidio
                  mode: post_call
                  pii_entities_config:
                    EMAIL_ADDRESS: MASK
            """;
        // Two replicas sharing Redis (each its own data directory: the second acts through the master key with the tenant's partition named).
        _one = await GatewayServer.StartAsync(yaml);
        _two = await GatewayServer.StartAsync(yaml);
        var (_, a) = await _one.AdminAsync("/team/new", """{"team_alias":"a"}""", Master);
        var (_, b) = await _one.AdminAsync("/team/new", """{"team_alias":"b"}""", Master);
        _teamA = await Key(a.GetProperty("team_id").GetString()!);
        _teamB = await Key(b.GetProperty("team_id").GetString()!);
        foreach (var g in new[] { _one, _two })
        {
            var replication = g.Services.GetRequiredService<SemanticCache>().Replication!;
            await replication.Started.WaitAsync(TimeSpan.FromSeconds(10));
            // The store's connection is made in the background too (until it is up the cache is bypassed): wait for /cache/ping.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await g.AdminAsync("/cache/ping", null, Master)).Status != HttpStatusCode.OK && DateTime.UtcNow < deadline) await Task.Delay(50);
        }
    }

    private async Task<string> Key(string team)
    {
        var (status, body) = await _one.AdminAsync("/key/generate", $$"""{"team_id":"{{team}}"}""", Master);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("key").GetString()!;
    }

    public async Task DisposeAsync()
    {
        await _one.DisposeAsync();
        await _two.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static string Request(string question, string extra = "") =>
        $$"""{"model":"gpt-4o"{{extra}},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":{{JsonSerializer.Serialize(question)}}}]}""";

    private const string Answer = """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"cached"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""";

    private async Task StoreAsync(GatewayServer g, string key, string question)
    {
        // A team's partition is shared, so only the master key stores there (naming it); the key's lookup says which it is.
        var (_, lookup) = await g.AdminAsync("/cache/lookup", $$"""{"request":{{Request(question)}},"semantic":false}""", key);
        var partition = lookup.GetProperty("partition").GetString();
        var (status, body) = await g.AdminAsync("/cache/store", $$"""{"request":{{Request(question)}},"response":{{Answer}},"partition":"{{partition}}"}""", Master);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    private static async Task<JsonElement> LookupAsync(GatewayServer g, string key, string question, string extra = "", string? partition = null)
    {
        var named = partition is null ? "" : $$""","partition":"{{partition}}" """;
        var (status, body) = await g.AdminAsync("/cache/lookup", $$"""{"request":{{Request(question, extra)}}{{named}}}""", key);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body;
    }

    [Fact]
    public async Task A_rewording_hits_and_the_guard_refuses_what_differs()
    {
        await StoreAsync(_one, _teamA, "How do I enable two-factor authentication on my account?");
        var hit = await LookupAsync(_one, _teamA, "How can I enable two-factor authentication on my account, please?");
        Assert.True(hit.GetProperty("hit").GetBoolean(), hit.ToString());
        Assert.True(hit.GetProperty("semantic").GetProperty("hit").GetBoolean());
        Assert.True(hit.GetProperty("semantic").GetProperty("best_similarity").GetDouble() >= 0.8);

        var negated = await LookupAsync(_one, _teamA, "How do I disable two-factor authentication on my account?");
        Assert.False(negated.GetProperty("hit").GetBoolean());
        Assert.Equal("polarity", negated.GetProperty("semantic").GetProperty("refused").GetString());

        await StoreAsync(_one, _teamA, "Convert 5 miles to kilometers for my running training plan");
        Assert.Equal("number", (await LookupAsync(_one, _teamA, "Convert 50 miles to kilometers for my running training plan")).GetProperty("semantic").GetProperty("refused").GetString());
        await StoreAsync(_one, _teamA, "What is the current population of Tokyo according to the latest official census data?");
        Assert.Equal("name", (await LookupAsync(_one, _teamA, "What is the current population of Osaka according to the latest official census data?")).GetProperty("semantic").GetProperty("refused").GetString());
        Assert.Equal("tools", (await LookupAsync(_one, _teamA, "What is the current population of Tokyo according to the latest official census data?", ""","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]""")).GetProperty("semantic").GetProperty("refused").GetString());
        Assert.Equal("temperature", (await LookupAsync(_one, _teamA, "What's the current population of Tokyo according to the latest official census data", ""","temperature":1.5""")).GetProperty("semantic").GetProperty("refused").GetString());
        // Within the temperature limit, a rewording hits.
        Assert.True((await LookupAsync(_one, _teamA, "What's the current population of Tokyo according to the latest official census data", ""","temperature":0.7""")).GetProperty("hit").GetBoolean());
    }

    [Fact]
    public async Task A_semantic_match_never_serves_an_answer_stored_under_other_output_guardrails()
    {
        // Two keys of one team: one with an output guardrail masking emails (from its metadata), one without.
        var (_, team) = await _one.AdminAsync("/team/new", """{"team_alias":"guarded"}""", Master);
        var teamId = team.GetProperty("team_id").GetString()!;
        var plain = await Key(teamId);
        var (status, generated) = await _one.AdminAsync("/key/generate", $$$"""{"team_id":"{{{teamId}}}","metadata":{"guardrails":["mask-email"]}}""", Master);
        Assert.True(status == HttpStatusCode.OK, generated.ToString());
        var guarded = generated.GetProperty("key").GetString()!;
        const string answer = ",\"mock_response\":\"Write to jane.doe@example.com about the trip.\"";

        async Task<(string Cache, string Body)> AskAsync(string key, string question)
        {
            using var response = await _one.PostJsonAsync("/v1/chat/completions", Request(question, answer), configure: r => r.Headers.Authorization = new("Bearer", key));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            return (response.Headers.GetValues("x-agw-cache").Single(), body);
        }

        Assert.Equal("miss", (await AskAsync(plain, "Where should I write about planning the summer trip to Lisbon?")).Cache);
        // The unmasked answer is stored (through the background writer) and a rewording by the same key finds it by meaning.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await LookupAsync(_one, plain, "Where should I write about planning the summer trip to Lisbon?", answer)).GetProperty("hit").GetBoolean() && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        // The guarded key's rewording must not be served that answer: its output guardrails differ, so it goes to the model and is masked.
        var (cache, body) = await AskAsync(guarded, "where should i write about planning the summer trip to lisbon");
        Assert.NotEqual("semantic-hit", cache);
        Assert.DoesNotContain("jane.doe@example.com", body);
        Assert.Contains("<EMAIL_ADDRESS>", body);
        Assert.Equal("semantic-hit", (await AskAsync(plain, "where should i write about planning the summer trip to lisbon")).Cache);
    }

    [Fact]
    public async Task Another_team_never_matches_and_a_second_replica_agrees()
    {
        await StoreAsync(_one, _teamA, "Explain how photosynthesis works in plants.");
        var partitionA = (await LookupAsync(_one, _teamA, "Explain how photosynthesis works in plants.")).GetProperty("partition").GetString();
        var otherTeam = await LookupAsync(_one, _teamB, "Explain how photosynthesis works in plants.");
        Assert.False(otherTeam.GetProperty("hit").GetBoolean());
        var partitionB = otherTeam.GetProperty("partition").GetString();

        // The other replica got the prompt through Redis (the entry itself is in Redis too).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonElement seen;
        do
        {
            seen = await LookupAsync(_two, Master, "Can you explain how photosynthesis works in plants?", partition: partitionA);
            if (seen.GetProperty("hit").GetBoolean()) break;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.True(seen.GetProperty("hit").GetBoolean(), seen.ToString());
        Assert.False((await LookupAsync(_two, Master, "Can you explain how photosynthesis works in plants?", partition: partitionB)).GetProperty("hit").GetBoolean());

        // A flush on one replica empties the other's index too.
        await _one.AdminAsync("/cache/flushall", "{}", Master);
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (_two.Services.GetRequiredService<SemanticCache>().Index.Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(0, _two.Services.GetRequiredService<SemanticCache>().Index.Count);
    }

    [Fact]
    public async Task A_replica_that_starts_later_loads_the_index_from_redis()
    {
        await StoreAsync(_one, _teamA, "Give me a recipe for banana bread.");
        var redis = await RedisInstance.SharedAsync();
        var yaml = _one.Services.GetRequiredService<AgenticGateway.Runtime.RuntimeHolder>().Current.Options.Cache;
        var index = new VectorIndex();
        using var late = new SemanticReplication($"redis://{redis.Endpoint}", yaml.Namespace, index, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await late.Started.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(index.Count >= 1);
    }

    [Fact]
    public async Task Similarity_shows_the_cosine_the_threshold_and_the_guard_and_embeddings_are_metered()
    {
        var (status, body) = await _one.AdminAsync("/cache/similarity", """{"a":"Turn on the kitchen lights","b":"Turn off the kitchen lights"}""", _teamA);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("similarity").GetDouble() > 0.5);
        Assert.Equal(0.8, body.GetProperty("threshold").GetDouble());
        Assert.Equal("polarity", body.GetProperty("guard").GetString());
        Assert.False(body.GetProperty("would_match").GetBoolean());
        var (_, same) = await _one.AdminAsync("/cache/similarity", """{"a":"What is the capital of France?","b":"Tell me France's capital"}""", _teamA);
        Assert.True(same.GetProperty("would_match").GetBoolean(), same.ToString());

        await _one.FlushSpendAsync();
        var (_, logs) = await _one.AdminAsync("/spend/logs", null, Master);
        Assert.Contains(logs.EnumerateArray(), l => l.GetProperty("model_group").GetString() == "embedder" || l.GetProperty("model").GetString()!.Contains("lexical", StringComparison.Ordinal));
    }
}
