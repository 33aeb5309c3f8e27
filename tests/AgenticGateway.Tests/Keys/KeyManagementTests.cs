using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Keys;

/// <summary>LiteLLM-compatible key management and virtual-key auth, against a real gateway with its SQLite store.</summary>
[Trait("Category", "functional")]
public class KeyManagementTests : IAsyncLifetime
{
    private const string Master = "sk-master-key-for-tests";
    private readonly string _data = Directory.CreateTempSubdirectory("agw-keys-").FullName;
    // The gateway's clock: expiry and grace periods pass when a test moves it.
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private GatewayServer _gateway = null!;

    private static readonly string Config = $"""
        master_key: {Master}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
          - {"{"}name: gpt-4o-mini, provider: mock{"}"}
          - {"{"}name: "openai/*", provider: mock, model: "*"{"}"}
        """;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync(Config, dataDirectory: _data, time: _clock);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<(HttpStatusCode Status, JsonElement Body)> Admin(HttpMethod method, string path, string? json = null, string key = Master) =>
        _gateway.AdminAsync(path, json, key, method);

    private async Task<HttpStatusCode> Chat(string key, string model = "gpt-4o")
    {
        using var response = await _gateway.ChatAsync(key, model);
        return response.StatusCode;
    }

    private Task<string> Generate(string json) => _gateway.GenerateKeyAsync(json, Master);

