using System.Globalization;

namespace AgenticGateway.Cedar;

internal enum MethodKind : byte
{
    Contains, ContainsAll, ContainsAny, IsEmpty,
    LessThan, LessThanOrEqual, GreaterThan, GreaterThanOrEqual,
    IsIpv4, IsIpv6, IsLoopback, IsMulticast, IsInRange,
}

/// <summary>The methods Cedar has on sets, decimals and ip addresses.</summary>
internal sealed class MethodNode(MethodKind method, string name, Expr target, Expr? argument) : Expr
{
    public static readonly IReadOnlyDictionary<string, (MethodKind Kind, int Arity)> ByName = new Dictionary<string, (MethodKind, int)>(StringComparer.Ordinal)
    {
        ["contains"] = (MethodKind.Contains, 1),
        ["containsAll"] = (MethodKind.ContainsAll, 1),
        ["containsAny"] = (MethodKind.ContainsAny, 1),
        ["isEmpty"] = (MethodKind.IsEmpty, 0),
        ["lessThan"] = (MethodKind.LessThan, 1),
        ["lessThanOrEqual"] = (MethodKind.LessThanOrEqual, 1),
        ["greaterThan"] = (MethodKind.GreaterThan, 1),
        ["greaterThanOrEqual"] = (MethodKind.GreaterThanOrEqual, 1),
        ["isIpv4"] = (MethodKind.IsIpv4, 0),
        ["isIpv6"] = (MethodKind.IsIpv6, 0),
        ["isLoopback"] = (MethodKind.IsLoopback, 0),
        ["isMulticast"] = (MethodKind.IsMulticast, 0),
        ["isInRange"] = (MethodKind.IsInRange, 1),
    };

    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var t = target.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        var a = default(CedarValue);
        if (argument is not null)
        {
            a = argument.Evaluate(ref env);
            if (env.Error is not null)
                return default;
        }
        switch (method)
        {
            case MethodKind.Contains:
                return t.Kind == CedarKind.Set ? CedarValue.Bool(CedarValue.Contains(t.RawSet, a)) : NeedsSet(ref env, t);
            case MethodKind.IsEmpty:
                return t.Kind == CedarKind.Set ? CedarValue.Bool(t.RawSet.Length == 0) : NeedsSet(ref env, t);
            case MethodKind.ContainsAll:
            case MethodKind.ContainsAny:
                if (t.Kind != CedarKind.Set)
                    return NeedsSet(ref env, t);
                if (a.Kind != CedarKind.Set)
                    return env.Fail($".{name}() needs a Set argument, not {a.Kind}");
                if (method == MethodKind.ContainsAll)
                    return CedarValue.Bool(CedarValue.ContainsAll(t.RawSet, a.RawSet));
                foreach (var item in a.RawSet)
                    if (CedarValue.Contains(t.RawSet, item))
                        return CedarValue.True;
                return CedarValue.False;
            case MethodKind.LessThan:
            case MethodKind.LessThanOrEqual:
            case MethodKind.GreaterThan:
            case MethodKind.GreaterThanOrEqual:
                // Cedar's are on decimals; our dialect's decimals and Longs are both numbers.
                if (!t.TryNumber(out var x) || !a.TryNumber(out var y) || (t.Kind != CedarKind.Decimal && a.Kind != CedarKind.Decimal))
                    return env.Fail($".{name}() compares decimals, not {t.Kind} and {a.Kind}");
                var cmp = x.CompareTo(y);
                return CedarValue.Bool(method switch
                {
                    MethodKind.LessThan => cmp < 0,
                    MethodKind.LessThanOrEqual => cmp <= 0,
                    MethodKind.GreaterThan => cmp > 0,
                    _ => cmp >= 0,
                });
            default:
                if (t.Kind != CedarKind.Ip)
                    return env.Fail($".{name}() needs an ip value, not {t.Kind}");
                var ip = t.AsIp;
                switch (method)
                {
                    case MethodKind.IsIpv4: return CedarValue.Bool(ip.IsIpv4);
                    case MethodKind.IsIpv6: return CedarValue.Bool(ip.IsIpv6);
                    case MethodKind.IsLoopback: return CedarValue.Bool(ip.IsLoopback);
                    case MethodKind.IsMulticast: return CedarValue.Bool(ip.IsMulticast);
                    default:
                        return a.Kind == CedarKind.Ip ? CedarValue.Bool(ip.IsInRange(a.AsIp)) : env.Fail($".isInRange() needs an ip argument, not {a.Kind}");
                }
        }
    }

    private CedarValue NeedsSet(ref EvalEnv env, in CedarValue t) => env.Fail($".{name}() needs a Set, not {t.Kind}");
}

