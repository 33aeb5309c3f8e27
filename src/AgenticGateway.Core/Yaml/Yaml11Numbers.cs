using System.Globalization;
using System.Text.RegularExpressions;

namespace AgenticGateway.Yaml;

/// <summary>
/// Numbers as PyYAML (and so LiteLLM) resolves plain YAML scalars: YAML 1.1's implicit int and float, where
/// <c>20_000</c> is 20000, <c>0x1F</c> is 31, <c>017</c> is octal 15, <c>0b101</c> is 5 and <c>1:30</c> is
/// sexagesimal 90. The patterns are PyYAML's resolver patterns (yaml/resolver.py); the values follow its
/// constructor (construct_yaml_int, construct_yaml_float). Only plain scalars resolve: a quoted one is a string.
/// </summary>
internal static partial class Yaml11Numbers
{
    [GeneratedRegex(@"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$", RegexOptions.CultureInvariant)]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();

    /// <summary>
    /// The plain scalar as a number in invariant decimal text (what the typed readers then parse), or null when
    /// PyYAML would not read it as a number (then the caller keeps the text as it is).
    /// </summary>
    public static string? Normalize(string text)
    {
        if (TryInteger(text, out var integer)) return integer.ToString(CultureInfo.InvariantCulture);
        if (!FloatPattern().IsMatch(text)) return null;
        var value = text.Replace("_", "", StringComparison.Ordinal);
        if (!value.Contains(':')) return value.ToLowerInvariant();
        // Sexagesimal float (190:20:30.15): base-60 digits, the last one with a fraction.
        var negative = value[0] == '-';
        if (value[0] is '-' or '+') value = value[1..];
        var total = 0.0;
        foreach (var part in value.Split(':')) total = total * 60 + double.Parse(part, NumberStyles.Float, CultureInfo.InvariantCulture);
        return (negative ? -total : total).ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A YAML 1.1 integer (PyYAML's construct_yaml_int); false when it is not one or does not fit in a long.</summary>
    public static bool TryInteger(string text, out long value)
    {
        value = 0;
        if (!IntPattern().IsMatch(text)) return false;
        var s = text.Replace("_", "", StringComparison.Ordinal);
        var sign = s[0] == '-' ? -1 : 1;
        if (s[0] is '-' or '+') s = s[1..];
        try
        {
            checked
            {
                if (s == "0") value = 0;
                else if (s.StartsWith("0b", StringComparison.Ordinal)) value = s.Length == 2 ? 0 : Convert.ToInt64(s[2..], 2);
                else if (s.StartsWith("0x", StringComparison.Ordinal)) value = s.Length == 2 ? 0 : long.Parse(s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                else if (s[0] == '0') value = Convert.ToInt64(s, 8);
                else if (s.Contains(':'))
                {
                    foreach (var part in s.Split(':')) value = value * 60 + long.Parse(part, CultureInfo.InvariantCulture);
                }
                else value = long.Parse(s, CultureInfo.InvariantCulture);
                // A hexadecimal literal above long.MaxValue parses as negative: out of range, as any other overflow.
                if (value < 0) return false;
                value *= sign;
            }
            return true;
        }
        catch (Exception ex) when (ex is OverflowException or FormatException)
        {
            return false;
        }
    }
}
