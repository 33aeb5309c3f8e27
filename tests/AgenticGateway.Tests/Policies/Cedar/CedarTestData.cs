using System.Collections.Immutable;
using AgenticGateway.Cedar;

namespace AgenticGateway.Tests.Policies.Cedar;

/// <summary>Entities, requests and one-line evaluation for the Cedar tests.</summary>
internal static class CedarTestData
{
    public static readonly EntityUid SelectModel = new("Action", "routing:select_model");

    public static CedarEntity Entity(string type, string id, IEnumerable<(string, CedarValue)>? attributes = null, params EntityUid[] parents) =>
        new(new EntityUid(type, id), Record(attributes ?? []), [.. parents]);

    public static CedarRecord Record(IEnumerable<(string Name, CedarValue Value)> attributes) =>
        new(attributes.Select(a => new KeyValuePair<string, CedarValue>(a.Name, a.Value)));

    public static CedarRequest Request(ICedarEntity? principal = null, ICedarEntity? resource = null, CedarRecord? context = null, ICedarEntity? action = null) =>
        new(principal ?? Entity("User", "alice"), action ?? new CedarEntity(SelectModel, CedarRecord.Empty, []),
            resource ?? Entity("Deployment", "d1"), context ?? CedarRecord.Empty);

    public static PolicySet Load(string text, string file = "test.cedar")
    {
        var load = PolicySet.Load([new PolicySource(file, text)]);
        Assert.True(load.Succeeded, string.Join("\n", load.Errors));
        return load.Set!;
    }

    public static ImmutableArray<PolicyError> Errors(string text, string file = "test.cedar")
    {
        var load = PolicySet.Load([new PolicySource(file, text)]);
        Assert.False(load.Succeeded);
        Assert.Null(load.Set);
        return load.Errors;
    }

    /// <summary>Evaluates one expression; the error is null unless evaluation failed.</summary>
    public static (CedarValue Value, string? Error) Eval(string expression, CedarRequest? request = null, IEntityStore? store = null)
    {
        var expr = CedarParser.ParseExpression(expression);
        var env = new EvalEnv(request ?? Request(), store ?? EntityStore.Empty);
        var value = expr.Evaluate(ref env);
        return (value, env.Error);
    }

    public static CedarValue Value(string expression, CedarRequest? request = null, IEntityStore? store = null)
    {
        var (value, error) = Eval(expression, request, store);
        Assert.True(error is null, $"{expression}: {error}");
        return value;
    }

    public static bool True(string expression, CedarRequest? request = null, IEntityStore? store = null)
    {
        var value = Value(expression, request, store);
        Assert.Equal(CedarKind.Bool, value.Kind);
        return value.AsBool;
    }

    public static string Error(string expression, CedarRequest? request = null, IEntityStore? store = null)
    {
        var (_, error) = Eval(expression, request, store);
        Assert.True(error is not null, $"{expression} evaluated without an error");
        return error!;
    }
}