/// <summary>The extension constructors <c>decimal("1.23")</c> and <c>ip("10.0.0.0/8")</c> on a computed string.</summary>
internal sealed class ExtensionCallNode(bool isDecimal, Expr argument) : Expr
{
    public override CedarValue Evaluate(ref EvalEnv env)
    {
        var a = argument.Evaluate(ref env);
        if (env.Error is not null)
            return default;
        if (a.Kind != CedarKind.String)
            return env.Fail($"{(isDecimal ? "decimal" : "ip")}() needs a String, not {a.Kind}");
        return Construct(isDecimal, a.RawString, out var value, out var error) ? value : env.Fail(error!);
    }

    public static bool Construct(bool isDecimal, string text, out CedarValue value, out string? error)
    {
        error = null;
        if (isDecimal)
        {
            if (CedarDecimal.TryParse(text, out var d))
            {
                value = CedarValue.Decimal(d);
                return true;
            }
            error = $"decimal(\"{text}\"): not a decimal (digits, a dot, then 1 to 28 digits)";
        }
        else
        {
            if (IpValue.TryParse(text, out var ip))
            {
                value = CedarValue.Ip(ip!);
                return true;
            }
            error = $"ip(\"{text}\"): not an IPv4 or IPv6 address or range";
        }
        value = default;
        return false;
    }
}

internal static class CedarDecimal
{
    /// <summary>
    /// Cedar's decimal text, <c>-?digits.digits</c>. Cedar allows at most 4 fractional digits; ours are System.Decimal
    /// (up to 28), since prices per token need more.
    /// </summary>
    public static bool TryParse(string text, out decimal value)
    {
        value = 0;
        var s = text.AsSpan();
        var body = s.Length > 0 && s[0] == '-' ? s[1..] : s;
        var dot = body.IndexOf('.');
        if (dot <= 0 || dot == body.Length - 1 || body.Length - dot - 1 > 28)
            return false;
        foreach (var c in body)
            if (c != '.' && !char.IsAsciiDigit(c))
                return false;
        if (body[(dot + 1)..].Contains('.'))
            return false;
        return decimal.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>A compiled <c>like</c> pattern: literal characters and wildcards.</summary>
internal sealed class LikePattern
{
    private readonly string _chars;
    private readonly bool[] _star;

    private LikePattern(string chars, bool[] star)
    {
        _chars = chars;
        _star = star;
    }

    /// <summary>From the pattern's raw source text: <c>*</c> is a wildcard, <c>\*</c> a star, other escapes as in strings.</summary>
    public static bool TryCompile(string raw, out LikePattern? pattern, out string? error)
    {
        pattern = null;
        error = null;
        var chars = new System.Text.StringBuilder(raw.Length);
        var star = new List<bool>(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c == '*')
            {
                chars.Append('*');
                star.Add(true);
                continue;
            }
            if (c != '\\')
            {
                chars.Append(c);
                star.Add(false);
                continue;
            }
            if (i + 1 < raw.Length && raw[i + 1] == '*')
            {
                chars.Append('*');
                star.Add(false);
                i++;
                continue;
            }
            var end = i + 1 < raw.Length && raw[i + 1] == 'u' ? raw.IndexOf('}', i) : i + 1;
            if (end < 0 || end >= raw.Length)
                end = raw.Length - 1;
            if (!CedarText.TryUnescape(raw.AsSpan(i, end - i + 1), out var unescaped, out error))
                return false;
            foreach (var u in unescaped)
            {
                chars.Append(u);
                star.Add(false);
            }
            i = end;
        }
        pattern = new LikePattern(chars.ToString(), [.. star]);
        return true;
    }

    /// <summary>Glob matching that backtracks only to the last wildcard: linear for typical patterns, never exponential.</summary>
    public bool Matches(string s)
    {
        int p = 0, i = 0, starP = -1, starI = 0;
        while (i < s.Length)
        {
            if (p < _chars.Length && _star[p])
            {
                starP = p++;
                starI = i;
            }
            else if (p < _chars.Length && _chars[p] == s[i])
            {
                p++;
                i++;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                i = ++starI;
            }
            else
                return false;
        }
        while (p < _chars.Length && _star[p])
            p++;
        return p == _chars.Length;
    }
}
