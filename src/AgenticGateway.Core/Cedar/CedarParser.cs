using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Cedar;

/// <summary>
/// Cedar's policy grammar, by recursive descent, compiling as it parses: each policy becomes scope constraints and a
/// tree of expression nodes with attribute names and literals resolved. Precedence follows Cedar's grammar:
/// <c>if</c>, <c>||</c>, <c>&amp;&amp;</c>, one relation (<c>== != &lt; &lt;= &gt; &gt;= in has like is</c>),
/// <c>+ -</c>, <c>*</c>, unary <c>! -</c>, member access. An error abandons its policy only: parsing resumes after the
/// next <c>;</c>, so every policy's first error is reported.
/// </summary>
internal sealed partial class CedarParser
{
    public const int MaxFileBytes = 1 << 20;
    public const int MaxDepth = 64;

    private readonly PolicySource _source;
    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    private CedarParser(PolicySource source)
    {
        _source = source;
        _tokens = CedarLexer.Tokenize(source.Text);
    }

    /// <summary>Appends the file's policies to <paramref name="policies"/> (ids numbered across the whole set) and its errors to <paramref name="errors"/>.</summary>
    public static void Parse(PolicySource source, List<CedarPolicy> policies, ImmutableArray<PolicyError>.Builder errors)
    {
        if (Encoding.UTF8.GetByteCount(source.Text) > MaxFileBytes)
        {
            errors.Add(new PolicyError(source.File, 1, 1, $"the file is larger than {MaxFileBytes / 1024 / 1024} MiB"));
            return;
        }
        new CedarParser(source).ParseAll(policies, errors);
    }

    /// <summary>One expression on its own (the explain view and tests); a syntax error throws <see cref="CedarSyntaxException"/>.</summary>
    public static Expr ParseExpression(string text)
    {
        var parser = new CedarParser(new PolicySource("<expression>", text));
        var expr = parser.ParseExpr();
        if (parser.Peek.Kind != TokenKind.End)
            throw parser.Unexpected("the end of the expression");
        return expr;
    }

    private void ParseAll(List<CedarPolicy> policies, ImmutableArray<PolicyError>.Builder errors)
    {
        while (Peek.Kind != TokenKind.End)
        {
            try
            {
                policies.Add(ParsePolicy(policies.Count));
            }
            catch (CedarSyntaxException e)
            {
                errors.Add(new PolicyError(_source.File, e.At.Line, e.At.Column, e.Message));
                Recover();
            }
        }
    }

    // Skip to just past the next `;`: the rest of the broken policy.
    private void Recover()
    {
        while (Peek.Kind != TokenKind.End)
            if (_tokens[_pos++].Kind == TokenKind.Semicolon)
                return;
    }

    private Token Peek => _tokens[_pos];
    private Token PeekAt(int ahead) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private Token Next()
    {
        var t = _tokens[_pos];
        if (t.Kind == TokenKind.Error)
            throw new CedarSyntaxException(t, t.Text);
        if (t.Kind != TokenKind.End)
            _pos++;
        return t;
    }

    private bool Accept(TokenKind kind)
    {
        if (Peek.Kind != kind)
            return false;
        Next();
        return true;
    }

    private Token Expect(TokenKind kind, string what)
    {
        if (Peek.Kind != kind)
            throw Unexpected(what);
        return Next();
    }

    private static bool IsKeyword(Token t, string keyword) => t.Kind == TokenKind.Identifier && t.Text == keyword;

    private bool AcceptKeyword(string keyword)
    {
        if (!IsKeyword(Peek, keyword))
            return false;
        Next();
        return true;
    }

    private void ExpectKeyword(string keyword)
    {
        if (!AcceptKeyword(keyword))
            throw Unexpected($"'{keyword}'");
    }

    private CedarSyntaxException Unexpected(string expected)
    {
        var t = Peek;
        if (t.Kind == TokenKind.Error)
            return new CedarSyntaxException(t, t.Text);
        var found = t.Kind switch
        {
            TokenKind.End => "the end of the file",
            TokenKind.String => $"the string \"{t.Text}\"",
            _ => $"'{t.Text}'",
        };
        return new CedarSyntaxException(t, $"expected {expected}, found {found}");
    }

