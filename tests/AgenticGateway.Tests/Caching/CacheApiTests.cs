using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The cache API on a local cache: storing and looking up by request, per-tenant partitions (a key of another team
/// neither sees nor deletes an entry; the admin acts on any), LiteLLM's ping/delete/flushall, invalidation, stats,
/// and bad input answered with 4xx in OpenAI's error shape.
/// </summary>
[Trait("Category", "functional")]
public sealed class CacheApiTests : IAsyncLifetime
{
    private const string Master = "sk-cache-api-master";
    private GatewayServer _gateway = null!;
    private string _teamA1 = "", _teamA2 = "", _teamB = "", _solo = "", _teamAPartition = "", _teamBPartition = "";

    public async Task InitializeAsync()
    {
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: mock{"}"}
              - {"{"}name: other, provider: mock{"}"}
            cache:
              type: local
              ttl: 600
            """);
        var (_, a) = await _gateway.AdminAsync("/team/new", """{"team_alias":"a"}""", Master);
        var (_, b) = await _gateway.AdminAsync("/team/new", """{"team_alias":"b"}""", Master);
        var teamA = a.GetProperty("team_id").GetString();
        var teamB = b.GetProperty("team_id").GetString();
        foreach (var user in new[] { "alice", "bob" }) await _gateway.AdminAsync("/user/new", $$"""{"user_id":"{{user}}"}""", Master);
        _teamA1 = await KeyAsync($$"""{"team_id":"{{teamA}}","user_id":"alice"}""");
        _teamA2 = await KeyAsync($$"""{"team_id":"{{teamA}}","user_id":"bob"}""");
        _teamB = await KeyAsync($$"""{"team_id":"{{teamB}}"}""");
        // A key without a team: its partition is its own, so it may store and delete there.
        _solo = await KeyAsync("""{"user_id":"alice"}""");
        _teamAPartition = "team:" + teamA;
        _teamBPartition = "team:" + teamB;
    }

    private async Task<string> KeyAsync(string json)
    {
        var (status, body) = await _gateway.AdminAsync("/key/generate", json, Master);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("key").GetString()!;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private const string Request = """{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of France?"}]}""";
    private const string Answer = """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}""";

    private Task<(HttpStatusCode Status, JsonElement Body)> Call(string path, string? json, string key, HttpMethod? method = null) => _gateway.AdminAsync(path, json, key, method);

    private static void AssertError(HttpStatusCode expected, (HttpStatusCode Status, JsonElement Body) got, string? param = null)
    {
        Assert.Equal(expected, got.Status);
        var error = got.Body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.True(error.TryGetProperty("type", out _));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_stored_answer_is_found_by_its_team_and_by_no_other()
    {
        // The team's partition is shared: the admin stores there, naming it.
        var (status, stored) = await Call("/cache/store", $$"""{"request":{{Request}},"response":{{Answer}},"ttl":60,"partition":"{{_teamAPartition}}"}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var key = stored.GetProperty("entry").GetProperty("key").GetString()!;

        var (_, sameTeam) = await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamA2);
        Assert.True(sameTeam.GetProperty("hit").GetBoolean(), sameTeam.ToString());
        Assert.Equal(key, sameTeam.GetProperty("key").GetString());
        Assert.Equal("Paris.", sameTeam.GetProperty("entry").GetProperty("response").GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(12, sameTeam.GetProperty("entry").GetProperty("usage").GetProperty("prompt_tokens").GetInt64());
        // Member order and fields that never reach the answer do not change the key.
        var (_, reordered) = await Call("/cache/lookup", """{"request":{"messages":[{"role":"user","content":"What is the capital of France?"}],"user":"x","model":"gpt-4o"}}""", _teamA2);
        Assert.True(reordered.GetProperty("hit").GetBoolean());

        var (_, otherTeam) = await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamB);
        Assert.False(otherTeam.GetProperty("hit").GetBoolean());
        Assert.NotEqual(key, otherTeam.GetProperty("key").GetString());
        // Another team can neither name the partition nor touch the entry by its key.
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/lookup", $$"""{"request":{{Request}},"partition":"{{sameTeam.GetProperty("partition").GetString()}}"}""", _teamB), "partition");
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/invalidate/" + key, null, _teamB, HttpMethod.Delete));
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/delete", $$"""{"keys":["{{key}}"]}""", _teamB));
        Assert.True((await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamA1)).Body.GetProperty("hit").GetBoolean());

        // The admin sees a tenant's partition when it names it, and may delete there.
        var (_, asAdmin) = await Call("/cache/lookup", $$"""{"request":{{Request}},"partition":"{{sameTeam.GetProperty("partition").GetString()}}"}""", Master);
        Assert.True(asAdmin.GetProperty("hit").GetBoolean());
        var (okStatus, invalidated) = await Call("/cache/invalidate/" + key, null, Master, HttpMethod.Delete);
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal(1, invalidated.GetProperty("deleted").GetInt64());
        Assert.False((await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamA1)).Body.GetProperty("hit").GetBoolean());
    }

    [Fact]
    public async Task Warmup_stores_all_or_nothing_and_invalidation_by_model_and_user_removes_them()
    {
        var other = Request.Replace("gpt-4o", "other");
        var (status, warm) = await Call("/cache/warmup", $$"""{"entries":[{"request":{{Request}},"response":{{Answer}}},{"request":{{other}},"response":{{Answer}}}]}""", _solo);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, warm.GetProperty("stored").GetInt32());
        // One bad entry: nothing stored, the error names it.
        AssertError(HttpStatusCode.BadRequest, await Call("/cache/warmup", $$"""{"entries":[{"request":{{Request.Replace("France", "Spain")}},"response":{{Answer}}},{"request":{{Request}},"response":"Paris"}]}""", _solo), "entries[1].response");
        Assert.False((await Call("/cache/lookup", $$"""{"request":{{Request.Replace("France", "Spain")}}}""", _solo)).Body.GetProperty("hit").GetBoolean());

        // Only the admin invalidates a model (every tenant's entries); a key only its own user's.
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/invalidate-model/other", null, _teamA1, HttpMethod.Delete));
        var (_, byModel) = await Call("/cache/invalidate-model/other", null, Master, HttpMethod.Delete);
        Assert.Equal(1, byModel.GetProperty("deleted").GetInt64());
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/invalidate-user/alice", null, _teamA2, HttpMethod.Delete));
        var (_, byUser) = await Call("/cache/invalidate-user/alice", null, _teamA1, HttpMethod.Delete);
        Assert.Equal(1, byUser.GetProperty("deleted").GetInt64());
        Assert.False((await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _solo)).Body.GetProperty("hit").GetBoolean());
    }

    [Fact]
    public async Task Ping_stats_and_flushall_answer_in_litellm_shapes_and_flush_is_the_admins()
    {
        var (status, ping) = await Call("/cache/ping", null, _teamB);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", ping.GetProperty("status").GetString());
        Assert.Equal("local", ping.GetProperty("cache_type").GetString());
        Assert.Equal("600", ping.GetProperty("litellm_cache_params").GetProperty("ttl").GetString());

        AssertError(HttpStatusCode.Forbidden, await Call("/cache/stats", null, _teamB));
        var (_, stats) = await Call("/cache/stats", null, Master);
        Assert.Equal("local", stats.GetProperty("cache_type").GetString());
        Assert.True(stats.TryGetProperty("hit_rate", out _));
        Assert.True(stats.TryGetProperty("cost_saved_usd", out _));

        Assert.Equal(HttpStatusCode.OK, (await Call("/cache/store", $$"""{"request":{{Request}},"response":{{Answer}},"partition":"{{_teamBPartition}}"}""", Master)).Status);
        Assert.True((await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamB)).Body.GetProperty("hit").GetBoolean());
        AssertError(HttpStatusCode.Forbidden, await Call("/cache/flushall", "{}", _teamB));
        var (flushStatus, flushed) = await Call("/cache/flushall", "{}", Master);
        Assert.Equal(HttpStatusCode.OK, flushStatus);
        Assert.Equal("success", flushed.GetProperty("status").GetString());
        Assert.False((await Call("/cache/lookup", $$"""{"request":{{Request}}}""", _teamB)).Body.GetProperty("hit").GetBoolean());
    }

    [Theory]
    [InlineData("/cache/lookup", """{"request":"hello"}""", "request")]
    [InlineData("/cache/lookup", """{"request":{"model":"gpt-4o"}}""", "request")]
    [InlineData("/cache/store", """{"request":{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}}""", "response")]
    [InlineData("/cache/store", """{"request":{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]},"response":{"error":{"message":"x"}}}""", "response")]
    [InlineData("/cache/store", """{"request":{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]},"response":{},"ttl":-1}""", "ttl")]
    [InlineData("/cache/store", """{"request":{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]},"response":{}}""", "request.stream")]
    [InlineData("/cache/delete", """{"keys":"abc"}""", "keys")]
    [InlineData("/cache/warmup", """{"entries":[]}""", "entries")]
    [InlineData("/cache/similarity", """{"a":"x","b":"y"}""", null)]
    public async Task Bad_input_is_a_400_in_openai_shape(string path, string json, string? param) =>
        AssertError(HttpStatusCode.BadRequest, await Call(path, json, _solo), param);

    [Fact]
    public async Task A_key_may_not_plant_or_remove_answers_its_team_is_served()
    {
        var planted = Request.Replace("France", "Italy");
        var fake = Answer.Replace("Paris.", "Madrid.");
        var calls = new (string Path, string? Json, HttpMethod? Method)[]
        {
            ("/cache/store", $$"""{"request":{{planted}},"response":{{fake}}}""", null),
            ("/cache/warmup", $$"""{"entries":[{"request":{{planted}},"response":{{fake}}}]}""", null),
            ("/cache/delete", """{"keys":["abc"]}""", null),
            ("/cache/invalidate/abc", null, HttpMethod.Delete),
        };
        foreach (var (path, json, method) in calls)
        {
            var (status, body) = await Call(path, json, _teamA1, method);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            var error = body.GetProperty("error");
            Assert.Equal("permission_error", error.GetProperty("type").GetString());
            Assert.Equal("cache_partition_shared", error.GetProperty("code").GetString());
            Assert.Contains("team", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        // Nothing was planted for the teammate; a lookup stays allowed.
        var (lookup, found) = await Call("/cache/lookup", $$"""{"request":{{planted}}}""", _teamA2);
        Assert.Equal(HttpStatusCode.OK, lookup);
        Assert.False(found.GetProperty("hit").GetBoolean());
    }

    [Fact]
    public async Task Unknown_models_missing_auth_and_a_body_that_is_not_json_are_refused()
    {
        AssertError(HttpStatusCode.NotFound, await Call("/cache/lookup", """{"request":{"model":"nope","messages":[{"role":"user","content":"hi"}]}}""", _teamA1), "request.model");
        AssertError(HttpStatusCode.Unauthorized, await Call("/cache/lookup", $$"""{"request":{{Request}}}""", "sk-not-a-key"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/cache/lookup") { Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", _teamA1);
        using var response = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"error\"", await response.Content.ReadAsStringAsync());
    }
}

/// <summary>Without a cache configured the API says so (503, LiteLLM's "Cache not initialized"), never a 500 or an empty body.</summary>
[Trait("Category", "functional")]
public sealed class CacheApiOffTests
{
    [Fact]
    public async Task The_api_answers_503_when_no_cache_is_configured()
    {
        await using var gateway = await GatewayServer.StartAsync("""
            master_key: sk-cache-off-master
            models:
              - {name: gpt-4o, provider: mock}
            """);
        var (status, body) = await gateway.AdminAsync("/cache/ping", null, "sk-cache-off-master");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("Cache not initialized", body.GetProperty("error").GetProperty("message").GetString());
    }
}
