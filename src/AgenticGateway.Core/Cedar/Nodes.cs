namespace AgenticGateway.Cedar;

// The compiled expression tree. Each node evaluates its children, returns at once when one failed (env.Error), and
// records type errors rather than throwing. Messages are built once at compile time where they can be.

internal enum Variable : byte { Principal, Action, Resource, Context }

internal sealed class ConstNode(CedarValue value) : Expr
{
    public CedarValue Value => value;
    public override CedarValue Evaluate(ref EvalEnv env) => value;
}

internal sealed class VariableNode(Variable variable) : Expr
{
    public Variable Variable => variable;

    public override CedarValue Evaluate(ref EvalEnv env) => variable switch
    {
        Variable.Principal => CedarValue.Entity(env.Principal),
        Variable.Action => CedarValue.Entity(env.Action),
        Variable.Resource => CedarValue.Entity(env.Resource),
        _ => CedarValue.Record(env.Context),
    };
}

/// <summary><c>principal.a</c>, <c>resource.a</c>, <c>context.a</c>: the hot path, straight to the request's data.</summary>
internal sealed class VariableAttributeNode(Variable variable, string name) : Expr
{
    private readonly string _missing = $"{variable.ToString().ToLowerInvariant()} has no attribute \"{name}\"";

    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var found = variable switch
        {
            Variable.Principal => env.Principal.TryGetAttribute(name, out var v) ? v : (CedarValue?)null,
            Variable.Action => env.Action.TryGetAttribute(name, out var v) ? v : null,
            Variable.Resource => env.Resource.TryGetAttribute(name, out var v) ? v : null,
            _ => env.Context.TryGet(name, out var v) ? v : null,
        };
        return found ?? env.Fail(_missing);
    }
}

/// <summary><c>e.a</c> and <c>e["a"]</c> on a record or an entity.</summary>
internal sealed class AttributeNode(Expr target, string name) : Expr
{
    private readonly string _missing = $"no attribute \"{name}\"";

    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var t = target.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        switch (t.Kind)
        {
            case CedarKind.Record:
                return t.AsRecord.TryGet(name, out var v) ? v : env.Fail(_missing);
            case CedarKind.Entity:
                var entity = Entities.Resolve(t, env.Store);
                if (entity is null)
                    return env.Fail($"entity {t.AsEntity} does not exist");
                return entity.TryGetAttribute(name, out var a) ? a : env.Fail($"{entity.Uid} has no attribute \"{name}\"");
            default:
                return env.Fail($"attribute access \".{name}\" needs an entity or a record, not {t.Kind}");
        }
    }
}

internal static class Entities
{
    public static ICedarEntity? Resolve(in CedarValue entity, IEntityStore store) =>
        entity.RequestEntity ?? store.Find(entity.AsEntity);
}

/// <summary><c>e has a</c>, <c>e has a.b</c> (each step must be present). An entity that does not exist has nothing.</summary>
internal sealed class HasNode(Expr target, string[] path) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var t = target.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        if (t.Kind is not (CedarKind.Record or CedarKind.Entity))
            return env.Fail($"\"has\" needs an entity or a record, not {t.Kind}");
        foreach (var name in path)
        {
            CedarValue next;
            if (t.Kind == CedarKind.Record)
            {
                if (!t.AsRecord.TryGet(name, out next))
                    return CedarValue.False;
            }
            else if (t.Kind == CedarKind.Entity)
            {
                if (Entities.Resolve(t, env.Store) is not { } e || !e.TryGetAttribute(name, out next))
                    return CedarValue.False;
            }
            else
                return env.Fail($"\"has\" needs an entity or a record, not {t.Kind}");
            t = next;
        }
        return CedarValue.True;
    }
}

internal sealed class NotNode(Expr operand) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var v = operand.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        return v.Kind == CedarKind.Bool ? CedarValue.Bool(v.RawLong == 0) : env.Fail($"\"!\" needs a Bool, not {v.Kind}");
    }
}

internal sealed class NegateNode(Expr operand) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var v = operand.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        if (v.Kind == CedarKind.Decimal)
            return CedarValue.Decimal(-v.RawDecimal);
        if (v.Kind != CedarKind.Long)
            return env.Fail($"unary \"-\" needs a Long, not {v.Kind}");
        return v.RawLong == long.MinValue ? env.Fail("integer overflow: -(" + v.RawLong + ")") : CedarValue.Long(-v.RawLong);
    }
}

