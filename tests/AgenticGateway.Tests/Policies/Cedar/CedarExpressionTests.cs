using AgenticGateway.Cedar;
using static AgenticGateway.Tests.Policies.Cedar.CedarTestData;

namespace AgenticGateway.Tests.Policies.Cedar;

/// <summary>Cedar's operators and functions, one expression at a time.</summary>
[Trait("Category", "unit")]
public class CedarExpressionTests
{
    [Theory]
    // Equality: any two values; different types are unequal, not an error.
    [InlineData("1 == 1", true)]
    [InlineData("1 != 2", true)]
    [InlineData("\"a\" == \"a\"", true)]
    [InlineData("\"a\" == 1", false)]
    [InlineData("true == true", true)]
    [InlineData("User::\"a\" == User::\"a\"", true)]
    [InlineData("User::\"a\" == Team::\"a\"", false)]
    [InlineData("NS::User::\"a\" == NS::User::\"a\"", true)]
    // Sets compare as sets: order and duplicates do not matter.
    [InlineData("[1, 2, 3] == [3, 2, 1]", true)]
    [InlineData("[1, 2, 2] == [2, 1]", true)]
    [InlineData("[1, 2] == [1, 2, 3]", false)]
    [InlineData("[[1], [2, 3]] == [[3, 2], [1]]", true)]
    [InlineData("{a: 1, b: [1, 2]} == {b: [2, 1], a: 1}", true)]
    [InlineData("{a: 1} == {a: 1, b: 2}", false)]
    [InlineData("{\"a b\": 1} == {\"a b\": 1}", true)]
    // Dialect: Longs and decimals are both numbers.
    [InlineData("1 == 1.0", true)]
    [InlineData("10 > 9.5", true)]
    [InlineData("0.05 < 0.1", true)]
    [InlineData("3 <= 3", true)]
    [InlineData("3 < 3", false)]
    [InlineData("4 >= 5", false)]
    [InlineData("-2 < -1", true)]
    [InlineData("decimal(\"1.5\") == 1.5", true)]
    // Logic, short-circuit: the right side is never evaluated when the left decides (it would be an error).
    [InlineData("true && true", true)]
    [InlineData("true && false", false)]
    [InlineData("false && (1 + \"a\" == 2)", false)]
    [InlineData("true || (1 + \"a\" == 2)", true)]
    [InlineData("false || false", false)]
    [InlineData("!false", true)]
    [InlineData("!!true", true)]
    [InlineData("if 1 < 2 then true else 1 + \"a\" == 2", true)]
    [InlineData("if false then 1 + \"a\" == 2 else false", false)]
    [InlineData("(if true then 3 else 4) == 3", true)]
    // Arithmetic and precedence.
    [InlineData("1 + 2 * 3 == 7", true)]
    [InlineData("(1 + 2) * 3 == 9", true)]
    [InlineData("10 - 4 - 3 == 3", true)]
    [InlineData("-(3) == -3", true)]
    [InlineData("- -3 == 3", true)]
    [InlineData("-9223372036854775808 < 0", true)]
    [InlineData("9223372036854775807 + 0 == 9223372036854775807", true)]
    // Dialect: arithmetic with a decimal operand is decimal.
    [InlineData("0.0000025 * 1000 == 0.0025", true)]
    [InlineData("10 - 0.5 == 9.5", true)]
    [InlineData("-(0.5) + 1 == 0.5", true)]
    // Sets.
    [InlineData("[1, 2, 3].contains(2)", true)]
    [InlineData("[1, 2, 3].contains(4)", false)]
    [InlineData("[\"a\", \"b\"].containsAll([\"b\"])", true)]
    [InlineData("[\"a\", \"b\"].containsAll([\"b\", \"c\"])", false)]
    [InlineData("[\"a\", \"b\"].containsAny([\"c\", \"a\"])", true)]
    [InlineData("[\"a\", \"b\"].containsAny([])", false)]
    [InlineData("[].isEmpty()", true)]
    [InlineData("[1].isEmpty()", false)]
    [InlineData("[1.0].contains(1)", true)]
    // like: * is any run, \* a star, other escapes as in strings.
    [InlineData("\"gpt-4o-mini\" like \"gpt-4o*\"", true)]
    [InlineData("\"gpt-4o\" like \"*4o\"", true)]
    [InlineData("\"claude-3\" like \"gpt*\"", false)]
    [InlineData("\"abc\" like \"a*b*c\"", true)]
    [InlineData("\"abbbc\" like \"a*c\"", true)]
    [InlineData("\"abcd\" like \"a*c\"", false)]
    [InlineData("\"\" like \"*\"", true)]
    [InlineData("\"a*b\" like \"a\\*b\"", true)]
    [InlineData("\"axb\" like \"a\\*b\"", false)]
    [InlineData("\"tab\\there\" like \"tab\\t*\"", true)]
    [InlineData("\"é\" like \"\\u{e9}\"", true)]
    [InlineData("\"a\\\\b\" like \"a\\\\*\"", true)]
    // has: identifiers, quoted names, paths.
    [InlineData("{a: 1} has a", true)]
    [InlineData("{a: 1} has b", false)]
    [InlineData("{\"the key\": 1} has \"the key\"", true)]
    [InlineData("{a: {b: 1}} has a.b", true)]
    [InlineData("{a: {b: 1}} has a.c", false)]
    [InlineData("{a: 1}[\"a\"] == 1", true)]
    [InlineData("{a: {b: \"x\"}}.a.b == \"x\"", true)]
    // Decimal values and methods.
    [InlineData("decimal(\"1.23\").lessThan(decimal(\"1.24\"))", true)]
    [InlineData("decimal(\"1.23\").lessThanOrEqual(decimal(\"1.23\"))", true)]
    [InlineData("decimal(\"-1.5\").greaterThan(decimal(\"-2.0\"))", true)]
    [InlineData("decimal(\"0.0000025\").greaterThanOrEqual(decimal(\"0.000003\"))", false)]
    [InlineData("decimal(\"1.0\") == decimal(\"1.00\")", true)]
    // IP values and methods.
    [InlineData("ip(\"10.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", true)]
    [InlineData("ip(\"11.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", false)]
    [InlineData("ip(\"10.1.0.0/16\").isInRange(ip(\"10.0.0.0/8\"))", true)]
    [InlineData("ip(\"10.0.0.0/8\").isInRange(ip(\"10.1.0.0/16\"))", false)]
    [InlineData("ip(\"192.168.1.1\").isInRange(ip(\"192.168.1.0/25\"))", true)]
    [InlineData("ip(\"192.168.1.200\").isInRange(ip(\"192.168.1.0/25\"))", false)]
    [InlineData("ip(\"::1\").isLoopback()", true)]
    [InlineData("ip(\"127.0.0.1\").isLoopback()", true)]
    [InlineData("ip(\"128.0.0.1\").isLoopback()", false)]
    [InlineData("ip(\"224.0.0.1\").isMulticast()", true)]
    [InlineData("ip(\"ff02::1\").isMulticast()", true)]
    [InlineData("ip(\"10.0.0.1\").isMulticast()", false)]
    [InlineData("ip(\"10.0.0.1\").isIpv4()", true)]
    [InlineData("ip(\"2001:db8::1\").isIpv6()", true)]
    [InlineData("ip(\"2001:db8::1\").isIpv4()", false)]
    [InlineData("ip(\"2001:db8::1\").isInRange(ip(\"2001:db8::/32\"))", true)]
    [InlineData("ip(\"10.0.0.1\").isInRange(ip(\"::/0\"))", false)]
    [InlineData("ip(\"10.0.0.1\") == ip(\"10.0.0.1/32\")", true)]
    public void Expressions_evaluate_as_cedar_defines(string expression, bool expected) =>
        Assert.Equal(expected, True(expression));

