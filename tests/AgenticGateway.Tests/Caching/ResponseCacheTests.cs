using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The exact response cache end to end, through the gateway in front of the provider emulator: hits, tenant
/// isolation, stream replay, errors never stored, per-request controls, TTL, headers and the spend log.
/// </summary>
[Trait("Category", "functional")]
public sealed class ResponseCacheTests : IAsyncLifetime
{
    private const string Master = "sk-master-key-for-cache-tests";
    private EmulatorServer _upstream = null!;

    public async Task InitializeAsync() => _upstream = await EmulatorServer.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private string Config(string cache) => $"""
        master_key: {Master}
        router: {"{"}num_retries: 0{"}"}
        models:
          - {"{"}name: gpt-4o, provider: openai, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
        cache:
        {cache}
        """;

    private Task<GatewayServer> StartAsync(string cache = "  type: local", TimeProvider? time = null) => GatewayServer.StartAsync(Config(cache), time: time);

    private static async Task<(HttpStatusCode Status, string Body, string? Cache, string? Key, string RequestId)> SendAsync(GatewayServer g, string key, string content = "hello there",
        bool stream = false, string extra = "", string? cacheControl = null)
    {
        using var response = await g.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", stream, content, extra), configure: r =>
        {
            r.Headers.Authorization = new("Bearer", key);
            if (cacheControl is not null) r.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        });
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, body, Header(response, "x-agw-cache"), Header(response, "x-litellm-cache-key"), Header(response, "x-request-id")!);
    }

    private static string? Header(HttpResponseMessage r, string name) => r.Headers.TryGetValues(name, out var v) ? v.Single() : null;

    private static string IdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!;

    private static async Task<string> TeamKeyAsync(GatewayServer g, string team)
    {
        var (status, body) = await g.AdminAsync("/team/new", $$"""{"team_id":"{{team}}"}""", Master);
        Assert.True(status == HttpStatusCode.OK || body.ToString().Contains("exists"), body.ToString());
        return await g.GenerateKeyAsync($$"""{"team_id":"{{team}}"}""", Master);
    }

    [Fact]
    public async Task An_identical_request_is_answered_from_the_cache_with_the_same_bytes_and_headers()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        var first = await SendAsync(g, key);
        var before = _upstream.Engine.RequestCount;
        // Member order and whitespace do not change the key.
        using var reordered = await g.PostJsonAsync("/v1/chat/completions", """{ "messages": [{"content":"hello there","role":"user"}], "model": "gpt-4o" }""",
            configure: r => r.Headers.Authorization = new("Bearer", key));
        var second = await reordered.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("miss", first.Cache);
        Assert.Equal("hit", Header(reordered, "x-agw-cache"));
        Assert.Equal(first.Key, Header(reordered, "x-litellm-cache-key"));
        Assert.Matches("^[0-9a-f]{64}$", first.Key);
        Assert.Equal(first.Body, second);
        Assert.Equal(before, _upstream.Engine.RequestCount);
        Assert.Equal("application/json", reordered.Content.Headers.ContentType?.MediaType);
        Assert.Equal("0", Header(reordered, "x-agw-response-cost"));

        // Another question is another entry.
        var other = await SendAsync(g, key, content: "something else");
        Assert.Equal("miss", other.Cache);
        Assert.NotEqual(first.Key, other.Key);
    }

    [Fact]
    public async Task Answers_are_shared_within_a_team_and_never_across_teams()
    {
        await using var g = await StartAsync();
        var a1 = await TeamKeyAsync(g, "team-a");
        var a2 = await TeamKeyAsync(g, "team-a");
        var b = await TeamKeyAsync(g, "team-b");
        var first = await SendAsync(g, a1);
        var otherTeam = await SendAsync(g, b);
        var sameTeam = await SendAsync(g, a2);
        var master = await SendAsync(g, Master);

        Assert.Equal("miss", first.Cache);
        Assert.Equal("miss", otherTeam.Cache);
        Assert.NotEqual(IdOf(first.Body), IdOf(otherTeam.Body));
        Assert.NotEqual(first.Key, otherTeam.Key);
        Assert.Equal("hit", sameTeam.Cache);
        Assert.Equal(first.Body, sameTeam.Body);
        Assert.Equal("miss", master.Cache);
    }

    [Fact]
    public async Task Partition_key_separates_keys_of_one_team_and_global_shares_across_teams()
    {
        await using (var g = await StartAsync("  type: local\n  partition: key"))
        {
            var a1 = await TeamKeyAsync(g, "team-a");
            var a2 = await TeamKeyAsync(g, "team-a");
            Assert.Equal("miss", (await SendAsync(g, a1)).Cache);
            Assert.Equal("miss", (await SendAsync(g, a2)).Cache);
            Assert.Equal("hit", (await SendAsync(g, a1)).Cache);
        }
        await using (var g = await StartAsync("  type: local\n  partition: global"))
        {
            var a = await TeamKeyAsync(g, "team-a");
            var b = await TeamKeyAsync(g, "team-b");
            var first = await SendAsync(g, a);
            var second = await SendAsync(g, b);
            Assert.Equal("hit", second.Cache);
            Assert.Equal(first.Body, second.Body);
        }
    }

    [Fact]
    public async Task A_stream_is_replayed_byte_for_byte_as_the_same_events()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        var first = await SendAsync(g, key, stream: true);
        using var response = await g.ChatAsync(key, stream: true);
        var replay = await response.Content.ReadAsStringAsync();
        // A non-stream request for the same question is another entry: the shapes differ.
        var json = await SendAsync(g, key);

        Assert.Equal("miss", first.Cache);
        Assert.Equal("hit", Header(response, "x-agw-cache"));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(first.Body, replay);
        Assert.Contains("data: [DONE]", replay);
        Assert.True(replay.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Length > 2, "the replay is a sequence of events");
        Assert.Equal("miss", json.Cache);
    }

    [Fact]
    public async Task Errors_and_cut_streams_are_never_stored()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        _upstream.Fail("status=500");
        var failed = await SendAsync(g, key, content: "error case");
        var after = await SendAsync(g, key, content: "error case");
        Assert.True((int)failed.Status >= 500, failed.Status.ToString());
        Assert.Equal("miss", after.Cache);
        Assert.Equal(HttpStatusCode.OK, after.Status);

        _upstream.Fail("cut=2");
        var cut = await SendAsync(g, key, content: "cut case", stream: true);
        Assert.Contains("error", cut.Body);
        var whole = await SendAsync(g, key, content: "cut case", stream: true);
        Assert.Equal("miss", whole.Cache);
        Assert.Equal("hit", (await SendAsync(g, key, content: "cut case", stream: true)).Cache);
    }

    [Fact]
    public async Task Per_request_controls_follow_LiteLLM_and_Cache_Control()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);

        // no-store: answered, not stored.
        Assert.Equal("miss", (await SendAsync(g, key, "q1", extra: ""","cache":{"no-store":true}""")).Cache);
        Assert.Equal("miss", (await SendAsync(g, key, "q1")).Cache);
        // no-cache: not answered from the cache (but stored again).
        var fresh = await SendAsync(g, key, "q1", extra: ""","cache":{"no-cache":true}""");
        Assert.Equal("bypass", fresh.Cache);
        Assert.Equal("hit", (await SendAsync(g, key, "q1")).Cache);
        // The cache member does not change the key.
        Assert.Equal("hit", (await SendAsync(g, key, "q1", extra: ""","cache":{"ttl":600}""")).Cache);
        // The HTTP header does the same.
        Assert.Equal("bypass", (await SendAsync(g, key, "q1", cacheControl: "no-cache")).Cache);
        // A namespace is another set of entries.
        var spaced = await SendAsync(g, key, "q1", extra: ""","cache":{"namespace":"eval-run-7"}""");
        Assert.Equal("miss", spaced.Cache);
        Assert.StartsWith("eval-run-7:", spaced.Key);
        Assert.Equal("hit", (await SendAsync(g, key, "q1", extra: ""","cache":{"namespace":"eval-run-7"}""")).Cache);
        // A malformed control is the client's error, in OpenAI's shape.
        var bad = await SendAsync(g, key, "q1", extra: ""","cache":{"ttl":"soon"}""");
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        var error = JsonDocument.Parse(bad.Body).RootElement.GetProperty("error");
        Assert.Equal("cache", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Entries_expire_after_their_ttl_and_s_maxage_refuses_older_ones()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var g = await StartAsync("  type: local\n  ttl: 60", clock);
        var key = await g.GenerateKeyAsync("{}", Master);
        Assert.Equal("miss", (await SendAsync(g, key, "t1")).Cache);
        Assert.Equal("miss", (await SendAsync(g, key, "t2", extra: ""","cache":{"ttl":5}""")).Cache);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("hit", (await SendAsync(g, key, "t1")).Cache);
        Assert.Equal("miss", (await SendAsync(g, key, "t2")).Cache);
        Assert.Equal("miss", (await SendAsync(g, key, "t1", extra: ""","cache":{"s-maxage":5}""")).Cache);
        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal("miss", (await SendAsync(g, key, "t1")).Cache);
    }

    [Fact]
    public async Task Default_off_caches_only_requests_that_ask()
    {
        await using var g = await StartAsync("  type: local\n  mode: default_off");
        var key = await g.GenerateKeyAsync("{}", Master);
        Assert.Equal("bypass", (await SendAsync(g, key, "d1")).Cache);
        Assert.Equal("bypass", (await SendAsync(g, key, "d1")).Cache);
        Assert.Equal("miss", (await SendAsync(g, key, "d1", extra: ""","cache":{"use-cache":true}""")).Cache);
        Assert.Equal("hit", (await SendAsync(g, key, "d1", extra: ""","cache":{"use-cache":true}""")).Cache);
    }

    [Fact]
    public async Task A_hit_is_in_the_spend_log_as_a_cache_hit_at_no_cost_and_in_the_statistics()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        var miss = await SendAsync(g, key, "spend");
        var hit = await SendAsync(g, key, "spend");
        await g.FlushSpendAsync();
        var (_, missLog) = await g.AdminAsync("/spend/logs?request_id=" + miss.RequestId, null, Master);
        var (_, hitLog) = await g.AdminAsync("/spend/logs?request_id=" + hit.RequestId, null, Master);
        var m = missLog.EnumerateArray().Single();
        var h = hitLog.EnumerateArray().Single();

        Assert.Equal("False", m.GetProperty("cache_hit").GetString());
        Assert.Equal("True", h.GetProperty("cache_hit").GetString());
        Assert.Equal(0, h.GetProperty("spend").GetDouble());
        Assert.Equal(m.GetProperty("total_tokens").GetInt64(), h.GetProperty("total_tokens").GetInt64());
        Assert.True(m.GetProperty("total_tokens").GetInt64() > 0);

        var stats = await g.Services.GetRequiredService<AgenticGateway.Caching.ICacheStatistics>().SnapshotAsync(default);
        Assert.Equal(1, stats.Hits);
        Assert.Equal(1, stats.Misses);
        Assert.Equal(m.GetProperty("completion_tokens").GetInt64(), stats.CompletionTokensSaved);
    }

    [Fact]
    public async Task Without_a_cache_section_nothing_changes()
    {
        await using var g = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: openai, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
            """);
        var key = await g.GenerateKeyAsync("{}", Master);
        var first = await SendAsync(g, key);
        var second = await SendAsync(g, key);
        Assert.Null(first.Cache);
        Assert.Null(second.Key);
        Assert.NotEqual(IdOf(first.Body), IdOf(second.Body));
    }

    [Fact]
    public async Task A_LiteLLM_config_turns_the_cache_on()
    {
        await using var g = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-4o
                litellm_params: {"{"}model: openai/gpt-4o, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
            litellm_settings:
              cache: true
              cache_params:
                type: local
                ttl: 600
                supported_call_types: ["acompletion", "aembedding"]
            general_settings:
              master_key: {Master}
            """);
        var key = await g.GenerateKeyAsync("{}", Master);
        Assert.Equal("miss", (await SendAsync(g, key)).Cache);
        var hit = await SendAsync(g, key);
        Assert.Equal("hit", hit.Cache);
        Assert.NotNull(hit.Key);
    }

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string path, string json, string key) =>
        g.PostJsonAsync(path, json, configure: r => r.Headers.Authorization = new("Bearer", key));

    [Fact]
    public async Task The_same_body_sent_to_chat_completions_and_messages_gets_an_entry_per_answer_format()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        // A body both APIs accept as it is.
        const string body = """{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"one body, two formats"}]}""";
        using var chat = await PostAsync(g, "/v1/chat/completions", body, key);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal("miss", Header(chat, "x-agw-cache"));

        using var messages = await PostAsync(g, "/v1/messages", body, key);
        var text = await messages.Content.ReadAsStringAsync();
        Assert.True(messages.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("miss", Header(messages, "x-agw-cache"));
        Assert.NotEqual(Header(chat, "x-litellm-cache-key"), Header(messages, "x-litellm-cache-key"));
        Assert.Equal("message", JsonDocument.Parse(text).RootElement.GetProperty("type").GetString());

        // Each format is then answered from its own entry, in its own shape.
        using var again = await PostAsync(g, "/v1/messages", body, key);
        Assert.Equal("hit", Header(again, "x-agw-cache"));
        Assert.Equal("message", JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        using var chatAgain = await PostAsync(g, "/v1/chat/completions", body, key);
        Assert.Equal("hit", Header(chatAgain, "x-agw-cache"));
        Assert.Equal("chat.completion", JsonDocument.Parse(await chatAgain.Content.ReadAsStringAsync()).RootElement.GetProperty("object").GetString());
    }

    [Fact]
    public async Task A_stream_that_ends_cleanly_without_its_terminal_event_is_not_stored()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        // The deployment closes its stream normally after two chunks, without data: [DONE].
        _upstream.Fail("cut=2,clean");
        var cut = await SendAsync(g, key, content: "clean cut", stream: true);
        Assert.Equal(HttpStatusCode.OK, cut.Status);
        Assert.DoesNotContain("[DONE]", cut.Body);
        var whole = await SendAsync(g, key, content: "clean cut", stream: true);
        Assert.Equal("miss", whole.Cache);
        Assert.Contains("data: [DONE]", whole.Body);
        Assert.Equal("hit", (await SendAsync(g, key, content: "clean cut", stream: true)).Cache);
    }

    [Fact]
    public async Task A_lone_surrogate_escape_is_a_400_never_a_500()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("{}", Master);
        // Valid JSON syntax, but no text: "\ud800" has no pair. The payload step refuses it on the LLM route, and the
        // cache API (which keys the request itself) does too, in OpenAI's shape.
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"hello there"}],"prompt_cache_key":"\ud800"}""";
        using var response = await PostAsync(g, "/v1/chat/completions", body, key);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (status, lookup) = await g.AdminAsync("/cache/lookup", $$"""{"request":{{body}}}""", key);
        Assert.True(status == HttpStatusCode.BadRequest, lookup.ToString());
        Assert.True(lookup.GetProperty("error").TryGetProperty("message", out _));
    }

    [Fact]
    public async Task A_during_call_guardrail_blocks_a_replay_of_a_teammates_stored_answer()
    {
        await using var g = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-4o
                litellm_params: {"{"}model: openai/gpt-4o, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
            litellm_settings:
              cache: true
              cache_params:
                type: local
            guardrails:
              - guardrail_name: words
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: during_call
                  default_on: false
                  blocked_words:
                    - {"{"}keyword: forbidden, action: BLOCK{"}"}
            general_settings:
              master_key: {Master}
            """);
        var first = await TeamKeyAsync(g, "team-guarded");
        var second = await TeamKeyAsync(g, "team-guarded");
        foreach (var stream in new[] { false, true })
        {
            // A teammate that did not ask for the guardrail is answered, and the answer stored for the team.
            var stored = await SendAsync(g, first, content: "tell me the forbidden thing", stream: stream);
            Assert.Equal(HttpStatusCode.OK, stored.Status);
            Assert.Equal("miss", stored.Cache);
            // The same request under the during_call guardrail is blocked, not replayed.
            var guarded = await SendAsync(g, second, content: "tell me the forbidden thing", stream: stream, extra: ""","guardrails":["words"]""");
            Assert.True(guarded.Status == HttpStatusCode.BadRequest, guarded.Body);
            Assert.Equal("guardrail_violation", JsonDocument.Parse(guarded.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.DoesNotContain("chatcmpl", guarded.Body, StringComparison.Ordinal);
        }
    }
}
