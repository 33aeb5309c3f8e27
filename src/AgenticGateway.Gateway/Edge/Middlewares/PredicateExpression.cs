using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>The types in oxy's predicate language: functions return one; literals are ints, floats or strings.</summary>
internal enum PredicateType { Int, Float, String, Bool }

/// <summary>A function the expression may call: its argument types, its result, and how it reads the state.</summary>
internal sealed record PredicateFunction<TState>(string Name, PredicateType[] Parameters, PredicateType Result, Func<object[], Func<TState, object>> Bind);

/// <summary>
/// The expressions of Traefik's circuitBreaker (<c>NetworkErrorRatio() &gt; 0.30</c>) and buffering retryExpression
/// (<c>IsNetworkError() &amp;&amp; Attempts() &lt;= 2</c>), as oxy parses them with Go's syntax: a function call compared
/// with a literal (<c>&gt; &gt;= &lt; &lt;= == !=</c>), a function that is itself a condition, <c>&amp;&amp;</c>,
/// <c>||</c> and parentheses. Types are strict as oxy's are: an int result compares with an int literal
/// (<c>&gt; 100</c>), a float one with a float literal (<c>&gt; 0.5</c>, <c>50.0</c> for a float argument).
/// Errors name the column.
/// </summary>
internal static class PredicateExpression
{
    public static Func<TState, bool>? Parse<TState>(string text, IReadOnlyList<PredicateFunction<TState>> functions, out string? error)
    {
        var parser = new Parser<TState>(text, functions);
        try
        {
            var result = parser.ParseOr();
            parser.ExpectEnd();
            error = null;
            return result;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private sealed class Parser<TState>(string text, IReadOnlyList<PredicateFunction<TState>> functions)
    {
        private int _pos;

        public Func<TState, bool> ParseOr()
        {
            var left = ParseAnd();
            while (Accept("||"))
            {
                var (a, b) = (left, ParseAnd());
                left = s => a(s) || b(s);
            }
            return left;
        }

        private Func<TState, bool> ParseAnd()
        {
            var left = ParseTerm();
            while (Accept("&&"))
            {
                var (a, b) = (left, ParseTerm());
                left = s => a(s) && b(s);
            }
            return left;
        }

        private Func<TState, bool> ParseTerm()
        {
            SkipSpace();
            if (Accept("("))
            {
                var inner = ParseOr();
                if (!Accept(")")) throw Error("expected ')'");
                return inner;
            }
            if (Peek() == '!') throw Error("'!' is not supported: write the comparison the other way");
            var column = _pos;
            var (fn, read) = ParseCall();
            var op = ParseOperator();
            if (op is null)
            {
                if (fn.Result != PredicateType.Bool) throw Error($"{fn.Name}() is a value, not a condition: compare it, as in {fn.Name}() > {Example(fn.Result)}", column);
                return s => (bool)read(s);
            }
            if (fn.Result == PredicateType.Bool) throw Error($"{fn.Name}() is a condition and cannot be compared");
            var literalColumn = _pos;
            var (literal, type) = ParseLiteral();
            if (type != fn.Result)
                throw Error($"{fn.Name}() returns {Name(fn.Result)}, so compare it with {Name(fn.Result)} (such as {Example(fn.Result)}), not '{literal}'", literalColumn);
            if (type == PredicateType.String)
            {
                if (op is not ("==" or "!=")) throw Error($"{fn.Name}() is text: only == and != compare it", literalColumn);
                var expected = (string)literal;
                return op == "==" ? s => (string)read(s) == expected : s => (string)read(s) != expected;
            }
            var value = Convert.ToDouble(literal, CultureInfo.InvariantCulture);
            Func<TState, double> number = type == PredicateType.Int ? s => Convert.ToDouble(read(s), CultureInfo.InvariantCulture) : s => (double)read(s);
            return op switch
            {
                ">" => s => number(s) > value,
                ">=" => s => number(s) >= value,
                "<" => s => number(s) < value,
                "<=" => s => number(s) <= value,
                "==" => s => number(s) == value,
                _ => s => number(s) != value,
            };
        }

        private (PredicateFunction<TState>, Func<TState, object>) ParseCall()
        {
            SkipSpace();
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
            if (start == _pos) throw Error("expected a function such as " + string.Join(", ", functions.Select(f => f.Name + "()")), start);
            var name = text[start.._pos];
            var fn = functions.FirstOrDefault(f => f.Name == name)
                ?? throw Error($"unknown function '{name}' (known: {string.Join(", ", functions.Select(f => f.Name))})", start);
            if (!Accept("(")) throw Error($"expected '(' after {name}");
            var args = new List<object>();
            SkipSpace();
            if (!Accept(")"))
            {
                do
                {
                    var argColumn = _pos;
                    var (value, type) = ParseLiteral();
                    var index = args.Count;
                    if (index >= fn.Parameters.Length) throw Error($"{name}() takes {fn.Parameters.Length} argument(s)", argColumn);
                    if (type != fn.Parameters[index])
                        throw Error($"argument {index + 1} of {name}() is {Name(fn.Parameters[index])} (such as {Example(fn.Parameters[index])}), not '{value}'", argColumn);
                    args.Add(value);
                } while (Accept(","));
                if (!Accept(")")) throw Error("expected ',' or ')'");
            }
            if (args.Count != fn.Parameters.Length) throw Error($"{name}() takes {fn.Parameters.Length} argument(s), got {args.Count}", start);
            return (fn, fn.Bind([.. args]));
        }

        private string? ParseOperator()
        {
            SkipSpace();
            foreach (var op in (string[])[">=", "<=", "==", "!=", ">", "<"])
                if (Accept(op)) return op;
            return null;
        }

        private (object Value, PredicateType Type) ParseLiteral()
        {
            SkipSpace();
            var start = _pos;
            if (_pos < text.Length && text[_pos] is '"' or '`')
            {
                var quote = text[_pos++];
                var end = text.IndexOf(quote, _pos);
                if (end < 0) throw Error("unterminated string", start);
                var s = text[_pos..end];
                _pos = end + 1;
                return (s, PredicateType.String);
            }
            if (_pos < text.Length && text[_pos] == '-') _pos++;
            while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] is '.' or 'e' or 'E' || (text[_pos] is '+' or '-' && text[_pos - 1] is 'e' or 'E'))) _pos++;
            var token = text[start.._pos];
            if (token.Length == 0 || token == "-") throw Error("expected a number or a string", start);
            var isFloat = token.IndexOfAny(['.', 'e', 'E']) >= 0;
            if (isFloat && double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return (d, PredicateType.Float);
            if (!isFloat && long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return (l, PredicateType.Int);
            throw Error($"'{token}' is not a number", start);
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos < text.Length) throw Error($"unexpected '{text[_pos..]}'");
        }

        private bool Accept(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _pos, token, 0, token.Length) != 0) return false;
            _pos += token.Length;
            return true;
        }

        private char Peek()
        {
            SkipSpace();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private FormatException Error(string message, int? column = null) =>
            new($"column {(column ?? _pos) + 1}: {message} in '{text}'");

        private static string Name(PredicateType type) => type switch
        {
            PredicateType.Int => "a whole number",
            PredicateType.Float => "a decimal number",
            PredicateType.String => "a string",
            _ => "a condition",
        };

        private static string Example(PredicateType type) => type switch
        {
            PredicateType.Int => "100",
            PredicateType.Float => "0.5",
            PredicateType.String => "\"GET\"",
            _ => "true",
        };
    }
}
