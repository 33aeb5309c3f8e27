using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// LiteLLM's tag-based routing through the HTTP API, with the config and requests of LiteLLM's docs (proxy/tag_routing):
/// deployments with litellm_params.tags, router_settings.enable_tag_filtering, request tags in the body, in
/// metadata.tags or in the x-litellm-tags header, and the "default" tag for untagged requests.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmTagRoutingTests
{
    private static Task<GatewayServer> StartAsync(EmulatorServer upstream, bool defaultDeployment = true, string extra = "") => GatewayServer.StartAsync($"""
        model_list:
          - model_name: gpt-4
            litellm_params:
              model: openai/fake
              api_key: fake-key
              api_base: {upstream.ApiBase}
              tags: ["free"] # 👈 Key Change
            model_info:
              id: free-model
          - model_name: gpt-4
            litellm_params:
              model: openai/gpt-4o
              api_key: fake-key
              api_base: {upstream.ApiBase}
              tags: ["paid"] # 👈 Key Change
            model_info:
              id: paid-model
        {(defaultDeployment ? $"""
          - model_name: gpt-4
            litellm_params:
              model: openai/gpt-4o
              api_key: fake-key
              api_base: {upstream.ApiBase}
              tags: ["default"] # OPTIONAL - All untagged requests will get routed to this
            model_info:
              id: default-model
        """ : "")}
        router_settings:
          enable_tag_filtering: True # 👈 Key Change
          num_retries: 0
        {extra}
        general_settings:
          master_key: sk-1234
        """);

    private static async Task<(HttpStatusCode Status, string? ModelId, string Body)> ChatAsync(GatewayServer gw, string tagsJson = "", Action<HttpRequestMessage>? configure = null)
    {
        // The request of LiteLLM's docs: {"model": "gpt-4", "messages": [...], "tags": ["free"]}.
        var body = $$"""{"model": "gpt-4", "messages": [{"role": "user", "content": "Hello, Claude gm!"}]{{tagsJson}}}""";
        using var r = await gw.PostJsonAsync("/v1/chat/completions", body, configure: m => { m.Headers.Add("Authorization", "Bearer sk-1234"); configure?.Invoke(m); });
        var id = r.Headers.TryGetValues("x-litellm-model-id", out var v) ? v.Single() : null;
        return (r.StatusCode, id, await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_request_with_tags_goes_only_to_the_deployments_with_that_tag()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal((HttpStatusCode.OK, "free-model"), (await ChatAsync(gw, """, "tags": ["free"]""")) is var f ? (f.Status, f.ModelId) : default);
            Assert.Equal((HttpStatusCode.OK, "paid-model"), (await ChatAsync(gw, """, "tags": ["paid"]""")) is var p ? (p.Status, p.ModelId) : default);
        }
        // LiteLLM consumes the tags: the provider never sees them, and gets valid JSON without them.
        var sent = JsonDocument.Parse(upstream.Engine.LastRequest!.Body).RootElement;
        Assert.False(sent.TryGetProperty("tags", out _));
        Assert.Equal("gpt-4o", sent.GetProperty("model").GetString());
        Assert.Equal("Hello, Claude gm!", sent.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Tags_in_metadata_and_in_the_x_litellm_tags_header_route_too()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream);
        Assert.Equal("paid-model", (await ChatAsync(gw, """, "metadata": {"tags": ["paid"]}""")).ModelId);
        Assert.Equal("free-model", (await ChatAsync(gw, configure: m => m.Headers.Add("x-litellm-tags", "free,my-custom-tag"))).ModelId);
        // The body's tags win over the header's, as in LiteLLM.
        Assert.Equal("paid-model", (await ChatAsync(gw, """, "tags": ["paid"]""", m => m.Headers.Add("x-litellm-tags", "free"))).ModelId);
    }

    [Fact]
    public async Task Untagged_requests_and_unknown_tags_go_to_the_default_deployment()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("default-model", (await ChatAsync(gw)).ModelId);
            Assert.Equal("default-model", (await ChatAsync(gw, """, "tags": ["enterprise"]""")).ModelId);
        }
    }

    [Fact]
    public async Task Without_a_default_deployment_untagged_requests_go_anywhere_and_unknown_tags_are_refused()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream, defaultDeployment: false);
        var seen = new HashSet<string?>();
        for (var i = 0; i < 40; i++) seen.Add((await ChatAsync(gw)).ModelId);
        Assert.Equal(["free-model", "paid-model"], seen.Order());

        var (status, _, body) = await ChatAsync(gw, """, "tags": ["enterprise"]""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("Not allowed to access model due to tags configuration. Passed model=gpt-4 and tags=['enterprise']", error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task With_match_any_off_a_deployment_needs_every_request_tag()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream, extra: "  tag_filtering_match_any: false");
        Assert.Equal("free-model", (await ChatAsync(gw, """, "tags": ["free"]""")).ModelId);
        // "free" and "paid" are both known here, but no deployment has both: refused, not sent to the default.
        Assert.Equal(HttpStatusCode.BadRequest, (await ChatAsync(gw, """, "tags": ["free", "paid"]""")).Status);
    }

    [Fact]
    public async Task Without_enable_tag_filtering_tags_do_not_route_and_still_do_not_reach_the_provider()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-4
                litellm_params: {"{"}model: openai/gpt-4o, api_key: k, api_base: "{upstream.ApiBase}", tags: ["paid"]{"}"}
                model_info: {"{"}id: paid-model{"}"}
            general_settings: {"{"}master_key: sk-1234{"}"}
            """);
        var (status, id, _) = await ChatAsync(gw, """, "tags": ["free"]""");
        Assert.Equal((HttpStatusCode.OK, "paid-model"), (status, id));
        Assert.DoesNotContain("tags", upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fallback_group_none_of_whose_deployments_the_tags_allow_is_passed_over()
    {
        await using var primary = await EmulatorServer.StartAsync();
        await using var other = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-4
                litellm_params: {"{"}model: openai/gpt-4o, api_key: k, api_base: "{primary.ApiBase}", tags: [paid]{"}"}
              - model_name: team-b-only
                litellm_params: {"{"}model: openai/gpt-4o, api_key: k, api_base: "{other.ApiBase}", tags: [teamB]{"}"}
              - model_name: paid-backup
                litellm_params: {"{"}model: openai/gpt-4o-mini, api_key: k, api_base: "{other.ApiBase}", tags: [paid]{"}"}
            router_settings:
              enable_tag_filtering: true
              num_retries: 0
              fallbacks: [{"{"}gpt-4: [team-b-only, paid-backup]{"}"}]
            general_settings: {"{"}master_key: sk-1234{"}"}
            """);
        primary.Fail("status=500", count: 5);
        using var r = await gw.PostJsonAsync("/v1/chat/completions", """{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "tags": ["paid"]}""",
            configure: m => m.Headers.Add("Authorization", "Bearer sk-1234"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("paid-backup", r.Headers.GetValues("x-litellm-model-group").Single());
    }

    [Fact]
    public async Task A_request_whose_tags_are_not_strings_is_refused_in_openais_shape()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await StartAsync(upstream);
        var (status, _, body) = await ChatAsync(gw, """, "tags": "free" """);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("tags", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
