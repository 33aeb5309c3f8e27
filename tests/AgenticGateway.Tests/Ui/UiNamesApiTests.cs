using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using AgenticGateway.Ui;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// What the admin UI's JSON adds so pages show names and honest costs: deployment names, unpriced requests, the
/// addresses the gateway listens on, sandbox owners by key alias, and /key/list newest first (LiteLLM's sort_by and
/// sort_order), against a real gateway.
/// </summary>
[Trait("Category", "functional")]
public class UiNamesApiTests : IAsyncLifetime
{
    private const string Master = "sk-ui-names-master-key-0000";
    private GatewayServer _gateway = null!;

    // A load-balanced pair (same provider and model, two hosts) and a model no price table knows.
    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync($"""
        master_key: {Master}
        models:
          - name: gpt-4o
            provider: mock
          - name: balanced
            provider: openai
            model: gpt-4o-mini
            api_key: sk-upstream-a
            api_base: http://10.0.0.1:8000/v1
          - name: balanced
            provider: openai
            model: gpt-4o-mini
            api_key: sk-upstream-b
            api_base: http://10.0.0.2:8000/v1
          - name: house-model
            provider: mock
        """);

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    [Fact]
    public async Task Deployments_are_named_by_provider_and_model_and_a_load_balanced_pair_by_host_as_well()
    {
        var (_, body) = await _gateway.AdminAsync("/ui/api/deployments", null, Master);
        var names = body.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("name").GetString()).ToList();
        Assert.Equal(["mock/gpt-4o", "openai/gpt-4o-mini @ 10.0.0.1:8000", "openai/gpt-4o-mini @ 10.0.0.2:8000", "mock/house-model"], names);
    }

    [Fact]
    public async Task The_live_log_names_the_deployment_and_flags_a_request_whose_model_is_unpriced()
    {
        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"names-key"}""", Master);
        using (var priced = await _gateway.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, priced.StatusCode);
        using (var unpriced = await _gateway.ChatAsync(key, model: "house-model")) Assert.Equal(HttpStatusCode.OK, unpriced.StatusCode);

        var (_, body) = await _gateway.AdminAsync("/ui/api/requests", null, Master);
        var data = body.GetProperty("data");
        var house = data.EnumerateArray().First(r => r.GetProperty("model").GetString() == "house-model");
        var gpt = data.EnumerateArray().First(r => r.GetProperty("model").GetString() == "gpt-4o");
        Assert.Equal("mock/house-model", house.GetProperty("deployment_name").GetString());
        Assert.True(house.GetProperty("unpriced").GetBoolean());
        Assert.Equal(0, house.GetProperty("cost").GetDecimal());
        Assert.Equal("mock/gpt-4o", gpt.GetProperty("deployment_name").GetString());
        Assert.False(gpt.GetProperty("unpriced").GetBoolean());
        Assert.True(gpt.GetProperty("cost").GetDecimal() > 0);
    }

    [Fact]
    public async Task The_server_route_gives_the_address_the_gateway_is_bound_to_and_only_to_the_admin()
    {
        var (status, body) = await _gateway.AdminAsync("/ui/api/server", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        // The test server asks for port 0: the answer is the port Kestrel actually took.
        Assert.Contains(_gateway.Url, body.GetProperty("listen_addresses").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("metrics_urls").ValueKind);

        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"not-admin"}""", Master);
        (status, _) = await _gateway.AdminAsync("/ui/api/server", null, key);
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Key_list_gives_the_newest_keys_first_when_asked_as_litellm_asks()
    {
        for (var i = 0; i < 3; i++) await _gateway.GenerateKeyAsync($$"""{"key_alias":"order-{{i}}"}""", Master);
        static async Task<List<string?>> AliasesAsync(GatewayServer g, string query)
        {
            var (status, body) = await g.AdminAsync("/key/list?return_full_object=true&size=100" + query, null, Master);
            Assert.Equal(HttpStatusCode.OK, status);
            return body.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key_alias").GetString()).Where(a => a?.StartsWith("order-", StringComparison.Ordinal) == true).ToList();
        }
        Assert.Equal(["order-2", "order-1", "order-0"], await AliasesAsync(_gateway, "&sort_by=created_at&sort_order=desc"));
        Assert.Equal(["order-2", "order-1", "order-0"], await AliasesAsync(_gateway, "&sort_by=created_at"));
        Assert.Equal(["order-0", "order-1", "order-2"], await AliasesAsync(_gateway, "&sort_by=created_at&sort_order=asc"));
        Assert.Equal(["order-0", "order-1", "order-2"], await AliasesAsync(_gateway, ""));

        var (status, error) = await _gateway.AdminAsync("/key/list?sort_by=secret_sauce", null, Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("sort_by", error.GetProperty("error").GetProperty("param").GetString());
        (status, error) = await _gateway.AdminAsync("/key/list?sort_by=created_at&sort_order=sideways", null, Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("sort_order", error.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Sandbox_owners_are_named_by_key_alias_or_user()
    {
        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"sandbox-owner"}""", Master);
        var (_, list) = await _gateway.AdminAsync("/key/list?key_alias=sandbox-owner", null, Master);
        var token = list.GetProperty("keys")[0].GetString()!;
        var keys = _gateway.Services.GetRequiredService<AgenticGateway.Keys.IKeyStore>();
        Assert.Equal("key sandbox-owner", await UiEndpoints.OwnerNameAsync("key:" + token, keys, default));
        Assert.Equal("a deleted key", await UiEndpoints.OwnerNameAsync("key:" + new string('0', 64), keys, default));
        Assert.Equal("user ada", await UiEndpoints.OwnerNameAsync("user:ada", keys, default));
        Assert.Equal("master key", await UiEndpoints.OwnerNameAsync("admin", keys, default));
        Assert.DoesNotContain(key, await UiEndpoints.OwnerNameAsync("key:" + token, keys, default), StringComparison.Ordinal);
    }
}
