using AgenticGateway.Commands;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Policies.Cli;

/// <summary>
/// <c>agw policies test CASES.yaml [--config FILE]</c>: passing cases exit 0; a failing case exits 1 and prints what
/// differed with the explain view; a policy file that does not parse, a broken cases file or config exit 2 with every
/// error (policy errors as file:line:column). Seed 003's three policies are the policies under test.
/// </summary>
[Trait("Category", "unit")]
public sealed class PolicyTestCommandTests : IDisposable
{
    private static string Seed003 => Routing.SeedPolicyFile.Text;

    private const string Deployments = """
        deployments:
          - {id: gpt-4o-openai, model_group: smart, provider: openai, average_latency_ms: 900, current_error_rate: 0.0}
          - {id: llama-vllm, model_group: smart, provider: vllm, average_latency_ms: 300}
        """;

    private static readonly DateTimeOffset Now = new(2026, 12, 7, 6, 30, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("agw-policy-tests-");

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Code, string Out, string Error) Run(string cases, string? config = null)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = PoliciesCommand.Test(cases, config, output, error, Now);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void The_shipped_example_cases_pass_against_the_shipped_seed_policies()
    {
        var cases = Path.Combine(Deploy.DeployFiles.RepoRoot(), "examples", "policies", "routing-cases.yaml");
        var (code, output, error) = Run(cases);
        Assert.True(code == 0, output + error);
        Assert.Equal(4, output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Passing_cases_exit_0_and_each_is_reported_ok()
    {
        Write("policies/routing-rules.cedar", Seed003);
        var cases = Write("cases.yaml", $$$"""
            policies: policies/routing-rules.cedar
            {{{Deployments}}}
            cases:
              - name: low budget prefers vllm
                requested_model: smart
                principal: {user_id: u1, team_id: t1}
                context: {cost_budget_remaining: 5.0}
                expect: {deployment: llama-vllm, policies: [policy0]}
              - name: a tight SLA forbids the slow deployment
                requested_model: smart
                context: {latency_sla_ms: 400}
                expect: {decision: allow, allowed: [llama-vllm], preferred: [llama-vllm], policies: []}
              - name: plenty of budget and no SLA leaves no preference
                requested_model: smart
                context: {cost_budget_remaining: 500}
                expect: {preferred: [gpt-4o-openai, llama-vllm]}
            """);

        var (code, output, error) = Run(cases);
        Assert.True(code == 0, output + error);
        Assert.Contains("ok   low budget prefers vllm", output, StringComparison.Ordinal);
        Assert.Contains("ok   a tight SLA forbids the slow deployment", output, StringComparison.Ordinal);
        Assert.Contains("ok   plenty of budget and no SLA leaves no preference", output, StringComparison.Ordinal);
        Assert.Contains("3 cases: 3 passed, 0 failed", output, StringComparison.Ordinal);
        Assert.Equal("", error);
    }

    [Fact]
    public void A_failing_case_exits_1_with_what_differed_and_the_explain_view()
    {
        Write("rules.cedar", Seed003);
        var cases = Write("cases.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
              - {id: flaky-vllm, model_group: smart, provider: vllm, current_error_rate: 0.2}
            cases:
              - name: passes
                requested_model: smart
                context: {cost_budget_remaining: 5.0}
                expect: {allowed: [gpt-4o-openai, llama-vllm]}
              - name: wrongly expects openai under a low budget
                requested_model: smart
                context: {cost_budget_remaining: 5.0, latency_sla_ms: 400}
                expect: {deployment: gpt-4o-openai}
            """);

        var (code, output, _) = Run(cases);
        Assert.Equal(1, code);
        Assert.Contains("ok   passes", output, StringComparison.Ordinal);
        Assert.Contains("FAIL wrongly expects openai under a low budget (cases[1])", output, StringComparison.Ordinal);
        Assert.Contains("expected deployment gpt-4o-openai, but the policies prefer llama-vllm", output, StringComparison.Ordinal);
        Assert.Contains("decision: allow (preference decided by policy0)", output, StringComparison.Ordinal);
        // The explain view: every candidate with its verdict and reasons.
        Assert.Contains("gpt-4o-openai (openai): forbidden", output, StringComparison.Ordinal);
        Assert.Contains("forbid: policy1", output, StringComparison.Ordinal);
        Assert.Contains("llama-vllm (vllm): allowed, preferred", output, StringComparison.Ordinal);
        Assert.Contains("permit(@priority 100): policy0", output, StringComparison.Ordinal);
        Assert.Contains("flaky-vllm (vllm): forbidden", output, StringComparison.Ordinal);
        Assert.Contains("forbid: policy2", output, StringComparison.Ordinal);
        Assert.Contains("2 cases: 1 passed, 1 failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deny_is_expected_by_decision_and_names_every_forbidding_policy()
    {
        Write("rules.cedar", Seed003);
        var cases = Write("cases.yaml", """
            policies: rules.cedar
            deployments:
              - {id: slow, model_group: fast, provider: openai, average_latency_ms: 2000}
              - {id: broken, model_group: fast, provider: openai, average_latency_ms: 100, current_error_rate: 0.5}
            cases:
              - name: all forbidden
                requested_model: fast
                context: {latency_sla_ms: 300}
                expect: {decision: deny, policies: [policy1, policy2]}
              - name: wrongly expects a deployment
                requested_model: fast
                context: {latency_sla_ms: 300}
                expect: {deployment: slow}
            """);
        var (code, output, _) = Run(cases);
        Assert.Equal(1, code);
        Assert.Contains("ok   all forbidden", output, StringComparison.Ordinal);
        Assert.Contains("expected deployment slow, but every candidate is forbidden", output, StringComparison.Ordinal);
        Assert.Contains("decision: deny (forbidden by policy1, policy2)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_policy_file_that_does_not_parse_exits_2_with_file_line_and_column()
    {
        var rules = Write("rules.cedar", """
            permit (principal, action, resource);
            forbid (principal, action == "routing:select_model", resource)
            when { resource.current_error_rate > };
            """);
        var cases = Write("cases.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
            cases:
              - {name: any, requested_model: smart, expect: {decision: allow}}
            """);
        var (code, output, error) = Run(cases);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("The policies cannot be loaded", error, StringComparison.Ordinal);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(rules)}:3:\d+: ", error);
    }

    [Fact]
    public void A_broken_cases_file_exits_2_with_every_error_and_its_path()
    {
        Write("rules.cedar", Seed003);
        var cases = Write("cases.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
            cases:
              - name: typo
                requested_modle: smart
                expect: {deployment: llama-vllm}
              - name: nothing expected
                requested_model: smart
                expect: {}
              - name: bad decision
                requested_model: smart
                context: {latency_sla_ms: 2.5}
                expect: {decision: maybe}
            """);
        var (code, _, error) = Run(cases);
        Assert.Equal(2, code);
        Assert.Contains("cases[0].requested_model: required", error, StringComparison.Ordinal);
        Assert.Contains("cases[0].requested_modle: unknown key", error, StringComparison.Ordinal);
        Assert.Contains("cases[1].expect: expects nothing", error, StringComparison.Ordinal);
        Assert.Contains("cases[2].expect.decision: expected allow or deny, got 'maybe'", error, StringComparison.Ordinal);
        Assert.Contains("cases[2].context.latency_sla_ms: expected a whole number", error, StringComparison.Ordinal);

        var invalid = Write("invalid.yaml", "cases: [\n  - {name: x\n");
        (code, _, error) = Run(invalid);
        Assert.Equal(2, code);
        Assert.Contains($"{invalid}:", error, StringComparison.Ordinal);
        Assert.Contains("invalid YAML", error, StringComparison.Ordinal);

        (code, _, error) = Run(Path.Combine(_dir.Path, "missing.yaml"));
        Assert.Equal(2, code);
        Assert.Contains("no such cases file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Whole_numbers_are_decimals_where_the_gateway_gives_decimals()
    {
        // decimal's methods work on average_latency_ms only if it is a decimal, as the gateway's live value is.
        Write("rules.cedar", """
            @id("slow")
            forbid (principal, action == "routing:select_model", resource)
            when { resource.average_latency_ms.greaterThan(decimal("500.0")) };
            """);
        var cases = Write("cases.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
            cases:
              - {name: slow is forbidden, requested_model: smart, expect: {allowed: [llama-vllm]}}
            """);
        var (code, output, error) = Run(cases);
        Assert.True(code == 0, output + error);
    }

    [Fact]
    public void With_a_config_its_deployments_aliases_and_policies_are_used_and_the_cases_override_attributes()
    {
        Write("config/policies/rules.cedar", Seed003);
        var config = Write("config/gateway.yaml", """
            model_list:
              - model_name: smart
                litellm_params: {model: openai/gpt-4o, api_key: sk-test}
                model_info: {id: gpt-4o-openai}
              - model_name: smart
                litellm_params: {model: hosted_vllm/llama-3, api_base: "http://127.0.0.1:9/v1", api_key: sk-local}
                model_info: {id: llama-vllm}
            router_settings:
              model_group_alias: {brainy: smart}
            routing_policies:
              file: policies/rules.cedar
            """);
        var cases = Write("cases.yaml", """
            deployments:
              - {id: gpt-4o-openai, average_latency_ms: 900}
              - {id: extra-vllm, model_group: smart, provider: vllm, average_latency_ms: 100}
            cases:
              - name: the alias reaches the group, a tight SLA forbids the slow config deployment
                requested_model: brainy
                context: {latency_sla_ms: 400}
                expect: {allowed: [llama-vllm, extra-vllm]}
              - name: a low budget prefers every vllm deployment
                requested_model: smart
                principal: {key_alias: team-key, team_id: t1}
                context: {cost_budget_remaining: 1}
                expect: {preferred: [extra-vllm], policies: [policy0]}
            """);
        var (code, output, error) = Run(cases, config);
        Assert.True(code == 0, output + error);
        // The config's llama deployment's provider is hosted_vllm, not vllm: only the added one is preferred.
        Assert.Contains("ok   the alias reaches the group", output, StringComparison.Ordinal);
        Assert.Contains("ok   a low budget prefers every vllm deployment", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_deployment_without_a_group_and_provider_exits_2()
    {
        Write("rules.cedar", Seed003);
        var cases = Write("cases.yaml", """
            policies: rules.cedar
            deployments:
              - {id: nowhere, average_latency_ms: 10}
            cases:
              - {name: any, requested_model: smart, expect: {decision: allow}}
            """);
        var (code, _, error) = Run(cases);
        Assert.Equal(2, code);
        Assert.Contains("deployments[0]: 'nowhere' is not a deployment of the config; give model_group and provider to add it", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateways_command_line_runs_it_with_its_exit_codes()
    {
        Write("rules.cedar", Seed003);
        var passing = Write("pass.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
            cases:
              - {name: low budget, requested_model: smart, context: {cost_budget_remaining: 5.0}, expect: {deployment: llama-vllm}}
            """);
        var failing = Write("fail.yaml", $$$"""
            policies: rules.cedar
            {{{Deployments}}}
            cases:
              - {name: low budget, requested_model: smart, context: {cost_budget_remaining: 5.0}, expect: {deployment: gpt-4o-openai}}
            """);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        int passed, failed, usage;
        try
        {
            passed = await CommandLine.RunAsync(["policies", "test", passing]);
            failed = await CommandLine.RunAsync(["policies", "test", failing]);
            usage = await CommandLine.RunAsync(["policies", "test"]);
        }
        finally { Console.SetOut(originalOut); Console.SetError(originalError); }
        Assert.Equal((0, 1, 2), (passed, failed, usage));
        Assert.Contains("ok   low budget", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("FAIL low budget", stdout.ToString(), StringComparison.Ordinal);
    }
}
