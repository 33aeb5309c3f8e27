using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AgenticGateway.Edge.Rules;

/// <summary>
/// Go's regular expressions (RE2 syntax, which Traefik's rules and middlewares use) compiled for .NET. The syntax that
/// differs is rewritten: <c>(?P&lt;name&gt;...)</c>, <c>\Q...\E</c>, <c>\pL</c>, <c>\x{...}</c>, POSIX classes
/// (<c>[[:alpha:]]</c>), and <c>\d</c>, <c>\w</c>, <c>\s</c>, which are ASCII-only in Go. The result runs with
/// <see cref="RegexOptions.NonBacktracking"/>, so as in Go a pattern's time is linear in its input whatever the pattern;
/// what RE2 lacks and .NET has (lookarounds, backreferences) is refused, as Go refuses it.
/// </summary>
internal static class GoRegex
{
    private const RegexOptions Options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    /// <summary>Compiles a Go pattern; null and an error saying what is wrong on failure.</summary>
    public static Regex? TryCreate(string pattern, out string? error)
    {
        var translated = Translate(pattern, out error);
        if (translated is null) return null;
        try
        {
            return new Regex(translated, Options);
        }
        catch (ArgumentException e)
        {
            error = $"invalid regular expression '{pattern}': {e.Message}";
        }
        catch (NotSupportedException)
        {
            error = $"invalid regular expression '{pattern}': Go's regular expressions (RE2) have no lookarounds, backreferences or atomic groups";
        }
        return null;
    }

    /// <summary>The .NET spelling of a Go pattern; null with an error for Go syntax .NET cannot express.</summary>
    public static string? Translate(string pattern, out string? error)
    {
        error = null;
        var sb = new StringBuilder(pattern.Length + 8);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (inClass && c == '[' && i + 1 < pattern.Length && pattern[i + 1] == ':')
            {
                var end = pattern.IndexOf(":]", i + 2, StringComparison.Ordinal);
                if (end > 0)
                {
                    var name = pattern[(i + 2)..end];
                    var ranges = PosixClass(name);
                    if (ranges is null) { error = $"invalid regular expression '{pattern}': unknown or negated character class [:{name}:]"; return null; }
                    sb.Append(ranges);
                    i = end + 1;
                    continue;
                }
            }
            if (c == '[' && !inClass)
            {
                inClass = true;
                sb.Append(c);
                // A ']' right after '[' or '[^' is a literal in Go, as in .NET.
                if (i + 1 < pattern.Length && pattern[i + 1] == '^') { sb.Append('^'); i++; }
                if (i + 1 < pattern.Length && pattern[i + 1] == ']') { sb.Append(@"\]"); i++; }
                continue;
            }
            if (c == ']' && inClass) { inClass = false; sb.Append(c); continue; }
            if (c == '(' && !inClass && string.CompareOrdinal(pattern, i, "(?P<", 0, 4) == 0)
            {
                sb.Append("(?<");
                i += 3;
                continue;
            }
            if (c == '(' && !inClass && i + 2 < pattern.Length && pattern[i + 1] == '?' && FlagGroupHasU(pattern, i + 2))
            {
                error = $"invalid regular expression '{pattern}': the ungreedy flag (?U) is not supported";
                return null;
            }
            if (c != '\\' || i + 1 >= pattern.Length) { sb.Append(c); continue; }
            var e = pattern[++i];
            switch (e)
            {
                case 'd': sb.Append(inClass ? "0-9" : "[0-9]"); break;
                case 'w': sb.Append(inClass ? "0-9A-Za-z_" : "[0-9A-Za-z_]"); break;
                case 's': sb.Append(inClass ? @"\t\n\f\r " : @"[\t\n\f\r ]"); break;
                case 'D': sb.Append(inClass ? @"\D" : "[^0-9]"); break;
                case 'W': sb.Append(inClass ? @"\W" : "[^0-9A-Za-z_]"); break;
                case 'S': sb.Append(inClass ? @"\S" : @"[^\t\n\f\r ]"); break;
                case 'p' or 'P' when i + 1 < pattern.Length && pattern[i + 1] != '{':
                    sb.Append('\\').Append(e).Append('{').Append(pattern[++i]).Append('}');
                    break;
                case 'x' when i + 1 < pattern.Length && pattern[i + 1] == '{':
                {
                    var close = pattern.IndexOf('}', i + 2);
                    if (close < 0 || !int.TryParse(pattern.AsSpan(i + 2, close - i - 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var cp) || cp > 0x10FFFF)
                    {
                        error = $"invalid regular expression '{pattern}': invalid escape \\x{{...}}";
                        return null;
                    }
                    foreach (var ch in char.ConvertFromUtf32(cp)) sb.Append(@"\u").Append(((int)ch).ToString("X4", CultureInfo.InvariantCulture));
                    i = close;
                    break;
                }
                case 'Q':
                {
                    var close = pattern.IndexOf(@"\E", i + 1, StringComparison.Ordinal);
                    var literal = close < 0 ? pattern[(i + 1)..] : pattern[(i + 1)..close];
                    sb.Append(inClass ? EscapeInClass(literal) : Regex.Escape(literal));
                    i = close < 0 ? pattern.Length : close + 1;
                    break;
                }
                case 'C':
                    error = $"invalid regular expression '{pattern}': \\C is not supported";
                    return null;
                case >= '1' and <= '9' when !inClass:
                    error = $"invalid regular expression '{pattern}': backreferences (\\{e}) are not part of Go's regular expressions";
                    return null;
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private static bool FlagGroupHasU(string pattern, int from)
    {
        for (var j = from; j < pattern.Length; j++)
        {
            var c = pattern[j];
            if (c is ')' or ':') return false;
            if (c == 'U') return true;
            if (!char.IsAsciiLetter(c) && c != '-') return false;
        }
        return false;
    }

    private static string EscapeInClass(string literal)
    {
        var sb = new StringBuilder();
        foreach (var c in literal)
        {
            if (c is '\\' or ']' or '[' or '^' or '-') sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Go's ASCII POSIX classes as .NET class ranges.</summary>
    private static string? PosixClass(string name) => name switch
    {
        "alnum" => "0-9A-Za-z",
        "alpha" => "A-Za-z",
        "ascii" => @"\x00-\x7F",
        "blank" => @"\t ",
        "cntrl" => @"\x00-\x1F\x7F",
        "digit" => "0-9",
        "graph" => @"!-~",
        "lower" => "a-z",
        "print" => @" -~",
        "punct" => @"!-/:-@\[-`{-~",
        "space" => @"\t\n\v\f\r ",
        "upper" => "A-Z",
        "word" => "0-9A-Za-z_",
        "xdigit" => "0-9A-Fa-f",
        _ => null,
    };
}