/// <summary>
/// A chain of <c>&amp;&amp;</c> (or of <c>||</c>): strict Bools, left to right, stopping at the first operand that
/// decides (false for and, true for or), as Cedar's short-circuit does.
/// </summary>
internal sealed class LogicNode(bool isAnd, Expr[] operands) : Expr
{
    private readonly string _typeError = $"\"{(isAnd ? "&&" : "||")}\" needs Bools, not ";

    public override CedarValue Evaluate(ref EvalEnv env)
    {
        foreach (var operand in operands)
        {
            var v = operand.Evaluate(ref env);
            if (env.Error is not null)
                return default;
            if (v.Kind != CedarKind.Bool)
                return env.Fail(_typeError + v.Kind);
            if ((v.RawLong != 0) != isAnd)
                return v;
        }
        return CedarValue.Bool(isAnd);
    }
}

internal sealed class IfNode(Expr condition, Expr then, Expr otherwise) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var c = condition.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        if (c.Kind != CedarKind.Bool)
            return env.Fail($"\"if\" needs a Bool condition, not {c.Kind}");
        return c.RawLong != 0 ? then.Evaluate(ref env) : otherwise.Evaluate(ref env);
    }
}

/// <summary>An operator on two operands, evaluated left then right; an error in either is the result.</summary>
internal abstract class BinaryNode(Expr left, Expr right) : Expr
{
    public sealed override CedarValue Evaluate(ref EvalEnv env)
    {
        var l = left.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        var r = right.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        return Apply(l, r, ref env);
    }

    protected abstract CedarValue Apply(in CedarValue l, in CedarValue r, ref EvalEnv env);
}

internal enum CompareOp : byte { Eq, NotEq, Lt, LtEq, Gt, GtEq }

/// <summary>
/// <c>== !=</c> on any values (different types are unequal, never an error); <c>&lt; &lt;= &gt; &gt;=</c> on Longs,
/// and in our dialect on decimals and a mix of both.
/// </summary>
internal sealed class CompareNode(CompareOp op, Expr left, Expr right) : BinaryNode(left, right)
{
    private static readonly string[] Spellings = ["==", "!=", "<", "<=", ">", ">="];

    protected override CedarValue Apply(in CedarValue l, in CedarValue r, ref EvalEnv env)
    {
        switch (op)
        {
            case CompareOp.Eq: return CedarValue.Bool(l.Equals(r));
            case CompareOp.NotEq: return CedarValue.Bool(!l.Equals(r));
        }
        int cmp;
        if (l.Kind == CedarKind.Long && r.Kind == CedarKind.Long)
            cmp = l.RawLong.CompareTo(r.RawLong);
        else if (l.TryNumber(out var a) && r.TryNumber(out var b))
            cmp = a.CompareTo(b);
        else
            return env.Fail($"\"{Spellings[(int)op]}\" needs numbers, not {l.Kind} and {r.Kind}");
        return CedarValue.Bool(op switch
        {
            CompareOp.Lt => cmp < 0,
            CompareOp.LtEq => cmp <= 0,
            CompareOp.Gt => cmp > 0,
            _ => cmp >= 0,
        });
    }
}

internal enum ArithOp : byte { Add, Subtract, Multiply }

/// <summary><c>+ - *</c> on Longs; a result outside 64 bits is an overflow error, as in Cedar.</summary>
internal sealed class ArithmeticNode(ArithOp op, Expr left, Expr right) : BinaryNode(left, right)
{
    private readonly string _spelling = op switch { ArithOp.Add => "+", ArithOp.Subtract => "-", _ => "*" };

