using AgenticGateway.Configuration;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.Mcp;
using AgenticGateway.Mcp.Federation;
using AgenticGateway.Pricing;
using AgenticGateway.Spend;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// What a tool call must pass besides permission: calls per minute per key and tool, the loop breaker (the same call,
/// arguments and all, repeated too often in a window), and the caller's budgets for a tool with a price. Counters live
/// where the rate limits' do (this node, or Redis shared by replicas).
/// </summary>
internal sealed class McpCallGuard(RateLimits limits, Budgets budgets, SpendWal wal, TimeProvider time)
{
    /// <summary>Null when the call may go; else the refusal a model can read.</summary>
    public async ValueTask<(string? Refusal, Budgets.Hold? Budget)> AdmitAsync(Caller caller, string owner, FederatedTool tool, IReadOnlyDictionary<string, JsonElement>? args,
        McpOptions options, CancellationToken ct)
    {
        var rules = new List<LimitRule>(2);
        if ((tool.Server.Config is { } config ? config.RpmOf(tool.UpstreamName, options.ToolRpm) : options.ToolRpm) is { } rpm)
            rules.Add(new LimitRule($"mcp:{owner}:{tool.Name}:rpm", $"calls per minute of {tool.Name}", rpm, 60_000, false));
        if (options.LoopMaxRepeats > 0)
            rules.Add(new LimitRule($"mcp-loop:{owner}:{CallHash(tool.Name, args)}", "loop breaker", options.LoopMaxRepeats, (long)options.LoopWindow.TotalMilliseconds, false));
        if (rules.Count > 0)
        {
            var (allowed, rule, retryAfterMs) = await limits.CountAsync(rules, ct);
            if (!allowed)
            {
                var seconds = Math.Max(1, (retryAfterMs + 999) / 1000);
                return (rules[rule].Name == "loop breaker"
                    ? $"Loop breaker: {tool.Name} was called with these same arguments {options.LoopMaxRepeats} times within {options.LoopWindow.TotalSeconds:0} s; the call is refused. Change the arguments or try another approach (retry in {seconds} s)."
                    : $"Rate limit: {tool.Name} allows {rules[rule].Limit} calls per minute per key; try again in {seconds} s.", null);
            }
        }
        var cost = tool.Server.Config?.CostOf(tool.UpstreamName) ?? 0m;
        if (cost > 0)
        {
            var (hold, refused) = await budgets.ReserveAsync(caller, cost, ct);
            if (refused is not null) return ($"Budget: {refused.Message}", null);
            return (null, hold);
        }
        return (null, null);
    }

    /// <summary>
    /// Charges a priced call (whatever its outcome: the upstream did the work) and logs its spend; a free call is
    /// logged (at cost 0) only when guardrails decided on it, with their decisions (<paramref name="guardrailInformation"/>).
    /// </summary>
    public async ValueTask ChargeAsync(Caller caller, FederatedTool tool, Budgets.Hold? hold, string requestId, int status, double elapsedMs, string? guardrailInformation = null)
    {
        var cost = tool.Server.Config?.CostOf(tool.UpstreamName) ?? 0m;
        var nanos = Money.ToNanos(cost);
        if (hold is not null) await budgets.SettleAsync(hold, nanos);
        if (cost <= 0 && guardrailInformation is null) return;
        await wal.AppendAsync(SpendLog.ForCaller(caller, requestId, tool.Name, "call_mcp_tool", time.GetUtcNow(), elapsedMs) with
        {
            ModelGroup = tool.Server.Name,
            Provider = "mcp",
            CostNanos = nanos,
            Status = status,
            GuardrailInformation = guardrailInformation,
        });
    }

    /// <summary>The call's identity for the loop breaker: tool and arguments (canonical: key order does not matter).</summary>
    private static string CallHash(string tool, IReadOnlyDictionary<string, JsonElement>? args)
    {
        var text = new StringBuilder(tool).Append('\n');
        if (args is not null)
            foreach (var (k, v) in args.OrderBy(a => a.Key, StringComparer.Ordinal)) text.Append(k).Append('=').Append(v.GetRawText()).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..32];
    }
}
