using System.Text;

namespace AgenticGateway.Cedar;

/// <summary>An entity reference, <c>Type::"Id"</c>. Type may be namespaced (<c>A::B</c>); Id is any string.</summary>
internal readonly record struct EntityUid(string Type, string Id)
{
    /// <summary>Cedar's own spelling, with the id escaped as a Cedar string literal.</summary>
    public override string ToString() => $"{Type}::{CedarText.Quote(Id)}";

    /// <summary>Reads <c>Type::"Id"</c> (namespaced types allowed; the id with Cedar's string escapes).</summary>
    public static bool TryParse(string text, out EntityUid uid)
    {
        uid = default;
        var quote = text.IndexOf('"');
        if (quote < 3 || !text.AsSpan(quote - 2, 2).SequenceEqual("::") || text.Length < quote + 2 || text[^1] != '"')
            return false;
        var type = text[..(quote - 2)];
        foreach (var part in type.Split("::"))
            if (!CedarText.IsIdentifier(part))
                return false;
        if (!CedarText.TryUnescape(text.AsSpan(quote + 1, text.Length - quote - 2), out var id, out _))
            return false;
        uid = new EntityUid(type, id);
        return true;
    }
}

/// <summary>Cedar's lexical rules shared by the parser and the printers.</summary>
internal static class CedarText
{
    public static bool IsIdentifierStart(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';
    public static bool IsIdentifierPart(char c) => IsIdentifierStart(c) || c is >= '0' and <= '9';

    public static bool IsIdentifier(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty || !IsIdentifierStart(s[0]))
            return false;
        foreach (var c in s)
            if (!IsIdentifierPart(c))
                return false;
        return true;
    }

    /// <summary>A Cedar string literal for <paramref name="s"/>: quotes, and the escapes Cedar reads back.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (char.IsControl(c))
                        sb.Append("\\u{").Append(((int)c).ToString("x", System.Globalization.CultureInfo.InvariantCulture)).Append('}');
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Cedar's string escapes (<c>\n \r \t \\ \0 \' \" \u{hex}</c>, Rust's set).</summary>
    public static bool TryUnescape(ReadOnlySpan<char> s, out string value, out string? error)
    {
        error = null;
        if (s.IndexOf('\\') < 0)
        {
            value = s.ToString();
            return true;
        }
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            if (++i == s.Length)
            {
                error = "a string ends with a lone backslash";
                break;
            }
            switch (s[i])
            {
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'u':
                    var close = s[i..].IndexOf('}');
                    if (i + 1 >= s.Length || s[i + 1] != '{' || close < 3 || close > 8
                        || !int.TryParse(s.Slice(i + 2, close - 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var code)
                        || code > 0x10FFFF || code is >= 0xD800 and <= 0xDFFF)
                    {
                        error = "a \\u escape must be \\u{1 to 6 hex digits} naming a Unicode scalar value";
                        value = "";
                        return false;
                    }
                    sb.Append(char.ConvertFromUtf32(code));
                    i += close;
                    break;
                default:
                    error = $"unknown escape \\{s[i]}";
                    value = "";
                    return false;
            }
        }
        value = sb.ToString();
        return error is null;
    }
}