    private CedarPolicy ParsePolicy(int index)
    {
        _depth = 0;
        var first = Peek;
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        var priorityAt = first;
        while (Peek.Kind == TokenKind.At)
        {
            Next();
            var name = Peek;
            if (name.Kind != TokenKind.Identifier)
                throw Unexpected("an annotation name");
            Next();
            var value = "";
            var valueAt = name;
            if (Accept(TokenKind.LParen))
            {
                var v = Peek;
                valueAt = v;
                if (v.Kind == TokenKind.String)
                    value = Unescape(Next());
                else if (v.Kind == TokenKind.Integer)
                    value = Next().Text; // Dialect: @priority(100), a number as well as a string.
                else if (v.Kind == TokenKind.Minus && PeekAt(1).Kind == TokenKind.Integer)
                {
                    Next();
                    value = "-" + Next().Text;
                }
                else
                    throw Unexpected("an annotation value (a string or a number)");
                Expect(TokenKind.RParen, "')'");
            }
            if (!annotations.TryAdd(name.Text, value))
                throw new CedarSyntaxException(name, $"duplicate annotation @{name.Text}");
            if (name.Text == "priority")
                priorityAt = name;
            // The id travels in the x-agw-policy response headers, which carry printable ASCII only: refuse any other id
            // at load rather than fail requests later.
            if (name.Text == "id" && !IsPrintableAscii(value))
                throw new CedarSyntaxException(valueAt, $"@id must be printable ASCII (it is sent in the x-agw-policy header), not \"{value}\"");
        }
        PolicyEffect effect;
        if (AcceptKeyword("permit"))
            effect = PolicyEffect.Permit;
        else if (AcceptKeyword("forbid"))
            effect = PolicyEffect.Forbid;
        else
            throw Unexpected("'permit' or 'forbid'");
        Expect(TokenKind.LParen, "'('");
        var principal = ParseScope("principal");
        Expect(TokenKind.Comma, "','");
        var action = ParseActionScope();
        Expect(TokenKind.Comma, "','");
        var resource = ParseScope("resource");
        Expect(TokenKind.RParen, "')'");
        var conditions = new List<Condition>();
        while (IsKeyword(Peek, "when") || IsKeyword(Peek, "unless"))
        {
            var isWhen = Next().Text == "when";
            Expect(TokenKind.LBrace, "'{'");
            if (Peek.Kind == TokenKind.RBrace)
                throw Unexpected("an expression");
            var body = ParseExpr();
            Expect(TokenKind.RBrace, "'}'");
            conditions.Add(new Condition(isWhen, body));
        }
        var last = Expect(TokenKind.Semicolon, conditions.Count == 0 ? "'when', 'unless' or ';'" : "'when', 'unless' or ';' after a condition");
        var priority = 0;
        if (annotations.TryGetValue("priority", out var p) && !int.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out priority))
            throw new CedarSyntaxException(priorityAt, $"@priority must be an integer, not \"{p}\"");
        var id = annotations.TryGetValue("id", out var given) ? given : $"policy{index}";
        var text = _source.Text[first.Offset..(last.Offset + 1)];
        return new CedarPolicy(id, effect, annotations.ToFrozenDictionary(StringComparer.Ordinal), priority, _source.File,
            first.Line, first.Column, text, principal, action, resource, [.. conditions]);
    }

    private static bool IsPrintableAscii(string value) => value.Length > 0 && !value.AsSpan().ContainsAnyExceptInRange(' ', '~');

    private ScopeConstraint ParseScope(string variable)
    {
        ExpectKeyword(variable);
        if (Accept(TokenKind.Eq))
            return new ScopeConstraint(ScopeKind.Equal, ParseEntity(), [], null);
        if (AcceptKeyword("is"))
        {
            var type = ParsePath("an entity type");
            return AcceptKeyword("in")
                ? new ScopeConstraint(ScopeKind.IsIn, ParseEntity(), [], type)
                : new ScopeConstraint(ScopeKind.Is, default, [], type);
        }
        if (AcceptKeyword("in"))
            return new ScopeConstraint(ScopeKind.In, ParseEntity(), [], null);
        return ScopeConstraint.Any;
    }

    private ScopeConstraint ParseActionScope()
    {
        ExpectKeyword("action");
        if (Accept(TokenKind.Eq))
            return new ScopeConstraint(ScopeKind.Equal, ParseAction(), [], null);
        if (!AcceptKeyword("in"))
            return ScopeConstraint.Any;
        if (!Accept(TokenKind.LBracket))
            return new ScopeConstraint(ScopeKind.In, ParseAction(), [], null);
        var actions = new List<EntityUid>();
        if (!Accept(TokenKind.RBracket))
        {
            do
                actions.Add(ParseAction());
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "',' or ']'");
        }
        return new ScopeConstraint(ScopeKind.InSet, default, [.. actions], null);
    }

    // Dialect: a bare string in the action scope names the action, `"routing:select_model"` = `Action::"routing:select_model"`.
    private EntityUid ParseAction() =>
        Peek.Kind == TokenKind.String ? new EntityUid("Action", Unescape(Next())) : ParseEntity();

    private EntityUid ParseEntity()
    {
        if (Peek.Kind == TokenKind.Question)
            throw new CedarSyntaxException(Peek, "template slots (?principal, ?resource) are not supported");
        if (Peek.Kind != TokenKind.Identifier)
            throw Unexpected("an entity such as Type::\"id\"");
        var type = new StringBuilder(Next().Text);
        while (true)
        {
            Expect(TokenKind.DoubleColon, "'::'");
            if (Peek.Kind == TokenKind.String)
                return new EntityUid(type.ToString(), Unescape(Next()));
            if (Peek.Kind != TokenKind.Identifier)
                throw Unexpected("an entity id (a string) or a type name");
            type.Append("::").Append(Next().Text);
        }
    }

    private string ParsePath(string what)
    {
        if (Peek.Kind != TokenKind.Identifier)
            throw Unexpected(what);
        var path = new StringBuilder(Next().Text);
        while (Peek.Kind == TokenKind.DoubleColon && PeekAt(1).Kind == TokenKind.Identifier)
        {
            Next();
            path.Append("::").Append(Next().Text);
        }
        return path.ToString();
    }

    private string Unescape(Token t)
    {
        if (!CedarText.TryUnescape(t.Text, out var value, out var error))
            throw new CedarSyntaxException(t, $"bad string: {error}");
        return value;
    }
}

/// <summary>A syntax error at a token; caught per policy by the parser.</summary>
internal sealed class CedarSyntaxException(Token at, string message) : Exception(message)
{
    public Token At { get; } = at;
}