    [Theory]
    [InlineData("1 + \"a\"", "needs numbers")]
    [InlineData("79228162514264337593543950335.0 + 1", "decimal overflow")]
    [InlineData("1 && true", "needs Bools")]
    [InlineData("true && 1", "needs Bools")]
    [InlineData("!1", "needs a Bool")]
    [InlineData("if 1 then true else false", "Bool condition")]
    [InlineData("\"a\" < \"b\"", "needs numbers")]
    [InlineData("9223372036854775807 + 1", "overflow")]
    [InlineData("-9223372036854775807 - 2", "overflow")]
    [InlineData("4611686018427387904 * 2", "overflow")]
    [InlineData("-(-9223372036854775808)", "overflow")]
    [InlineData("{a: 1}.b", "no attribute \"b\"")]
    [InlineData("1.contains(1)", "needs a Set")]
    [InlineData("[1].containsAll(1)", "needs a Set argument")]
    [InlineData("1 like \"a\"", "needs a String")]
    [InlineData("1 has a", "entity or a record")]
    [InlineData("1 in [User::\"a\"]", "entity on its left")]
    [InlineData("User::\"a\" in [1]", "set of entities")]
    [InlineData("User::\"a\" in [User::\"a\", 1]", "set of entities")]
    [InlineData("User::\"a\".name", "does not exist")]
    [InlineData("decimal(\"1.\" + \"5\")", "needs numbers")]
    [InlineData("ip(\"10.0.0.1\").lessThan(decimal(\"1.0\"))", "compares decimals")]
    [InlineData("decimal(\"1.0\").isLoopback()", "needs an ip")]
    public void Type_errors_overflow_and_missing_data_are_errors(string expression, string message) =>
        Assert.Contains(message, Error(expression));

