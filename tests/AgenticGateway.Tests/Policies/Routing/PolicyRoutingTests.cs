using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticGateway.Emulator;
using AgenticGateway.Policies;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Policies.Routing.PolicyRoutingFixture;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>Routing policies end to end: real requests through the gateway to two emulators, chosen by Cedar policies.</summary>
[Trait("Category", "functional")]
public sealed class PolicyRoutingTests : IAsyncLifetime
{
    private EmulatorServer _openai = null!;
    private EmulatorServer _vllm = null!;
    private readonly TempDirectory _dir = new("agw-policies-");
    private readonly RecordingSink _sink = new();

    public async Task InitializeAsync()
    {
        _openai = await EmulatorServer.StartAsync();
        _vllm = await EmulatorServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _openai.DisposeAsync();
        await _vllm.DisposeAsync();
        _dir.Dispose();
    }

    private sealed class RecordingSink : IRoutingDecisionSink
    {
        public ConcurrentQueue<RoutingDecision> Decisions { get; } = new();
        public bool TryWrite(RoutingDecision decision)
        {
            Decisions.Enqueue(decision);
            return true;
        }
    }

    private Task<GatewayServer> Gateway(string policies, bool dryRun = false, string strategy = "round-robin") =>
        GatewayServer.StartAsync(Config(_openai, _vllm, WritePolicies(_dir, policies), dryRun, strategy), services: s => s.AddSingleton<IRoutingDecisionSink>(_sink));

    private static Task<HttpResponseMessage> Chat(GatewayServer gw, string key, int? slaMs = null) =>
        gw.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("smart"), configure: r =>
        {
            r.Headers.Authorization = new("Bearer", key);
            if (slaMs is { } sla) r.Headers.Add("x-agw-latency-sla-ms", sla.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });

    private static string? Header(HttpResponseMessage r, string name) => r.Headers.TryGetValues(name, out var v) ? string.Join(",", v) : null;

    /// <summary>Sets a deployment's smoothed latency as if its requests had taken that long (EWMA: the first sample is the value).</summary>
    private static void MeasuredLatency(GatewayServer gw, string deployment, double ms)
    {
        var d = gw.Services.GetRequiredService<RuntimeHolder>().Current.AllDeployments.Single(x => x.Id == deployment);
        d.State.RecordSuccess(ms / 1000, null, DateTimeOffset.UtcNow.UtcTicks);
    }

    [Fact]
    public async Task Low_budget_prefers_the_vllm_deployment_and_names_the_policy()
    {
        await using var gw = await Gateway(SeedPolicies);
        var low = await gw.GenerateKeyAsync("""{"max_budget": 5}""", MasterKey);
        for (var i = 0; i < 6; i++)
        {
            using var r = await Chat(gw, low);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("policy0", Header(r, "x-agw-policy"));
        }
        Assert.Equal(6, _vllm.Engine.RequestCount);
        Assert.Equal(0, _openai.Engine.RequestCount);
        // Sampled at 1: every decision was recorded, with its reasons.
        Assert.Equal(6, _sink.Decisions.Count);
        var d = _sink.Decisions.First();
        Assert.Equal("llama-vllm", d.ChosenDeployment);
        Assert.Equal("allow", d.Decision);
        Assert.Equal("policy0", d.DecidingPolicy);
        Assert.Contains(d.Candidates, c => c.Deployment == "llama-vllm" && c.Preferred && c.Reasons.Contains("permit(@priority 100): policy0"));
        Assert.Contains(d.Candidates, c => c.Deployment == "gpt-openai" && c.Allowed && !c.Preferred);
    }

    [Fact]
    public async Task A_large_budget_has_no_preference_and_no_policy_header()
    {
        await using var gw = await Gateway(SeedPolicies);
        var rich = await gw.GenerateKeyAsync("""{"max_budget": 500}""", MasterKey);
        for (var i = 0; i < 4; i++)
        {
            using var r = await Chat(gw, rich);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Null(Header(r, "x-agw-policy"));
        }
        // Round robin, undisturbed by the policies.
        Assert.Equal(2, _vllm.Engine.RequestCount);
        Assert.Equal(2, _openai.Engine.RequestCount);
    }

