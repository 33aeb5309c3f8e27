using System.Collections.Immutable;
using AgenticGateway.Configuration;
using AgenticGateway.Cedar;

namespace AgenticGateway.Policies;

/// <summary>
/// Runs the cases of <c>agw policies test</c>: each case's request goes through <see cref="RoutingSelection"/> exactly
/// as the gateway's router would run it (same entities, same context attributes), and its verdict is compared with
/// what the case expects. Output: <c>ok NAME</c> or <c>FAIL NAME</c> with what differed and the explain view.
/// </summary>
internal sealed class PolicyTestRunner(PolicySet policies, ImmutableArray<DeploymentOptions> deployments, IReadOnlyDictionary<string, PolicyTestDeployment> overrides,
    IReadOnlyDictionary<string, AliasOptions> aliases, TextWriter output)
{
    private static readonly string[] Days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    private static readonly Uri NoApiBase = new("http://policy-test.invalid/");

    /// <summary>The deployments a cases file lists without a config (or beyond it) as the gateway's options would hold them.</summary>
    public static DeploymentOptions Synthesize(PolicyTestDeployment d) => new()
    {
        Id = d.Id,
        ModelName = d.ModelGroup!,
        Provider = d.Provider!,
        Model = d.Model ?? d.Id,
        ApiBase = NoApiBase,
    };

    /// <summary>Runs every case; the number that failed.</summary>
    public int Run(IEnumerable<PolicyTestCase> cases, DateTimeOffset now)
    {
        int passed = 0, failed = 0;
        foreach (var testCase in cases)
        {
            var problems = new List<string>();
            var explain = new List<string>();
            Check(testCase, now, problems, explain);
            if (problems.Count == 0)
            {
                passed++;
                output.WriteLine($"ok   {testCase.Name}");
                continue;
            }
            failed++;
            output.WriteLine($"FAIL {testCase.Name} ({testCase.Path})");
            foreach (var p in problems) output.WriteLine("  " + p);
            foreach (var line in explain) output.WriteLine("  " + line);
        }
        output.WriteLine($"{passed + failed} case{(passed + failed == 1 ? "" : "s")}: {passed} passed, {failed} failed");
        return failed;
    }

    private void Check(PolicyTestCase testCase, DateTimeOffset now, List<string> problems, List<string> explain)
    {
        var group = Group(testCase.RequestedModel);
        var members = deployments.Where(d => d.ModelName == group).ToList();
        if (members.Count == 0)
        {
            problems.Add($"no deployment serves '{testCase.RequestedModel}'" + (group != testCase.RequestedModel ? $" (alias of '{group}')" : "")
                + $"; the model groups are: {string.Join(", ", deployments.Select(d => d.ModelName).Distinct())}");
            return;
        }
        if (members.Count > DeploymentOptions.MaxPerGroup)
        {
            problems.Add($"'{group}' has {members.Count} deployments; a group holds at most {DeploymentOptions.MaxPerGroup}");
            return;
        }
        var candidates = members.Select(d => (ICedarEntity)new DeploymentEntity(d, IdleDeployment.Instance, overrides: overrides.GetValueOrDefault(d.Id)?.Attributes)).ToArray();
        var eligible = members.Count == 64 ? ulong.MaxValue : (1UL << members.Count) - 1;
        var verdict = RoutingSelection.Select(policies, Principal(testCase.Principal), candidates, eligible, Context(testCase, group, now), EntityStore.Empty, explain: true);

        var ids = members.Select(d => d.Id).ToArray();
        var allowed = Ids(ids, verdict.Allowed);
        var preferred = Ids(ids, verdict.Preferred);
        var denied = verdict.Allowed == 0;
        var decision = denied ? RoutingDecision.Deny : RoutingDecision.Allow;
        ImmutableArray<string> named = denied ? verdict.ForbiddingPolicies : verdict.DecidingPolicy is { } p ? [p] : [];
        var expect = testCase.Expect;

        if (expect.Decision is { } d && d != decision) problems.Add($"expected decision {d}, got {decision}");
        if (expect.Deployment is { } wanted)
        {
            if (denied) problems.Add($"expected deployment {wanted}, but every candidate is forbidden");
            else if (preferred.Length == 1 && preferred[0] == wanted) { }
            else if (preferred.Contains(wanted))
                problems.Add($"expected deployment {wanted}, but the policies prefer {string.Join(", ", preferred)} alike (the group's strategy picks among them)");
            else problems.Add($"expected deployment {wanted}, but the policies prefer {string.Join(", ", preferred)}");
        }
        SameSet("policies", expect.Policies, named, problems);
        SameSet("allowed", expect.Allowed, allowed, problems);
        SameSet("preferred", expect.Preferred, preferred, problems);
        if (problems.Count == 0) return;

        explain.Add($"decision: {decision}" + (denied ? $" (forbidden by {string.Join(", ", named)})" : verdict.DecidingPolicy is { } by ? $" (preference decided by {by})" : " (no permit matched: no preference)"));
        explain.Add("candidates:");
        foreach (var c in verdict.Candidates ?? [])
        {
            explain.Add($"  {c.Deployment} ({c.Provider}): {(c.Allowed ? c.Preferred ? "allowed, preferred" : "allowed" : "forbidden")}");
            foreach (var reason in c.Reasons) explain.Add("    " + reason);
        }
    }

    private string Group(string requested)
    {
        if (deployments.Any(d => d.ModelName == requested)) return requested;
        return aliases.TryGetValue(requested, out var alias) ? alias.Target : requested;
    }

    private static string[] Ids(string[] ids, ulong mask) => [.. ids.Where((_, i) => (mask & (1UL << i)) != 0)];

    private static void SameSet(string what, ImmutableArray<string>? expected, IReadOnlyCollection<string> actual, List<string> problems)
    {
        if (expected is not { } e || e.ToHashSet(StringComparer.Ordinal).SetEquals(actual)) return;
        problems.Add($"expected {what} [{string.Join(", ", e)}], got [{string.Join(", ", actual)}]");
    }

    /// <summary>
    /// The principal as the gateway makes it: <c>Key::"alias"</c> for a key alias, else <c>User::"id"</c> (as POST /route),
    /// else <c>Team::"id"</c>, else <c>Key::"anonymous"</c>; in its User, Team and Organization; every given field an attribute.
    /// </summary>
    internal static ICedarEntity Principal(CedarRecord given)
    {
        string? Text(string name) => given.TryGet(name, out var v) && v.Kind == CedarKind.String ? v.AsString : null;
        var key = Text("key_alias");
        var user = Text("user_id");
        var team = Text("team_id");
        var organization = Text("organization_id");
        var uid = key is not null ? new EntityUid(RoutingEntities.KeyType, key)
            : user is not null ? new EntityUid(RoutingEntities.UserType, user)
            : team is not null ? new EntityUid(RoutingEntities.TeamType, team)
            : new EntityUid(RoutingEntities.KeyType, "anonymous");
        var parents = ImmutableArray.CreateBuilder<EntityUid>();
        if (user is not null && key is not null) parents.Add(new EntityUid(RoutingEntities.UserType, user));
        if (team is not null && uid.Type != RoutingEntities.TeamType) parents.Add(new EntityUid(RoutingEntities.TeamType, team));
        if (organization is not null) parents.Add(new EntityUid(RoutingEntities.OrganizationType, organization));
        return new CedarEntity(uid, given, parents.ToImmutable());
    }

    /// <summary>
    /// The gateway's context for a request (docs/policies.md) with the case's attributes over it: now, hour, day_of_week
    /// (from the case's <c>now</c> when it gives one), request_bytes 0, requested_model, model_group, operation chat,
    /// stream false, no tags. Budget and SLA attributes are absent unless the case gives them, as in the gateway.
    /// </summary>
    internal static CedarRecord Context(PolicyTestCase testCase, string group, DateTimeOffset now)
    {
        if (testCase.Context.TryGet("now", out var given) && given.Kind == CedarKind.Long && given.AsLong is >= -62135596800 and <= 253402300799)
            now = DateTimeOffset.FromUnixTimeSeconds(given.AsLong);
        var attributes = new Dictionary<string, CedarValue>(StringComparer.Ordinal)
        {
            ["now"] = CedarValue.Long(now.ToUnixTimeSeconds()),
            ["hour"] = CedarValue.Long(now.UtcDateTime.Hour),
            ["day_of_week"] = CedarValue.String(Days[(int)now.UtcDateTime.DayOfWeek]),
            ["request_bytes"] = CedarValue.Long(0),
            ["requested_model"] = CedarValue.String(testCase.RequestedModel),
            ["model_group"] = CedarValue.String(group),
            ["operation"] = CedarValue.String("chat"),
            ["stream"] = CedarValue.False,
            ["tags"] = CedarValue.Set([]),
        };
        foreach (var (name, value) in testCase.Context.Attributes) attributes[name] = value;
        return new CedarRecord(attributes);
    }

    /// <summary>A deployment with no traffic yet: latency not measured, no errors, nothing in flight, not cooling down.</summary>
    private sealed class IdleDeployment : ILiveDeploymentMetrics
    {
        public static readonly IdleDeployment Instance = new();
        public double AverageLatencyMs => double.NaN;
        public double TimeToFirstTokenMs => double.NaN;
        public double ErrorRate(long nowTicks) => 0;
        public int InFlight => 0;
        public bool IsCoolingDown(long nowTicks) => false;
    }
}
