using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// A regular expression written for Go's RE2 (what Traefik's regex options are), run by .NET with the same meaning.
/// What differs is translated: named groups become plain groups with the names kept here (.NET numbers named groups after
/// the others, Go numbers every group from the left, and replacements use those numbers), <c>\d \w \s</c> and POSIX
/// classes stay ASCII as in RE2, <c>\pL</c>, <c>\x{..}</c>, octal and <c>\Q..\E</c> are rewritten. RE2 has no
/// backtracking constructs, so .NET's non-backtracking engine runs every pattern in linear time.
/// </summary>
internal sealed class GoRegex
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private readonly ImmutableDictionary<string, int> _names;

    private GoRegex(Regex regex, ImmutableDictionary<string, int> names)
    {
        Regex = regex;
        _names = names;
    }

    public Regex Regex { get; }

    public bool IsMatch(string input) => Regex.IsMatch(input);

    /// <summary>Compiles <paramref name="pattern"/>, reporting a pattern .NET cannot run at <paramref name="path"/>; null then.</summary>
    public static GoRegex? Compile(EdgeOptions options, string path, string pattern)
    {
        if (!TryTranslate(pattern, out var translated, out var names, out var error))
        {
            options.Error(path, $"invalid regular expression '{pattern}': {error}");
            return null;
        }
        try
        {
            return new GoRegex(new Regex(translated, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, Timeout), names);
        }
        catch (ArgumentException e)
        {
            options.Error(path, $"invalid regular expression '{pattern}': {e.Message}");
            return null;
        }
    }

    /// <summary>Go's ReplaceAllString: every non-overlapping match replaced by the template, $1 and ${name} expanded; an
    /// empty match right after a match is skipped, as Go does.</summary>
    public string ReplaceAll(string input, GoTemplate template)
    {
        StringBuilder? builder = null;
        var copied = 0;
        var lastEnd = -1;
        for (var match = Regex.Match(input); match.Success; match = match.NextMatch())
        {
            if (match.Length == 0 && match.Index == lastEnd) continue;
            builder ??= new StringBuilder(input.Length + 16);
            builder.Append(input, copied, match.Index - copied);
            template.Expand(builder, match, _names);
            copied = match.Index + match.Length;
            lastEnd = copied;
        }
        if (builder is null) return input;
        return builder.Append(input, copied, input.Length - copied).ToString();
    }

    public Match FirstMatch(string input) => Regex.Match(input);

    internal static bool TryTranslate(string pattern, out string translated, out ImmutableDictionary<string, int> names, out string? error)
    {
        var output = new StringBuilder(pattern.Length + 16);
        var groupNames = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        var groups = 0;
        var inClass = false;
        translated = "";
        names = ImmutableDictionary<string, int>.Empty;
        error = null;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\')
            {
                if (i + 1 >= pattern.Length) { error = "trailing backslash at end of expression"; return false; }
                var next = pattern[i + 1];
                switch (next)
                {
                    case 'd': output.Append(inClass ? "0-9" : "[0-9]"); i++; continue;
                    case 'D': if (inClass) { error = "\\D inside a character class is not supported"; return false; } output.Append("[^0-9]"); i++; continue;
                    case 'w': output.Append(inClass ? "0-9A-Za-z_" : "[0-9A-Za-z_]"); i++; continue;
                    case 'W': if (inClass) { error = "\\W inside a character class is not supported"; return false; } output.Append("[^0-9A-Za-z_]"); i++; continue;
                    case 's': output.Append(inClass ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]"); i++; continue;
                    case 'S': if (inClass) { error = "\\S inside a character class is not supported"; return false; } output.Append("[^\\t\\n\\f\\r ]"); i++; continue;
                    case 'p' or 'P' when i + 2 < pattern.Length && pattern[i + 2] != '{':
                        output.Append('\\').Append(next).Append('{').Append(pattern[i + 2]).Append('}'); i += 2; continue;
                    case 'x' when i + 2 < pattern.Length && pattern[i + 2] == '{':
                        {
                            var close = pattern.IndexOf('}', i + 3);
                            if (close < 0 || !int.TryParse(pattern.AsSpan(i + 3, close - i - 3), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code) || code > 0x10FFFF)
                            { error = $"invalid escape {pattern[i..Math.Min(pattern.Length, i + 12)]}"; return false; }
                            AppendLiteral(output, char.ConvertFromUtf32(code), inClass);
                            i = close;
                            continue;
                        }
                    case >= '0' and <= '7':
                        {
                            var end = i + 1;
                            while (end < pattern.Length && end < i + 4 && pattern[end] is >= '0' and <= '7') end++;
                            var code = Convert.ToInt32(pattern[(i + 1)..end], 8);
                            output.Append("\\u").Append(code.ToString("X4", CultureInfo.InvariantCulture));
                            i = end - 1;
                            continue;
                        }
                    case '8' or '9': error = $"invalid escape \\{next}"; return false;
                    case 'Q':
                        {
                            var end = pattern.IndexOf("\\E", i + 2, StringComparison.Ordinal);
                            var literal = end < 0 ? pattern[(i + 2)..] : pattern[(i + 2)..end];
                            AppendLiteral(output, literal, inClass);
                            i = end < 0 ? pattern.Length : end + 1;
                            continue;
                        }
                    case 'C': error = "\\C is not supported"; return false;
                    default: output.Append(c).Append(next); i++; continue;
                }
            }
            if (inClass)
            {
                if (c == '[' && i + 1 < pattern.Length && pattern[i + 1] == ':')
                {
                    var close = pattern.IndexOf(":]", i + 2, StringComparison.Ordinal);
                    if (close > 0 && Posix(pattern[(i + 2)..close]) is { } set) { output.Append(set); i = close + 1; continue; }
                    if (close > 0) { error = $"invalid character class range [{pattern[(i + 1)..(close + 1)]}]"; return false; }
                }
                // .NET reads "[" inside a class as a subtraction's start when it follows "-"; RE2 reads a literal.
                if (c == '[') { output.Append("\\["); continue; }
                if (c == ']') inClass = false;
                output.Append(c);
                continue;
            }
            switch (c)
            {
                case '[':
                    inClass = true;
                    output.Append(c);
                    // A "]" right after "[" or "[^" is a literal in both syntaxes; copy it escaped so it does not close the class.
                    if (i + 1 < pattern.Length && pattern[i + 1] == '^') { output.Append('^'); i++; }
                    if (i + 1 < pattern.Length && pattern[i + 1] == ']') { output.Append("\\]"); i++; }
                    break;
                case '(' when i + 1 < pattern.Length && pattern[i + 1] == '?':
                    {
                        var rest = pattern.AsSpan(i + 2);
                        var nameStart = rest.StartsWith("P<") ? 2 : rest.StartsWith("<") && !rest.StartsWith("<=") && !rest.StartsWith("<!") ? 1 : -1;
                        if (nameStart > 0)
                        {
                            var close = pattern.IndexOf('>', i + 2 + nameStart);
                            var name = close < 0 ? "" : pattern[(i + 2 + nameStart)..close];
                            if (name.Length == 0 || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_'))
                            { error = $"invalid named capture group name '{name}'"; return false; }
                            groups++;
                            if (!groupNames.TryAdd(name, groups)) { error = $"duplicate capture group name '{name}'"; return false; }
                            output.Append('(');
                            i = close;
                            break;
                        }
                        var flagsEnd = i + 2;
                        while (flagsEnd < pattern.Length && pattern[flagsEnd] is not (')' or ':')) flagsEnd++;
                        var flags = pattern[(i + 2)..Math.Min(flagsEnd, pattern.Length)];
                        if (flags.Length > 0 && flags.Any(f => f is not ('i' or 'm' or 's' or 'U' or '-')))
                        { error = $"invalid or unsupported group syntax (?{flags}"; return false; }
                        if (flags.Contains('U')) { error = "the ungreedy flag (?U) is not supported"; return false; }
                        output.Append("(?");
                        i++;
                        break;
                    }
                case '(':
                    groups++;
                    output.Append(c);
                    break;
                default:
                    output.Append(c);
                    break;
            }
        }
        if (inClass) { error = "missing closing ]"; return false; }
        translated = output.ToString();
        names = groupNames.ToImmutable();
        return true;
    }

    private static void AppendLiteral(StringBuilder output, string literal, bool inClass)
    {
        foreach (var ch in literal)
        {
            if (inClass ? ch is '\\' or ']' or '[' or '^' or '-' : "\\*+?|{}()[]^$.# \t\n\r\f".Contains(ch)) output.Append('\\');
            output.Append(ch);
        }
    }

    private static string? Posix(string name) => name switch
    {
        "alnum" => "0-9A-Za-z",
        "alpha" => "A-Za-z",
        "ascii" => "\\x00-\\x7F",
        "blank" => "\\t ",
        "cntrl" => "\\x00-\\x1F\\x7F",
        "digit" => "0-9",
        "graph" => "!-~",
        "lower" => "a-z",
        "print" => " -~",
        "punct" => "!-/:-@\\[-`{-~",
        "space" => "\\t\\n\\v\\f\\r ",
        "upper" => "A-Z",
        "word" => "0-9A-Za-z_",
        "xdigit" => "0-9A-Fa-f",
        _ => null,
    };

    internal int? GroupNumber(string name) => _names.TryGetValue(name, out var n) ? n : null;
}