    [Fact]
    public void Multiplication_within_range_is_exact() =>
        Assert.Equal(-9223372036854775807L - 1, Value("-4611686018427387904 * 2").AsLong);

    [Fact]
    public void Variables_read_the_request()
    {
        var principal = Entity("User", "alice", [("team_id", CedarValue.String("t1"))]);
        var resource = Entity("Deployment", "d1", [("average_latency_ms", CedarValue.Decimal(420.5m)), ("tags", CedarValue.Set([CedarValue.String("eu")]))]);
        var context = Record([("latency_sla_ms", CedarValue.Long(500)), ("labels", CedarValue.Record(Record([("tier", CedarValue.String("gold"))])))]);
        var request = Request(principal, resource, context);
        Assert.True(True("principal.team_id == \"t1\" && resource.average_latency_ms < context.latency_sla_ms", request));
        Assert.True(True("resource.tags.contains(\"eu\") && context.labels.tier == \"gold\" && context[\"labels\"][\"tier\"] like \"g*\"", request));
        Assert.True(True("principal == User::\"alice\" && resource is Deployment && action == Action::\"routing:select_model\"", request));
        Assert.True(True("context has latency_sla_ms && !(context has budget) && principal has team_id && context has labels.tier", request));
        Assert.Contains("context has no attribute \"budget\"", Error("context.budget < 1", request));
        Assert.Contains("resource has no attribute \"region\"", Error("resource.region == \"eu\"", request));
    }

    [Fact]
    public void Entity_attributes_are_read_through_the_store_and_has_is_false_for_unknown_entities()
    {
        var team = Entity("Team", "t1", [("tier", CedarValue.String("gold"))]);
        var principal = Entity("User", "alice", [("team", CedarValue.Entity(team.Uid))]);
        var store = new EntityStore([team]);
        var request = Request(principal);
        Assert.True(True("principal.team.tier == \"gold\"", request, store));
        Assert.False(True("Team::\"ghost\" has tier", request, store));
        Assert.Contains("Team::\"ghost\" does not exist", Error("Team::\"ghost\".tier == 1", request, store));
    }

