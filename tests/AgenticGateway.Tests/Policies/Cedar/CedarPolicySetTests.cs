using AgenticGateway.Cedar;
using static AgenticGateway.Tests.Policies.Cedar.CedarTestData;

namespace AgenticGateway.Tests.Policies.Cedar;

/// <summary>Policies: scopes, conditions, annotations, authorization, and errors at load.</summary>
[Trait("Category", "unit")]
public class CedarPolicySetTests
{
    private static string SeedPolicies => Routing.SeedPolicyFile.Text;

    private static CedarEntity Deployment(string id, string provider, decimal latency, decimal errorRate) =>
        Entity("Deployment", id, [("provider", CedarValue.String(provider)), ("average_latency_ms", CedarValue.Decimal(latency)),
            ("current_error_rate", CedarValue.Decimal(errorRate))]);

    [Fact]
    public void Seed_003s_policies_load_unchanged_and_decide_as_written()
    {
        var set = Load(SeedPolicies, "routing-rules.cedar");
        Assert.Equal(["policy0", "policy1", "policy2"], set.Policies.Select(p => p.Id));
        Assert.Equal([100, 85, 0], set.Policies.Select(p => p.Priority));
        Assert.Equal([PolicyEffect.Permit, PolicyEffect.Forbid, PolicyEffect.Forbid], set.Policies.Select(p => p.Effect));
        Assert.Equal((2, 1), (set.Policies[0].Line, set.Policies[0].Column));
        Assert.StartsWith("@priority(100)", set.Policies[0].Text);
        Assert.EndsWith("};", set.Policies[2].Text);

        var vllm = Deployment("llama-vllm", "vllm", 300m, 0.01m);
        var openai = Deployment("gpt-4o", "openai", 900m, 0.0m);
        var flaky = Deployment("flaky", "vllm", 100m, 0.2m);
        var tight = Record([("cost_budget_remaining", CedarValue.Decimal(5m)), ("latency_sla_ms", CedarValue.Long(400))]);

        var low = set.IsAuthorized(Request(resource: vllm, context: tight), EntityStore.Empty);
        Assert.True(low.Allowed);
        Assert.Equal(["policy0"], low.DeterminingPolicies.ToArray());
        Assert.Empty(low.Errors);

        // Forbid overrides permit; a satisfied forbid determines the denial.
        var slow = set.IsAuthorized(Request(resource: openai, context: tight), EntityStore.Empty);
        Assert.False(slow.Allowed);
        Assert.Equal(["policy1"], slow.DeterminingPolicies.ToArray());
        var broken = set.IsAuthorized(Request(resource: flaky, context: tight), EntityStore.Empty);
        Assert.False(broken.Allowed);
        Assert.Equal(["policy2"], broken.DeterminingPolicies.ToArray());

        // No SLA in the context: the latency policy reads an absent attribute, errors and is skipped (Cedar's rule),
        // and with a budget above 10 no permit holds: default deny with no determining policy.
        var relaxed = set.IsAuthorized(Request(resource: vllm, context: Record([("cost_budget_remaining", CedarValue.Decimal(50m))])), EntityStore.Empty);
        Assert.False(relaxed.Allowed);
        Assert.Empty(relaxed.DeterminingPolicies.ToArray());
        var error = Assert.Single(relaxed.Errors);
        Assert.Equal("policy1", error.PolicyId);
        Assert.Contains("latency_sla_ms", error.Message);
    }