    [Fact]
    public async Task A_tight_sla_forbids_the_slow_deployment_measured_by_real_traffic()
    {
        await _openai.DisposeAsync();
        _openai = await EmulatorServer.StartAsync(new MockSettings(TimeSpan.FromMilliseconds(400), TimeSpan.Zero, 0, null));
        await using var gw = await Gateway(SeedPolicies);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        // One request to each (round robin) measures both.
        for (var i = 0; i < 2; i++)
        {
            using var r = await Chat(gw, key);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(1, _openai.Engine.RequestCount);
        for (var i = 0; i < 4; i++)
        {
            using var r = await Chat(gw, key, slaMs: 200);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(1, _openai.Engine.RequestCount);
        Assert.Equal(5, _vllm.Engine.RequestCount);
        // A loose SLA (not under 500 ms) leaves the slow one in.
        for (var i = 0; i < 2; i++)
        {
            using var r = await Chat(gw, key, slaMs: 2000);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(2, _openai.Engine.RequestCount);
    }

    [Fact]
    public async Task The_sla_comes_from_key_metadata_when_the_request_names_none()
    {
        await using var gw = await Gateway(SeedPolicies);
        MeasuredLatency(gw, "gpt-openai", 900);
        MeasuredLatency(gw, "llama-vllm", 100);
        var key = await gw.GenerateKeyAsync("""{"metadata": {"latency_sla_ms": 300}}""", MasterKey);
        for (var i = 0; i < 4; i++)
        {
            using var r = await Chat(gw, key);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(0, _openai.Engine.RequestCount);
        Assert.Equal(4, _vllm.Engine.RequestCount);
    }

    [Fact]
    public async Task An_error_rate_spike_trips_the_circuit_breaker_policy()
    {
        await using var gw = await Gateway(SeedPolicies);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        _openai.Fail("status=500");
        // Round robin reaches gpt-openai within two requests; it fails, and the retry goes to llama-vllm.
        for (var i = 0; i < 2 && _openai.Engine.RequestCount == 0; i++)
        {
            using var r = await Chat(gw, key);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(1, _openai.Engine.RequestCount);
        var vllmBefore = _vllm.Engine.RequestCount;
        var (status, models) = await gw.AdminAsync("/routing/models", null, MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        var openai = models.GetProperty("data").EnumerateArray().Single(d => d.GetProperty("id").GetString() == "gpt-openai");
        Assert.Equal(1m, openai.GetProperty("current_error_rate").GetDecimal());
        Assert.False(openai.GetProperty("cooling_down").GetBoolean());
        // One failure does not cool the deployment down (allowed_fails), but the policy keeps traffic off it.
        for (var i = 0; i < 4; i++)
        {
            using var r = await Chat(gw, key);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(1, _openai.Engine.RequestCount);
        Assert.Equal(vllmBefore + 4, _vllm.Engine.RequestCount);
    }

    [Fact]
    public async Task The_highest_priority_permit_decides_and_forbid_overrides_permit()
    {
        await using var gw = await Gateway("""
            @id("prefer-openai") @priority(10)
            permit (principal, action == "routing:select_model", resource) when { resource.provider == "openai_compatible" };
            @id("prefer-vllm") @priority(50)
            permit (principal, action == "routing:select_model", resource) when { resource.provider == "vllm" };
            @id("ban-vllm-for-t1")
            forbid (principal in Team::"t1", action == "routing:select_model", resource == Deployment::"llama-vllm");
            """);
        var plain = await gw.GenerateKeyAsync("{}", MasterKey);
        using (var r = await Chat(gw, plain))
        {
            Assert.Equal("prefer-vllm", Header(r, "x-agw-policy"));
        }
        Assert.Equal(1, _vllm.Engine.RequestCount);
        var (teamStatus, team) = await gw.AdminAsync("/team/new", """{"team_id": "t1"}""", MasterKey);
        Assert.True(teamStatus == HttpStatusCode.OK, team.ToString());
        var inTeam = await gw.GenerateKeyAsync("""{"team_id": "t1"}""", MasterKey);
        for (var i = 0; i < 3; i++)
        {
            using var r = await Chat(gw, inTeam);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            // The higher permit matched only a forbidden candidate: the lower one decides.
            Assert.Equal("prefer-openai", Header(r, "x-agw-policy"));
        }
        Assert.Equal(3, _openai.Engine.RequestCount);
        Assert.Equal(1, _vllm.Engine.RequestCount);
    }

    private const string ForbidAll = """
        @id("no-openai")
        forbid (principal, action == "routing:select_model", resource) when { resource.provider == "openai_compatible" };
        @id("no-vllm")
        forbid (principal, action == "routing:select_model", resource) when { resource.provider == "vllm" };
        """;

    [Fact]
    public async Task All_forbidden_is_a_403_naming_the_policies_in_openai_shape()
    {
        await using var gw = await Gateway(ForbidAll);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        using var r = await Chat(gw, key);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using var body = await GatewayServer.JsonAsync(r);
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal("routing_policy_denied", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("no-openai", message);
        Assert.Contains("no-vllm", message);
        Assert.Equal(0, _openai.Engine.RequestCount + _vllm.Engine.RequestCount);
        var denied = Assert.Single(_sink.Decisions);
        Assert.Equal("deny", denied.Decision);
        Assert.Null(denied.ChosenDeployment);
        Assert.Equal(["no-openai", "no-vllm"], denied.Policies.ToArray());
    }

    /// <summary><c>smart</c> on the OpenAI emulator only, <c>backup</c> on the vLLM one, and <c>smart</c> falling back to <c>backup</c>.</summary>
    private Task<GatewayServer> GatewayWithFallback(string policies) => GatewayServer.StartAsync($"""
        master_key: {MasterKey}
        models:
          - name: smart
            provider: openai_compatible
            api_base: {_openai.ApiBase}
            id: gpt-openai
          - name: backup
            provider: vllm
            api_base: {_vllm.ApiBase}
            api_key: none
            id: llama-vllm
        router:
          num_retries: 0
          fallbacks: {"{"}smart: [backup]{"}"}
        routing_policies:
          file: {WritePolicies(_dir, policies)}
          decision_sample_rate: 1
        """, services: s => s.AddSingleton<IRoutingDecisionSink>(_sink));

    [Fact]
    public async Task A_group_whose_deployments_are_all_forbidden_falls_back_to_the_next_group()
    {
        await using var gw = await GatewayWithFallback("""
            @id("no-openai")
            forbid (principal, action == "routing:select_model", resource) when { resource.provider == "openai_compatible" };
            @id("any")
            permit (principal, action == "routing:select_model", resource);
            """);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        using var r = await Chat(gw, key);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(0, _openai.Engine.RequestCount);
        Assert.Equal(1, _vllm.Engine.RequestCount);
        // Both groups were judged: smart denied, backup allowed and served.
        var decisions = _sink.Decisions.ToArray();
        Assert.Contains(decisions, d => d.ModelGroup == "smart" && d.Decision == "deny");
        Assert.Contains(decisions, d => d.ModelGroup == "backup" && d.ChosenDeployment == "llama-vllm");
    }

    [Fact]
    public async Task When_every_fallback_is_forbidden_too_the_answer_is_the_403()
    {
        await using var gw = await GatewayWithFallback(ForbidAll);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        using var r = await Chat(gw, key);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using var body = await GatewayServer.JsonAsync(r);
        Assert.Equal("routing_policy_denied", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, _openai.Engine.RequestCount + _vllm.Engine.RequestCount);
        Assert.Equal(2, _sink.Decisions.Count(d => d.Decision == "deny"));
    }

    [Fact]
    public async Task All_forbidden_is_a_403_in_anthropic_shape_for_messages_clients()
    {
        await using var gw = await Gateway(ForbidAll);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        using var r = await gw.PostJsonAsync("/v1/messages", """{"model":"smart","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""",
            configure: m => m.Headers.Add("x-api-key", key));
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using var body = await GatewayServer.JsonAsync(r);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        var message = body.RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("no-openai", message);
        Assert.Contains("no-vllm", message);
    }

    [Fact]
    public async Task Dry_run_reports_what_would_happen_without_enforcing()
    {
        await using var gw = await Gateway(ForbidAll, dryRun: true);
        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        using var r = await Chat(gw, key);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("deny; policies=no-openai,no-vllm", Header(r, "x-agw-policy-dry-run"));
        Assert.Null(Header(r, "x-agw-policy"));
        var d = Assert.Single(_sink.Decisions);
        Assert.Equal("dry_run", d.Decision);
        Assert.True(d.DryRun);
    }

    [Fact]
    public async Task Dry_run_of_a_preference_reports_a_disagreement_and_routes_as_before()
    {
        await using var gw = await Gateway(SeedPolicies, dryRun: true);
        var low = await gw.GenerateKeyAsync("""{"max_budget": 5}""", MasterKey);
        var reports = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            using var r = await Chat(gw, low);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            reports.Add(Header(r, "x-agw-policy-dry-run"));
        }
        // The router kept round robin; the picks of gpt-openai are where enforcement would have differed.
        Assert.Equal(2, _openai.Engine.RequestCount);
        Assert.Equal(2, reports.Count(h => h == "allow; policy=policy0; disagrees"));
        Assert.Equal(2, reports.Count(h => h == "allow; policy=policy0"));
    }

    [Fact]
    public async Task Reload_through_the_api_keeps_the_old_set_when_a_file_is_broken()
    {
        await using var gw = await Gateway(SeedPolicies);
        var path = Path.Combine(_dir.Path, "routing-rules.cedar");
        File.WriteAllText(path, "permit (principal, action, resource)\nwhen { context.x < };\n");
        var (status, body) = await gw.AdminAsync("/policies/reload", "{}", MasterKey);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(0, body.GetProperty("loaded").GetInt32());
        Assert.Equal(3, body.GetProperty("kept").GetInt32());
        Assert.Equal("policy_load_failed", body.GetProperty("error").GetProperty("code").GetString());
        var first = body.GetProperty("errors")[0].GetString()!;
        Assert.StartsWith(path + ":2:", first);
        // The seed policies still route.
        var low = await gw.GenerateKeyAsync("""{"max_budget": 5}""", MasterKey);
        using (var r = await Chat(gw, low)) Assert.Equal("policy0", Header(r, "x-agw-policy"));
        var (_, listed) = await gw.AdminAsync("/policies", null, MasterKey);
        Assert.Equal(3, listed.GetProperty("loaded").GetInt32());
        Assert.False(listed.GetProperty("last_reload").GetProperty("succeeded").GetBoolean());

        File.WriteAllText(path, """@id("only") permit (principal, action == "routing:select_model", resource);""");
        (status, body) = await gw.AdminAsync("/policies/reload", "{}", MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("loaded").GetInt32());
        Assert.Equal(["only"], body.GetProperty("policies").EnumerateArray().Select(p => p.GetString()!).ToArray());
        Assert.Equal([path], body.GetProperty("files").EnumerateArray().Select(p => p.GetString()!).ToArray());
    }

    [Fact]
    public async Task The_file_watcher_reloads_a_change_and_keeps_the_old_set_on_a_broken_one()
    {
        await using var gw = await Gateway(SeedPolicies);
        var path = Path.Combine(_dir.Path, "routing-rules.cedar");
        File.WriteAllText(path, SeedPolicies + "\n@id(\"extra\") permit (principal, action, resource);\n");
        await WaitForAsync(gw, listed => listed.GetProperty("loaded").GetInt32() == 4);
        File.WriteAllText(path, "forbid (principal, action, resource) when { ( };");
        var after = await WaitForAsync(gw, listed => listed.TryGetProperty("last_reload", out var last) && !last.GetProperty("succeeded").GetBoolean());
        Assert.Equal(4, after.GetProperty("loaded").GetInt32());
        Assert.Contains(after.GetProperty("policies").EnumerateArray(), p => p.GetProperty("id").GetString() == "extra");
    }

    private static async Task<JsonElement> WaitForAsync(GatewayServer gw, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var (_, listed) = await gw.AdminAsync("/policies", null, MasterKey);
            if (done(listed)) return listed;
            Assert.True(DateTime.UtcNow < deadline, "the watcher did not reload: " + listed);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Route_explains_the_choice_in_seed_003s_shape()
    {
        await using var gw = await Gateway(SeedPolicies);
        MeasuredLatency(gw, "gpt-openai", 900);
        MeasuredLatency(gw, "llama-vllm", 120);
        var (status, body) = await gw.AdminAsync("/route", """{"user_id": "u1", "team_id": "t1", "requested_model": "smart", "budget_remaining": 5.0, "latency_sla_ms": 400}""", MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("smart", body.GetProperty("model").GetString());
        Assert.Equal("llama-vllm", body.GetProperty("deployment").GetString());
        Assert.Equal("vllm", body.GetProperty("provider").GetString());
        Assert.Equal("allow", body.GetProperty("decision").GetString());
        Assert.Equal(["policy0"], body.GetProperty("policies").EnumerateArray().Select(p => p.GetString()!).ToArray());
        var candidates = body.GetProperty("candidates").EnumerateArray().ToDictionary(c => c.GetProperty("deployment").GetString()!);
        Assert.False(candidates["gpt-openai"].GetProperty("allowed").GetBoolean());
        Assert.Contains("forbid: policy1", candidates["gpt-openai"].GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        Assert.True(candidates["llama-vllm"].GetProperty("preferred").GetBoolean());
        Assert.Equal("openai_compatible", candidates["gpt-openai"].GetProperty("provider").GetString());

        (status, body) = await gw.AdminAsync("/route", """{"requested_model": "nope"}""", MasterKey);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", body.GetProperty("error").GetProperty("code").GetString());
        (status, body) = await gw.AdminAsync("/route", """{"requested_model": "smart", "budget_remaining": "low"}""", MasterKey);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("budget_remaining", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Route_takes_a_large_context_quickly_and_refuses_a_body_over_a_mebibyte()
    {
        await using var gw = await Gateway(SeedPolicies);
        // 50,000 context keys fit under the limit; removing each from the derived list made this quadratic (minutes).
        var keys = string.Join(",", Enumerable.Range(0, 50_000).Select(i => $"\"k{i}\":{i}"));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (status, body) = await gw.AdminAsync("/route", "{\"requested_model\": \"smart\", \"context\": {" + keys + ", \"hour\": 3}}", MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");

        var big = "{\"requested_model\": \"smart\", \"pad\": \"" + new string('x', 1024 * 1024) + "\"}";
        foreach (var path in new[] { "/route", "/evaluate" })
        {
            (status, body) = await gw.AdminAsync(path, big, MasterKey);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
            Assert.Equal("request_too_large", body.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Evaluate_refuses_too_many_entities_and_too_large_sets()
    {
        await using var gw = await Gateway(SeedPolicies);
        var entities = string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"{{\"uid\":\"U::\\\"{i}\\\"\"}}"));
        var (status, body) = await gw.AdminAsync("/evaluate", "{\"principal\":\"U::\\\"a\\\"\",\"action\":\"Action::\\\"a\\\"\",\"resource\":\"R::\\\"r\\\"\",\"entities\":[" + entities + "]}", MasterKey);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("too_many_entities", body.GetProperty("error").GetProperty("code").GetString());

        var set = string.Join(",", Enumerable.Range(0, 10_001));
        (status, body) = await gw.AdminAsync("/evaluate", "{\"principal\":\"U::\\\"a\\\"\",\"action\":\"Action::\\\"a\\\"\",\"resource\":\"R::\\\"r\\\"\",\"context\":{\"s\":[" + set + "]}}", MasterKey);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("more than 10000 elements", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Route_without_a_measured_latency_reports_the_policy_error_and_skips_it()
    {
        await using var gw = await Gateway(SeedPolicies);
        var (status, body) = await gw.AdminAsync("/route", """{"requested_model": "smart", "latency_sla_ms": 100}""", MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("allow", body.GetProperty("decision").GetString());
        // Nothing measured yet: average_latency_ms is absent, so policy1 errors (and is skipped), as does policy0 (no budget).
        var errors = body.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(errors, e => e.StartsWith("policy1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("policy0:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Evaluate_answers_cedars_authorization_with_live_deployment_attributes()
    {
        await using var gw = await Gateway(SeedPolicies);
        var (status, body) = await gw.AdminAsync("/evaluate", """
            {"principal": "User::\"u1\"", "action": {"type": "Action", "id": "routing:select_model"},
             "resource": {"__entity": {"type": "Deployment", "id": "llama-vllm"}}, "context": {"cost_budget_remaining": 5.0}}
            """, MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("allow", body.GetProperty("decision").GetString());
        Assert.Equal(["policy0"], body.GetProperty("policies").EnumerateArray().Select(p => p.GetString()!).ToArray());

        // Given attributes override the live ones: an error rate over 5% is forbidden.
        (status, body) = await gw.AdminAsync("/evaluate", """
            {"principal": "User::\"u1\"", "action": "Action::\"routing:select_model\"", "resource": "Deployment::\"llama-vllm\"",
             "context": {"cost_budget_remaining": 5.0},
             "entities": [{"uid": {"type": "Deployment", "id": "llama-vllm"}, "attrs": {"current_error_rate": {"__extn": {"fn": "decimal", "arg": "0.5"}}}, "parents": []}]}
            """, MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("deny", body.GetProperty("decision").GetString());
        Assert.Equal(["policy2"], body.GetProperty("policies").EnumerateArray().Select(p => p.GetString()!).ToArray());

        (status, body) = await gw.AdminAsync("/evaluate", """{"principal": "not an entity", "action": "Action::\"a\"", "resource": "R::\"r\""}""", MasterKey);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("principal", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Models_lists_live_deployment_metrics_for_admins_only()
    {
        await using var gw = await Gateway(SeedPolicies);
        MeasuredLatency(gw, "gpt-openai", 250);
        var (status, body) = await gw.AdminAsync("/v1/models", null, MasterKey);
        Assert.Equal(HttpStatusCode.OK, status);
        var smart = body.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "smart");
        Assert.Equal("model", smart.GetProperty("object").GetString());
        var deployments = smart.GetProperty("deployments").EnumerateArray().ToDictionary(d => d.GetProperty("id").GetString()!);
        Assert.Equal(250m, deployments["gpt-openai"].GetProperty("average_latency_ms").GetDecimal());
        Assert.Equal(JsonValueKind.Null, deployments["llama-vllm"].GetProperty("average_latency_ms").ValueKind);
        Assert.Equal(0, deployments["llama-vllm"].GetProperty("in_flight").GetInt32());

        var key = await gw.GenerateKeyAsync("{}", MasterKey);
        (status, body) = await gw.AdminAsync("/v1/models", null, key);
        Assert.Equal(HttpStatusCode.OK, status);
        var plain = body.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "smart");
        Assert.False(plain.TryGetProperty("deployments", out _));
        Assert.Equal(["created", "id", "object", "owned_by"], plain.EnumerateObject().Select(p => p.Name).Order().ToArray());

        foreach (var (path, json) in new[] { ("/route", """{"requested_model": "smart"}"""), ("/evaluate", "{}"), ("/policies", null), ("/policies/reload", "{}"), ("/routing/models", null) })
        {
            (status, _) = await gw.AdminAsync(path, json, key);
            Assert.True(status == HttpStatusCode.Forbidden, $"{path}: {status}");
        }
    }
}

/// <summary>A config reload that changes routing_policies re-reads them; one that removes the section turns them off.</summary>
[Trait("Category", "functional")]
public sealed class PolicyConfigReloadTests : IAsyncLifetime
{
    private EmulatorServer _openai = null!;
    private EmulatorServer _vllm = null!;
    private readonly TempDirectory _dir = new("agw-policies-reload-");

    public async Task InitializeAsync()
    {
        _openai = await EmulatorServer.StartAsync();
        _vllm = await EmulatorServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _openai.DisposeAsync();
        await _vllm.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_config_reload_loads_the_new_file_and_removing_the_section_turns_policies_off()
    {
        var first = WritePolicies(_dir, SeedPolicies);
        await using var gw = await GatewayServer.StartAsync(Config(_openai, _vllm, first));
        var policies = gw.Services.GetRequiredService<RoutingPolicies>();
        Assert.Equal(3, policies.Current!.Set.Policies.Length);
        var second = WritePolicies(_dir, """@id("one") permit (principal, action, resource);""", "other.cedar");
        var runtimes = gw.Services.GetRequiredService<RuntimeHolder>();
        var reloaded = AgenticGateway.Configuration.ConfigLoader.Load(Config(_openai, _vllm, second, dryRun: true), "test.yaml", new Dictionary<string, string>());
        runtimes.Swap(reloaded.Options!);
        Assert.Equal(["one"], policies.Current!.Set.Policies.Select(p => p.Id).ToArray());
        Assert.True(policies.Current.Options.DryRun);

        var off = AgenticGateway.Configuration.ConfigLoader.Load(Config(_openai, _vllm, second).Split("routing_policies:")[0], "test.yaml", new Dictionary<string, string>());
        runtimes.Swap(off.Options!);
        Assert.Null(policies.Current);
        using var r = await gw.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("smart"), configure: m => m.Headers.Authorization = new("Bearer", MasterKey));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.False(r.Headers.Contains("x-agw-policy"));
    }
}