/// <summary>
/// A replacement in Go's template syntax (Regexp.Expand): <c>$1</c>, <c>${1}</c>, <c>$name</c>, <c>${name}</c> and <c>$$</c>.
/// A name is the longest run of letters, digits and underscores, so <c>$1x</c> names group "1x" (empty), unlike .NET;
/// an unknown group or one that did not take part expands to nothing; a malformed <c>$</c> stays as text.
/// </summary>
internal sealed class GoTemplate
{
    // Literal text, or a group by number (Number >= 0) or by name.
    private readonly record struct Part(string? Text, int Number, string? Name);

    private readonly ImmutableArray<Part> _parts;

    private GoTemplate(ImmutableArray<Part> parts) => _parts = parts;

    public static GoTemplate Parse(string template)
    {
        var parts = ImmutableArray.CreateBuilder<Part>();
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c != '$' || i + 1 >= template.Length) { literal.Append(c); continue; }
            if (template[i + 1] == '$') { literal.Append('$'); i++; continue; }
            string name;
            int end;
            if (template[i + 1] == '{')
            {
                var close = template.IndexOf('}', i + 2);
                name = close < 0 ? "" : template[(i + 2)..close];
                end = close;
                if (name.Length == 0 || !IsName(name)) { literal.Append(c); continue; }
            }
            else
            {
                end = i + 1;
                while (end < template.Length && IsNameChar(template[end])) end++;
                name = template[(i + 1)..end];
                end--;
                if (name.Length == 0) { literal.Append(c); continue; }
            }
            if (literal.Length > 0) { parts.Add(new Part(literal.ToString(), -1, null)); literal.Clear(); }
            var number = name.All(char.IsAsciiDigit)
                ? int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue
                : -1;
            parts.Add(new Part(null, number, number >= 0 ? null : name));
            i = end;
        }
        if (literal.Length > 0) parts.Add(new Part(literal.ToString(), -1, null));
        return new GoTemplate(parts.ToImmutable());
    }

    public void Expand(StringBuilder output, Match match, ImmutableDictionary<string, int> names)
    {
        foreach (var part in _parts)
        {
            if (part.Text is not null) { output.Append(part.Text); continue; }
            var number = part.Name is null ? part.Number : names.TryGetValue(part.Name, out var n) ? n : -1;
            if (number < 0 || number >= match.Groups.Count) continue;
            var group = match.Groups[number];
            if (group.Success) output.Append(group.ValueSpan);
        }
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
    private static bool IsName(string s) => s.All(IsNameChar);
}