    [Theory]
    // principal scopes
    [InlineData("permit(principal, action, resource);", true)]
    [InlineData("permit(principal == User::\"alice\", action, resource);", true)]
    [InlineData("permit(principal == User::\"bob\", action, resource);", false)]
    [InlineData("permit(principal in Team::\"t1\", action, resource);", true)]
    [InlineData("permit(principal in Org::\"acme\", action, resource);", true)]
    [InlineData("permit(principal in Team::\"t2\", action, resource);", false)]
    [InlineData("permit(principal is User, action, resource);", true)]
    [InlineData("permit(principal is Key, action, resource);", false)]
    [InlineData("permit(principal is User in Org::\"acme\", action, resource);", true)]
    [InlineData("permit(principal is Key in Org::\"acme\", action, resource);", false)]
    // action scopes, Cedar's and the dialect's bare strings
    [InlineData("permit(principal, action == Action::\"routing:select_model\", resource);", true)]
    [InlineData("permit(principal, action == \"routing:select_model\", resource);", true)]
    [InlineData("permit(principal, action == Action::\"other\", resource);", false)]
    [InlineData("permit(principal, action in Action::\"routing\", resource);", true)]
    [InlineData("permit(principal, action in [Action::\"other\", Action::\"routing:select_model\"], resource);", true)]
    [InlineData("permit(principal, action in [\"a\", \"b\"], resource);", false)]
    [InlineData("permit(principal, action in [], resource);", false)]
    // resource scopes
    [InlineData("permit(principal, action, resource == Deployment::\"d1\");", true)]
    [InlineData("permit(principal, action, resource in ModelGroup::\"smart\");", true)]
    [InlineData("permit(principal, action, resource in ModelGroup::\"fast\");", false)]
    [InlineData("permit(principal, action, resource is Deployment);", true)]
    [InlineData("permit(principal, action, resource is Deployment in ModelGroup::\"smart\");", true)]
    [InlineData("permit(principal, action, resource is ModelGroup in ModelGroup::\"smart\");", false)]
    // conditions: several, in order; unless
    [InlineData("permit(principal, action, resource) when { true } unless { false };", true)]
    [InlineData("permit(principal, action, resource) when { true } when { false };", false)]
    [InlineData("permit(principal, action, resource) unless { principal.team_id == \"t1\" };", false)]
    [InlineData("permit(principal, action, resource) unless { false } when { context.x == 1 };", true)]
    public void Scopes_and_conditions_decide_whether_a_policy_applies(string policy, bool allowed)
    {
        var set = Load(policy);
        var team = Entity("Team", "t1", null, new EntityUid("Org", "acme"));
        var routing = Entity("Action", "routing");
        var group = Entity("ModelGroup", "smart");
        var principal = Entity("User", "alice", [("team_id", CedarValue.String("t1"))], team.Uid);
        var action = new CedarEntity(SelectModel, CedarRecord.Empty, [routing.Uid]);
        var resource = Entity("Deployment", "d1", null, group.Uid);
        var request = Request(principal, resource, Record([("x", CedarValue.Long(1))]), action);
        var result = set.IsAuthorized(request, new EntityStore([team, routing, group]));
        Assert.Empty(result.Errors);
        Assert.Equal(allowed, result.Allowed);
    }

    [Fact]
    public void Forbid_overrides_permit_and_no_permit_means_deny()
    {
        var set = Load("""
            @id("allow-all") permit(principal, action, resource);
            @id("allow-vllm") permit(principal, action, resource) when { resource.provider == "vllm" };
            @id("no-openai") forbid(principal, action, resource) when { resource.provider == "openai" };
            """);
        var vllm = set.IsAuthorized(Request(resource: Entity("Deployment", "a", [("provider", CedarValue.String("vllm"))])), EntityStore.Empty);
        Assert.True(vllm.Allowed);
        Assert.Equal(["allow-all", "allow-vllm"], vllm.DeterminingPolicies.ToArray());
        var openai = set.IsAuthorized(Request(resource: Entity("Deployment", "b", [("provider", CedarValue.String("openai"))])), EntityStore.Empty);
        Assert.False(openai.Allowed);
        Assert.Equal(["no-openai"], openai.DeterminingPolicies.ToArray());
        Assert.False(PolicySet.Empty.IsAuthorized(Request(), EntityStore.Empty).Allowed);
    }

    [Fact]
    public void A_policy_that_errors_is_skipped_and_reported_while_the_rest_decide()
    {
        var set = Load("""
            permit(principal, action, resource);
            forbid(principal, action, resource) when { context.missing > 1 };
            forbid(principal, action, resource) when { 9223372036854775807 + 1 > 0 };
            forbid(principal, action, resource) when { "text" };
            forbid(principal, action, resource) when { User::"ghost".attr == 1 };
            """);
        var result = set.IsAuthorized(Request(), EntityStore.Empty);
        Assert.True(result.Allowed);
        Assert.Equal(["policy1", "policy2", "policy3", "policy4"], result.Errors.Select(e => e.PolicyId).ToArray());
        Assert.Contains("missing", result.Errors[0].Message);
        Assert.Contains("overflow", result.Errors[1].Message);
        Assert.Contains("must be a Bool", result.Errors[2].Message);
        Assert.Contains("does not exist", result.Errors[3].Message);

        Assert.Equal(PolicyOutcome.Error, set.Evaluate(1, Request(), EntityStore.Empty, out var error));
        Assert.Contains("missing", error);
        Assert.Equal(PolicyOutcome.Satisfied, set.Evaluate(0, Request(), EntityStore.Empty, out error));
        Assert.Null(error);
    }