    [Fact]
    public void In_follows_the_hierarchy_transitively_and_a_cycle_ends()
    {
        var org = new EntityUid("Org", "acme");
        var team = Entity("Team", "t1", null, org);
        // A cycle: a in b, b in a. Must answer, not hang.
        var a = Entity("Group", "a", null, new EntityUid("Group", "b"));
        var b = Entity("Group", "b", null, new EntityUid("Group", "a"));
        var principal = Entity("User", "alice", null, team.Uid, a.Uid);
        var store = new EntityStore([team, a, b]);
        var request = Request(principal);
        Assert.True(True("principal in Team::\"t1\"", request, store));
        Assert.True(True("principal in Org::\"acme\"", request, store));
        Assert.True(True("principal in principal", request, store));
        Assert.True(True("principal in [Team::\"x\", Org::\"acme\"]", request, store));
        Assert.True(True("Team::\"t1\" in Org::\"acme\"", request, store));
        Assert.False(True("Org::\"acme\" in Team::\"t1\"", request, store));
        Assert.False(True("principal in Org::\"other\"", request, store));
        Assert.False(True("Group::\"a\" in Org::\"acme\"", request, store));
        Assert.True(True("Group::\"a\" in Group::\"a\"", request, store));
        Assert.True(True("principal is User in Org::\"acme\"", request, store));
        Assert.False(True("principal is Team in Org::\"acme\"", request, store));
        Assert.False(True("Ghost::\"x\" in Org::\"acme\"", request, store));
    }

    [Theory]
    [InlineData("\"a\\q\"", "unknown escape")]
    [InlineData("decimal(\"1\")", "not a decimal")]
    [InlineData("decimal(\"abc\")", "not a decimal")]
    [InlineData("ip(\"10.0.0.256\")", "not an IPv4 or IPv6")]
    [InlineData("ip(\"010.0.0.1\")", "not an IPv4 or IPv6")]
    [InlineData("ip(\"10.0.0.1/33\")", "not an IPv4 or IPv6")]
    [InlineData("[1].size()", "unknown method .size()")]
    [InlineData("[1].contains()", "takes 1 argument")]
    [InlineData("foo(1)", "unknown function foo()")]
    [InlineData("user", "unknown name 'user'")]
    [InlineData("1 < 2 < 3", "cannot follow another comparison")]
    [InlineData("9223372036854775808", "out of the 64-bit range")]
    [InlineData("{a: 1, a: 2}", "duplicate record attribute")]
    [InlineData("1 = 1", "equality is '=='")]
    public void Bad_expressions_are_syntax_errors(string expression, string message)
    {
        var e = Assert.Throws<CedarSyntaxException>(() => CedarParser.ParseExpression(expression));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Attribute_access_and_comparisons_on_request_data_do_not_allocate()
    {
        var resource = Entity("Deployment", "d1", [("provider", CedarValue.String("vllm")), ("current_error_rate", CedarValue.Decimal(0.01m)),
            ("tags", CedarValue.Set([CedarValue.String("eu"), CedarValue.String("cheap")]))]);
        var request = Request(resource: resource, context: Record([("cost_budget_remaining", CedarValue.Decimal(5m))]));
        var expr = CedarParser.ParseExpression(
            "context.cost_budget_remaining < 10.0 && resource.provider == \"vllm\" && resource.provider like \"v*m\" && resource.tags.contains(\"eu\") && !(resource.current_error_rate > 0.05) && principal in [User::\"alice\"] && (context has latency_sla_ms || true)");
        var env = new EvalEnv(request, EntityStore.Empty);
        Assert.True(expr.Evaluate(ref env).AsBool);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            env = new EvalEnv(request, EntityStore.Empty);
            Assert.True(expr.Evaluate(ref env).AsBool);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