    protected override CedarValue Apply(in CedarValue l, in CedarValue r, ref EvalEnv env)
    {
        if (l.Kind != CedarKind.Long || r.Kind != CedarKind.Long)
        {
            // Dialect: with a decimal operand the arithmetic is decimal (prices times token counts); Cedar has none.
            if ((l.Kind == CedarKind.Decimal || r.Kind == CedarKind.Decimal) && l.TryNumber(out var x) && r.TryNumber(out var y))
                return DecimalArithmetic(x, y, ref env);
            return env.Fail($"\"{_spelling}\" needs numbers, not {l.Kind} and {r.Kind}");
        }
        long a = l.RawLong, b = r.RawLong, result;
        bool overflow;
        switch (op)
        {
            case ArithOp.Add:
                result = unchecked(a + b);
                overflow = ((a ^ result) & (b ^ result)) < 0;
                break;
            case ArithOp.Subtract:
                result = unchecked(a - b);
                overflow = ((a ^ b) & (a ^ result)) < 0;
                break;
            default:
                // No overflow when the high half is just the sign extension of the low half.
                var high = Math.BigMul(a, b, out result);
                overflow = high != (result >> 63);
                break;
        }
        return overflow ? env.Fail($"integer overflow: {a} {_spelling} {b}") : CedarValue.Long(result);
    }

    private CedarValue DecimalArithmetic(decimal x, decimal y, ref EvalEnv env)
    {
        try
        {
            return CedarValue.Decimal(op switch { ArithOp.Add => x + y, ArithOp.Subtract => x - y, _ => x * y });
        }
        catch (OverflowException)
        {
            return env.Fail($"decimal overflow: {x} {_spelling} {y}");
        }
    }
}

/// <summary><c>a in b</c>: b an entity (a is b or one of its ancestors) or a set of entities (any of them).</summary>
internal sealed class InNode(Expr left, Expr right) : BinaryNode(left, right)
{
    protected override CedarValue Apply(in CedarValue l, in CedarValue r, ref EvalEnv env) => Test(l, r, ref env);

    public static CedarValue Test(in CedarValue l, in CedarValue r, ref EvalEnv env)
    {
        if (l.Kind != CedarKind.Entity)
            return env.Fail($"\"in\" needs an entity on its left, not {l.Kind}");
        if (r.Kind == CedarKind.Entity)
            return CedarValue.Bool(Hierarchy.IsIn(l, r.AsEntity, env.Store));
        if (r.Kind != CedarKind.Set)
            return env.Fail($"\"in\" needs an entity or a set of entities on its right, not {r.Kind}");
        // Every element must be an entity, even after a match (Cedar checks the whole set first).
        foreach (var e in r.RawSet)
            if (e.Kind != CedarKind.Entity)
                return env.Fail($"\"in\" needs a set of entities on its right, and the set holds a {e.Kind}");
        foreach (var e in r.RawSet)
            if (Hierarchy.IsIn(l, e.AsEntity, env.Store))
                return CedarValue.True;
        return CedarValue.False;
    }
}

/// <summary><c>e is T</c> and <c>e is T in x</c>.</summary>
internal sealed class IsNode(Expr target, string type, Expr? inside) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var t = target.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        if (t.Kind != CedarKind.Entity)
            return env.Fail($"\"is\" needs an entity, not {t.Kind}");
        if (!string.Equals(t.AsEntity.Type, type, StringComparison.Ordinal))
            return CedarValue.False;
        if (inside is null)
            return CedarValue.True;
        var container = inside.Evaluate(ref env);
        return env.Error is null ? InNode.Test(t, container, ref env) : default;
    }
}

/// <summary><c>s like "pat*tern"</c>: <c>*</c> matches any run of characters, <c>\*</c> a star.</summary>
internal sealed class LikeNode(Expr target, LikePattern pattern) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var t = target.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        return t.Kind == CedarKind.String ? CedarValue.Bool(pattern.Matches(t.RawString)) : env.Fail($"\"like\" needs a String, not {t.Kind}");
    }
}

internal sealed class SetNode(Expr[] elements) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var values = new CedarValue[elements.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = elements[i].Evaluate(ref env);
            if (env.Error is not null)
                return default;
        }
        return CedarValue.Set(System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(values));
    }
}

internal sealed class RecordNode(string[] names, Expr[] values) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var pairs = new KeyValuePair<string, CedarValue>[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var v = values[i].Evaluate(ref env);
            if (env.Error is not null)
                return default;
            pairs[i] = new(names[i], v);
        }
        return CedarValue.Record(new CedarRecord(pairs));
    }
}