    [Fact]
    public void Annotations_give_ids_and_priorities_as_numbers_or_strings()
    {
        var set = Load("""
            @id("cheap") @priority(100) permit(principal, action, resource);
            @priority("-5") @note permit(principal, action, resource);
            @id("default") permit(principal, action, resource);
            """);
        Assert.Equal(["cheap", "policy1", "default"], set.Policies.Select(p => p.Id));
        Assert.Equal([100, -5, 0], set.Policies.Select(p => p.Priority));
        Assert.Equal("", set.Policies[1].Annotations["note"]);
        Assert.Equal("100", set.Policies[0].Annotations["priority"]);
    }

    [Fact]
    public void Policy_ids_number_across_files_in_load_order()
    {
        var load = PolicySet.Load([new PolicySource("a.cedar", "permit(principal, action, resource);"),
            new PolicySource("b.cedar", "forbid(principal, action, resource);\npermit(principal, action, resource);")]);
        Assert.True(load.Succeeded);
        Assert.Equal(["policy0", "policy1", "policy2"], load.Set!.Policies.Select(p => p.Id));
        Assert.Equal(["a.cedar", "b.cedar", "b.cedar"], load.Set.Policies.Select(p => p.File));
        Assert.Equal(2, load.Set.Policies[2].Line);
    }

    [Fact]
    public void PoliciesFor_lists_the_policies_whose_action_scope_can_hold()
    {
        var set = Load("""
            permit(principal, action == "routing:select_model", resource);
            permit(principal, action == Action::"other", resource);
            permit(principal, action, resource);
            permit(principal, action in [Action::"other", Action::"routing:select_model"], resource);
            permit(principal, action in Action::"group", resource);
            permit(principal, action in ["other"], resource);
            """);
        // `in [Action::"other"]` stays: the store's hierarchy may put select_model under "other".
        Assert.Equal([0, 2, 3, 4, 5], set.PoliciesFor(SelectModel).ToArray());
        Assert.Equal([1, 2, 3, 4, 5], set.PoliciesFor(new EntityUid("Action", "other")).ToArray());
        // An action no scope names: only unconstrained policies and `in` ones, which a hierarchy may satisfy.
        Assert.Equal([2, 3, 4, 5], set.PoliciesFor(new EntityUid("Action", "unknown")).ToArray());
        Assert.True(PolicySet.Empty.PoliciesFor(SelectModel).IsEmpty);
    }

    [Fact]
    public void Parse_errors_name_file_line_and_column_and_every_broken_policy_is_reported()
    {
        var errors = Errors("""
            permit(principal, action, resource);
            permit(principal action, resource);
            forbid(principal, action, resource) when { resource.x > };
            permit(principal, action, resource)
              when { context.a == "unterminated };
            """, "rules/routing.cedar");
        Assert.Equal(3, errors.Length);
        Assert.Equal(("rules/routing.cedar", 2, 18), (errors[0].File, errors[0].Line, errors[0].Column));
        Assert.Contains("expected ','", errors[0].Message);
        Assert.Equal((3, 57), (errors[1].Line, errors[1].Column));
        Assert.Contains("expected an expression, found '}'", errors[1].Message);
        Assert.Equal((5, 23), (errors[2].Line, errors[2].Column));
        Assert.Contains("unterminated string", errors[2].Message);
        Assert.Equal("rules/routing.cedar:2:18: " + errors[0].Message, errors[0].ToString());
    }