    [Fact]
    public async Task Generate_returns_the_secret_once_and_stores_only_its_hash()
    {
        await Admin(HttpMethod.Post, "/team/new", """{"team_id":"t1"}""");
        await Admin(HttpMethod.Post, "/user/new", """{"user_id":"u1","auto_create_key":false}""");
        var (status, body) = await Admin(HttpMethod.Post, "/key/generate",
            """{"key_alias":"ci-bot","models":["gpt-4o"],"max_budget":10.5,"rpm_limit":60,"tpm_limit":1000,"metadata":{"env":"ci"},"tags":["team-a"],"user_id":"u1","team_id":"t1","budget_duration":"30d"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var secret = body.GetProperty("key").GetString()!;
        Assert.StartsWith("sk-", secret, StringComparison.Ordinal);
        Assert.Equal(VirtualKey.HashOf(secret), body.GetProperty("token").GetString());
        Assert.Equal($"sk-...{secret[^4..]}", body.GetProperty("key_name").GetString());
        Assert.Equal(10.5m, body.GetProperty("max_budget").GetDecimal());
        Assert.Equal("ci", body.GetProperty("metadata").GetProperty("env").GetString());

        var (_, info) = await Admin(HttpMethod.Get, "/key/info?key=" + secret);
        Assert.False(info.GetProperty("info").TryGetProperty("key", out _)); // never shown again
        Assert.Equal(60, info.GetProperty("info").GetProperty("rpm_limit").GetInt32());

        // The database file holds the hash, never the secret.
        await _gateway.DisposeAsync();
        var bytes = Directory.GetFiles(_data).SelectMany(File.ReadAllBytes).ToArray();
        Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)));
        _gateway = await GatewayServer.StartAsync(Config, dataDirectory: _data);
        Assert.Equal(HttpStatusCode.OK, await Chat(secret)); // and it survives a restart
    }

    [Fact]
    public async Task A_virtual_key_is_limited_to_its_models()
    {
        var secret = await Generate("""{"models":["gpt-4o","openai/*"]}""");
        Assert.Equal(HttpStatusCode.OK, await Chat(secret, "gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, await Chat(secret, "openai/gpt-4.1"));
        Assert.Equal(HttpStatusCode.Forbidden, await Chat(secret, "gpt-4o-mini"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new("Bearer", secret);
        using var models = await _gateway.Client.SendAsync(request);
        using var doc = JsonDocument.Parse(await models.Content.ReadAsStringAsync());
        Assert.Equal(["gpt-4o"], doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        // An unknown model's 404 names only the models this key may use.
        using var unknown = await _gateway.PostJsonAsync("/v1/chat/completions", AgenticGateway.Tests.Support.Chat.Request("no-such-model"), configure: r => r.Headers.Authorization = new("Bearer", secret));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var message = JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.EndsWith("Available models: gpt-4o.", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_block_unblock_and_delete_take_effect_at_once()
    {
        var secret = await Generate("""{"key_alias":"worker","models":["gpt-4o-mini"]}""");
        Assert.Equal(HttpStatusCode.Forbidden, await Chat(secret, "gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, (await Admin(HttpMethod.Post, "/key/update", $$"""{"key":"{{secret}}","models":["gpt-4o"]}""")).Status);
        Assert.Equal(HttpStatusCode.OK, await Chat(secret, "gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, (await Admin(HttpMethod.Post, "/key/block", $$"""{"key":"{{secret}}"}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, await Chat(secret));
        Assert.Equal(HttpStatusCode.OK, (await Admin(HttpMethod.Post, "/key/unblock", $$"""{"key":"{{secret}}"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, await Chat(secret));

        var (status, deleted) = await Admin(HttpMethod.Post, "/key/delete", """{"key_aliases":["worker"]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        // LiteLLM answers with what it was given (here the alias), never the stored hash.
        Assert.Equal(["worker"], deleted.GetProperty("deleted_keys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.Unauthorized, await Chat(secret));
        Assert.Equal(HttpStatusCode.NotFound, (await Admin(HttpMethod.Get, "/key/info?key=" + secret)).Status);
    }

    [Fact]
    public async Task List_filters_and_pages()
    {
        await Admin(HttpMethod.Post, "/user/new", """{"user_id":"lister","auto_create_key":false}""");
        await Admin(HttpMethod.Post, "/user/new", """{"user_id":"someone-else","auto_create_key":false}""");
        for (var i = 0; i < 3; i++) await Generate($$"""{"user_id":"lister","key_alias":"l{{i}}"}""");
        await Generate("""{"user_id":"someone-else"}""");
        var (_, page) = await Admin(HttpMethod.Get, "/key/list?user_id=lister&size=2");
        Assert.Equal(3, page.GetProperty("total_count").GetInt32());
        Assert.Equal(2, page.GetProperty("total_pages").GetInt32());
        Assert.Equal(2, page.GetProperty("keys").GetArrayLength());
        var (_, full) = await Admin(HttpMethod.Get, "/key/list?user_id=lister&return_full_object=true&page=2&size=2");
        Assert.Equal("lister", full.GetProperty("keys")[0].GetProperty("user_id").GetString());
    }

    [Fact]
    public async Task An_expired_key_is_refused()
    {
        var secret = await Generate("""{"duration":"1s"}""");
        Assert.Equal(HttpStatusCode.OK, await Chat(secret));
        _clock.Advance(TimeSpan.FromMilliseconds(1200));
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("gpt-4o"), configure: r => r.Headers.Authorization = new("Bearer", secret));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("key_expired", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Regenerate_rotates_the_secret_with_an_optional_grace_period()
    {
        var first = await Generate("""{"key_alias":"rotating"}""");
        var (status, body) = await Admin(HttpMethod.Post, "/key/regenerate", $$"""{"key":"{{first}}"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var second = body.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.Unauthorized, await Chat(first));
        Assert.Equal(HttpStatusCode.OK, await Chat(second));
        Assert.Equal("rotating", body.GetProperty("key_alias").GetString());

        var (graceStatus, graceBody) = await Admin(HttpMethod.Post, $"/key/{second}/regenerate", """{"grace_period":"1s"}""");
        Assert.Equal(HttpStatusCode.OK, graceStatus);
        var third = graceBody.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await Chat(second)); // still valid during the grace period
        Assert.Equal(HttpStatusCode.OK, await Chat(third));
        _clock.Advance(TimeSpan.FromMilliseconds(1200));
        Assert.Equal(HttpStatusCode.Unauthorized, await Chat(second));
        Assert.Equal(HttpStatusCode.OK, await Chat(third));
    }

    [Fact]
    public async Task Only_the_master_key_manages_keys_and_bad_input_or_unknown_owners_get_a_clear_400()
    {
        var secret = await Generate("{}");
        Assert.Equal(HttpStatusCode.Forbidden, (await Admin(HttpMethod.Post, "/key/generate", "{}", key: secret)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Admin(HttpMethod.Post, "/key/generate", "{}", key: "sk-nope-nope-nope-nope")).Status);

        var (status, body) = await Admin(HttpMethod.Post, "/key/generate", """{"max_budget":"lots","models":"gpt-4o"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("max_budget", message, StringComparison.Ordinal);
        Assert.Contains("models", message, StringComparison.Ordinal);

        // A key naming a team or user that does not exist is refused once, here (LiteLLM mints it and refuses every request).
        var (teamStatus, noTeam) = await Admin(HttpMethod.Post, "/key/generate", """{"team_id":"no-such-team"}""");
        Assert.Equal(HttpStatusCode.BadRequest, teamStatus);
        Assert.StartsWith("Team doesn't exist in db. Team=no-such-team.", noTeam.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin(HttpMethod.Post, "/key/generate", """{"user_id":"no-such-user"}""")).Status);
        await Generate("""{"key_alias":"unique-alias"}""");
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin(HttpMethod.Post, "/key/generate", """{"key_alias":"unique-alias"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin(HttpMethod.Post, "/key/generate", "{not json")).Status);
    }

    [Fact]
    public async Task Without_a_master_key_key_management_is_refused()
    {
        await using var open = await GatewayServer.StartAsync("models:\n  - {name: gpt-4o, provider: mock}\n");
        using var response = await open.PostJsonAsync("/key/generate", "{}");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("no_master_key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The self-service reads too: with no client auth every caller would count as the admin.
        foreach (var read in new[] { "/key/info?key=sk-anything-at-all-here", "/user/info?user_id=u", "/team/info?team_id=t" })
        {
            using var info = await open.Client.GetAsync(read);
            Assert.Equal(HttpStatusCode.Forbidden, info.StatusCode);
        }
    }
}
