using AgenticGateway.Emulator;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>
/// Two emulators behind one model group <c>smart</c>: <c>gpt-openai</c> (provider openai_compatible) and
/// <c>llama-vllm</c> (provider vllm), both priced so budgets apply, and seed 003's three policies verbatim.
/// </summary>
internal static class PolicyRoutingFixture
{
    public const string MasterKey = "sk-master-policy-routing-tests";

    /// <summary>Seed 003's example policies, unchanged.</summary>
    public static string SeedPolicies => SeedPolicyFile.Text;

    public static string Config(EmulatorServer openai, EmulatorServer vllm, string policyPath, bool dryRun = false, string strategy = "round-robin") => $"""
        master_key: {MasterKey}
        models:
          - name: smart
            provider: openai_compatible
            api_base: {openai.ApiBase}
            id: gpt-openai
            input_cost_per_token: 0.000001
            output_cost_per_token: 0.000002
          - name: smart
            provider: vllm
            api_base: {vllm.ApiBase}
            api_key: none
            id: llama-vllm
            input_cost_per_token: 0.0000001
            output_cost_per_token: 0.0000002
        router:
          num_retries: 2
          retry_backoff: 1ms
          groups:
            smart: {"{"}strategy: {strategy}{"}"}
        routing_policies:
          file: {policyPath}
          decision_sample_rate: 1
          dry_run: {(dryRun ? "true" : "false")}
        """;

    public static string WritePolicies(TempDirectory dir, string text, string name = "routing-rules.cedar")
    {
        var path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }
}
