using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Edge.Rules;

/// <summary>A rule's syntax tree: matcher calls joined by <c>&amp;&amp;</c>, <c>||</c> and <c>!</c>.</summary>
internal abstract record RuleExpr;

internal sealed record RuleAnd(RuleExpr Left, RuleExpr Right) : RuleExpr;

internal sealed record RuleOr(RuleExpr Left, RuleExpr Right) : RuleExpr;

internal sealed record RuleNot(RuleExpr Operand) : RuleExpr;

/// <summary>A matcher call: its canonical name, its string arguments, and the 1-based column of its name.</summary>
internal sealed record RuleCall(string Name, ImmutableArray<string> Args, int Column) : RuleExpr;

/// <summary>
/// Traefik v3's rule syntax, which Traefik reads as a Go expression: matcher calls with string arguments (Go raw
/// strings in backticks or interpreted strings in double quotes), <c>&amp;&amp;</c> binding tighter than
/// <c>||</c>, <c>!</c> and parentheses. A matcher's name is accepted as written in the docs, all lower case, all upper
/// case or capitalised (Traefik registers those four spellings). Errors name the 1-based column and what was expected.
/// </summary>
internal sealed class RuleSyntax
{
    private readonly string _text;
    private readonly IReadOnlyList<string> _matchers;
    private int _pos;

    private RuleSyntax(string text, IReadOnlyList<string> matchers)
    {
        _text = text;
        _matchers = matchers;
    }

    /// <summary>Parses <paramref name="text"/> with the given matcher names; null and an error on failure.</summary>
    public static RuleExpr? Parse(string text, IReadOnlyList<string> matchers, out string? error)
    {
        if (string.IsNullOrWhiteSpace(text)) { error = "the rule is empty"; return null; }
        var syntax = new RuleSyntax(text, matchers);
        try
        {
            var expr = syntax.ParseOr();
            syntax.SkipSpace();
            if (syntax._pos < text.Length) throw syntax.Fail("'&&', '||' or the end of the rule");
            error = null;
            return expr;
        }
        catch (RuleSyntaxException e)
        {
            error = e.Message;
            return null;
        }
    }

    private RuleExpr ParseOr()
    {
        var left = ParseAnd();
        while (TryOperator("||")) left = new RuleOr(left, ParseAnd());
        return left;
    }

    private RuleExpr ParseAnd()
    {
        var left = ParseUnary();
        while (TryOperator("&&")) left = new RuleAnd(left, ParseUnary());
        return left;
    }

    private RuleExpr ParseUnary()
    {
        SkipSpace();
        if (_pos >= _text.Length) throw Fail("a matcher such as " + _matchers[0] + "(`...`), '!' or '('");
        var c = _text[_pos];
        if (c == '!')
        {
            _pos++;
            return new RuleNot(ParseUnary());
        }
        if (c == '(')
        {
            _pos++;
            var inner = ParseOr();
            SkipSpace();
            if (!TryChar(')')) throw Fail("')'");
            return inner;
        }
        if (char.IsAsciiLetter(c) || c == '_') return ParseCall();
        throw Fail("a matcher such as " + _matchers[0] + "(`...`), '!' or '('");
    }

    private RuleCall ParseCall()
    {
        var start = _pos;
        while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_')) _pos++;
        var written = _text[start.._pos];
        var name = Canonical(written) ?? throw new RuleSyntaxException(
            $"column {start + 1}: unknown matcher '{written}' (known: {string.Join(", ", _matchers)})");
        SkipSpace();
        if (!TryChar('(')) throw Fail($"'(' after {written}");
        var args = ImmutableArray.CreateBuilder<string>();
        SkipSpace();
        if (!TryChar(')'))
        {
            while (true)
            {
                args.Add(ParseString());
                SkipSpace();
                if (TryChar(')')) break;
                if (!TryChar(',')) throw Fail("',' or ')' after the argument");
            }
        }
        return new RuleCall(name, args.ToImmutable(), start + 1);
    }