    [Theory]
    [InlineData("permit(principal, action, resource)", "expected 'when', 'unless' or ';'")]
    [InlineData("allow(principal, action, resource);", "expected 'permit' or 'forbid'")]
    [InlineData("permit(principal == ?principal, action, resource);", "template slots")]
    [InlineData("@priority(\"high\") permit(principal, action, resource);", "@priority must be an integer")]
    [InlineData("@id(\"a\") @id(\"b\") permit(principal, action, resource);", "duplicate annotation @id")]
    [InlineData("@id(\"préférer-vllm\") permit(principal, action, resource);", "@id must be printable ASCII")]
    [InlineData("@id(\"a\\nb\") permit(principal, action, resource);", "@id must be printable ASCII")]
    [InlineData("@id(\"\") permit(principal, action, resource);", "@id must be printable ASCII")]
    [InlineData("@id(\"a\") permit(principal, action, resource); @id(\"a\") forbid(principal, action, resource);", "duplicate policy id \"a\"")]
    [InlineData("permit(principal, action, resource) when { };", "expected an expression")]
    [InlineData("permit(principal, action, resource) when { context.x like 1 };", "a pattern string")]
    [InlineData("permit(principal, action == User, resource);", "expected '::'")]
    [InlineData("permit(principal, action, resource) when { 1 # 2 };", "unexpected character '#'")]
    public void Malformed_policies_are_load_errors(string text, string message) =>
        Assert.Contains(Errors(text), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Fact]
    public void A_non_ascii_id_is_a_load_error_at_its_value()
    {
        var error = Assert.Single(Errors("permit(principal, action, resource);\n  @id(\"préférer-vllm\") permit(principal, action, resource);"));
        Assert.Equal((2, 7), (error.Line, error.Column));
        Assert.Contains("@id must be printable ASCII", error.Message);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow()
    {
        var ok = "permit(principal, action, resource) when { " + new string('(', 60) + "true" + new string(')', 60) + " };";
        Load(ok);
        var deep = "permit(principal, action, resource) when { " + new string('(', 100_000) + "true" + new string(')', 100_000) + " };";
        Assert.Contains("nest deeper than 64", Assert.Single(Errors(deep)).Message);
        var nots = "permit(principal, action, resource) when { " + new string('!', 100_000) + "true };";
        Assert.Contains("nest deeper than 64", Assert.Single(Errors(nots)).Message);
        // Long chains: && and || stay flat (and evaluate without deep recursion); + and attribute paths count as depth.
        var ands = "permit(principal, action, resource) when { " + string.Join(" && ", Enumerable.Repeat("true", 50_000)) + " };";
        Assert.True(Load(ands).IsAuthorized(Request(), EntityStore.Empty).Allowed);
        var sums = "permit(principal, action, resource) when { " + string.Join(" + ", Enumerable.Repeat("1", 50_000)) + " > 0 };";
        Assert.Contains("nest deeper than 64", Assert.Single(Errors(sums)).Message);
        var path = "permit(principal, action, resource) when { context" + string.Concat(Enumerable.Repeat(".a", 50_000)) + " };";
        Assert.Contains("nest deeper than 64", Assert.Single(Errors(path)).Message);
    }

    [Fact]
    public void A_file_over_one_mebibyte_is_refused()
    {
        var big = "// " + new string('x', CedarParser.MaxFileBytes) + "\npermit(principal, action, resource);";
        Assert.Contains("larger than 1 MiB", Assert.Single(Errors(big)).Message);
    }

    [Fact]
    public void Entity_uids_print_and_parse_in_cedars_spelling()
    {
        var uid = new EntityUid("NS::User", "a \"quoted\"\nname");
        Assert.Equal("NS::User::\"a \\\"quoted\\\"\\nname\"", uid.ToString());
        Assert.True(EntityUid.TryParse(uid.ToString(), out var back));
        Assert.Equal(uid, back);
        Assert.True(EntityUid.TryParse("Action::\"routing:select_model\"", out var action));
        Assert.Equal(SelectModel, action);
        Assert.False(EntityUid.TryParse("routing:select_model", out _));
        Assert.False(EntityUid.TryParse("1x::\"a\"", out _));
        Assert.False(EntityUid.TryParse("User::\"a", out _));
    }

    [Fact]
    public void Values_compare_with_cedars_equality_and_hash_alike()
    {
        var a = CedarValue.Set([CedarValue.Long(1), CedarValue.String("x")]);
        var b = CedarValue.Set([CedarValue.String("x"), CedarValue.Long(1), CedarValue.Long(1)]);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), CedarValue.Set([CedarValue.String("x"), CedarValue.Long(1)]).GetHashCode());
        Assert.Equal(CedarValue.Long(2), CedarValue.Decimal(2.0m));
        Assert.Equal(CedarValue.Long(2).GetHashCode(), CedarValue.Decimal(2.0m).GetHashCode());
        Assert.NotEqual(CedarValue.Long(1), CedarValue.True);
        Assert.Equal(CedarValue.Entity(new EntityUid("User", "a")), CedarValue.Entity(Entity("User", "a")));
        Assert.Throws<InvalidOperationException>(() => CedarValue.Long(1).AsString);
        Assert.Equal("decimal(\"2.0\")", CedarValue.Decimal(2m).ToString());
    }
}