    /// <summary>A Go string literal: raw in backticks, or interpreted in double quotes with Go's escapes.</summary>
    private string ParseString()
    {
        SkipSpace();
        if (_pos >= _text.Length) throw Fail("a string in backticks or double quotes");
        var open = _pos;
        var quote = _text[_pos];
        if (quote == '`')
        {
            var end = _text.IndexOf('`', _pos + 1);
            if (end < 0) throw new RuleSyntaxException($"column {open + 1}: the string is not closed (expected '`')");
            _pos = end + 1;
            // Go drops carriage returns from raw strings.
            return _text[(open + 1)..end].Replace("\r", "");
        }
        if (quote == '\'') throw new RuleSyntaxException($"column {open + 1}: single quotes are not strings in a rule; use backticks (`...`) or double quotes");
        if (quote != '"') throw Fail("a string in backticks or double quotes");
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n') throw new RuleSyntaxException($"column {open + 1}: the string is not closed (expected '\"')");
            var c = _text[_pos++];
            if (c == '"') return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            ReadEscape(sb);
        }
    }

    private void ReadEscape(StringBuilder sb)
    {
        var at = _pos;
        if (_pos >= _text.Length) throw new RuleSyntaxException($"column {at}: the escape sequence is not complete");
        var e = _text[_pos++];
        switch (e)
        {
            case 'a': sb.Append('\a'); return;
            case 'b': sb.Append('\b'); return;
            case 'f': sb.Append('\f'); return;
            case 'n': sb.Append('\n'); return;
            case 'r': sb.Append('\r'); return;
            case 't': sb.Append('\t'); return;
            case 'v': sb.Append('\v'); return;
            case '\\': sb.Append('\\'); return;
            case '"': sb.Append('"'); return;
            case 'x': sb.Append((char)Hex(2, at)); return;
            case 'u': sb.Append(char.ConvertFromUtf32(CodePoint(Hex(4, at), at))); return;
            case 'U': sb.Append(char.ConvertFromUtf32(CodePoint(Hex(8, at), at))); return;
            case >= '0' and <= '7':
                _pos--;
                var octal = Digits(3, 8, at);
                if (octal > 255) throw new RuleSyntaxException($"column {at}: the octal escape is above \\377");
                sb.Append((char)octal);
                return;
            default:
                throw new RuleSyntaxException($"column {at}: unknown escape sequence '\\{e}' (in a regular expression, use backticks: `\\d+`)");
        }
    }

    private int Hex(int count, int at) => Digits(count, 16, at);

    private int Digits(int count, int radix, int at)
    {
        if (_pos + count > _text.Length) throw new RuleSyntaxException($"column {at}: the escape sequence is not complete");
        var span = _text.AsSpan(_pos, count);
        var style = radix == 16 ? NumberStyles.AllowHexSpecifier : NumberStyles.None;
        int value;
        if (radix == 16 ? !int.TryParse(span, style, CultureInfo.InvariantCulture, out value) : !TryOctal(span, out value))
            throw new RuleSyntaxException($"column {at}: the escape sequence expects {count} {(radix == 16 ? "hexadecimal" : "octal")} digits");
        _pos += count;
        return value;
    }

    private static bool TryOctal(ReadOnlySpan<char> span, out int value)
    {
        value = 0;
        foreach (var c in span)
        {
            if (c is < '0' or > '7') return false;
            value = value * 8 + (c - '0');
        }
        return true;
    }

    private static int CodePoint(int value, int at) =>
        value is > 0x10FFFF or (>= 0xD800 and <= 0xDFFF)
            ? throw new RuleSyntaxException($"column {at}: the escape is not a valid Unicode code point")
            : value;

    /// <summary>The matcher's canonical name when <paramref name="written"/> is one of the four spellings Traefik accepts.</summary>
    private string? Canonical(string written)
    {
        foreach (var name in _matchers)
        {
            if (written == name || written == name.ToLowerInvariant() || written == name.ToUpperInvariant()) return name;
            var lower = name.ToLowerInvariant();
            if (written == char.ToUpperInvariant(lower[0]) + lower[1..]) return name;
        }
        return null;
    }

    private bool TryOperator(string op)
    {
        SkipSpace();
        if (!At(op)) return false;
        _pos += op.Length;
        return true;
    }

    private bool TryChar(char c)
    {
        if (_pos < _text.Length && _text[_pos] == c) { _pos++; return true; }
        return false;
    }

    private bool At(string s) => string.CompareOrdinal(_text, _pos, s, 0, s.Length) == 0;

    private void SkipSpace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r') _pos++;
    }

    private RuleSyntaxException Fail(string expected)
    {
        if (_pos >= _text.Length) return new RuleSyntaxException($"column {_pos + 1}: expected {expected}, got the end of the rule");
        var got = _text[_pos..Math.Min(_text.Length, _pos + 12)];
        return new RuleSyntaxException($"column {_pos + 1}: expected {expected}, got '{got}'");
    }

    private sealed class RuleSyntaxException(string message) : Exception(message);
}
