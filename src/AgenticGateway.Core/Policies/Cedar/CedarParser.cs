using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Policies.Cedar;

/// <summary>
/// Cedar's policy grammar, by recursive descent, compiling as it parses: each policy becomes scope constraints and a
/// tree of expression nodes with attribute names and literals resolved. Precedence follows Cedar's grammar:
/// <c>if</c>, <c>||</c>, <c>&amp;&amp;</c>, one relation (<c>== != &lt; &lt;= &gt; &gt;= in has like is</c>),
/// <c>+ -</c>, <c>*</c>, unary <c>! -</c>, member access. An error abandons its policy only: parsing resumes after the
/// next <c>;</c>, so every policy's first error is reported.
/// </summary>
internal sealed class CedarParser
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
            if (Accept(TokenKind.LParen))
            {
                var v = Peek;
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

    private void Enter()
    {
        if (++_depth > MaxDepth)
            throw new CedarSyntaxException(Peek, $"expressions nest deeper than {MaxDepth} levels");
    }

    private Expr ParseExpr()
    {
        Enter();
        Expr result;
        if (AcceptKeyword("if"))
        {
            var condition = ParseExpr();
            ExpectKeyword("then");
            var then = ParseExpr();
            ExpectKeyword("else");
            var otherwise = ParseExpr();
            result = new IfNode(condition, then, otherwise);
        }
        else
            result = ParseOr();
        _depth--;
        return result;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Accept(TokenKind.Or))
            left = new LogicNode(false, left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseRelation();
        while (Accept(TokenKind.And))
            left = new LogicNode(true, left, ParseRelation());
        return left;
    }

    private Expr ParseRelation()
    {
        var left = ParseAdd();
        var t = Peek;
        Expr result;
        CompareOp? op = t.Kind switch
        {
            TokenKind.Eq => CompareOp.Eq,
            TokenKind.NotEq => CompareOp.NotEq,
            TokenKind.Lt => CompareOp.Lt,
            TokenKind.LtEq => CompareOp.LtEq,
            TokenKind.Gt => CompareOp.Gt,
            TokenKind.GtEq => CompareOp.GtEq,
            _ => null,
        };
        if (op is { } compare)
        {
            Next();
            result = new CompareNode(compare, left, ParseAdd());
        }
        else if (AcceptKeyword("in"))
            result = new InNode(left, ParseAdd());
        else if (AcceptKeyword("has"))
        {
            var path = new List<string> { ParseAttributeName() };
            while (Peek.Kind == TokenKind.Dot && PeekAt(1).Kind == TokenKind.Identifier)
            {
                Next();
                path.Add(Next().Text);
            }
            result = new HasNode(left, [.. path]);
        }
        else if (AcceptKeyword("like"))
        {
            var pattern = Peek;
            if (pattern.Kind != TokenKind.String)
                throw Unexpected("a pattern string after 'like'");
            Next();
            if (!LikePattern.TryCompile(pattern.Text, out var compiled, out var error))
                throw new CedarSyntaxException(pattern, $"bad pattern: {error}");
            result = new LikeNode(left, compiled!);
        }
        else if (AcceptKeyword("is"))
        {
            var type = ParsePath("an entity type after 'is'");
            result = new IsNode(left, type, AcceptKeyword("in") ? ParseAdd() : null);
        }
        else
            return left;
        var after = Peek;
        if (after.Kind is TokenKind.Eq or TokenKind.NotEq or TokenKind.Lt or TokenKind.LtEq or TokenKind.Gt or TokenKind.GtEq
            || IsKeyword(after, "in") || IsKeyword(after, "has") || IsKeyword(after, "like") || IsKeyword(after, "is"))
            throw new CedarSyntaxException(after, $"'{after.Text}' cannot follow another comparison; add parentheses");
        return result;
    }

    private string ParseAttributeName()
    {
        var t = Peek;
        if (t.Kind == TokenKind.Identifier)
            return Next().Text;
        if (t.Kind == TokenKind.String)
            return Unescape(Next());
        throw Unexpected("an attribute name (an identifier or a string)");
    }

    private Expr ParseAdd()
    {
        var left = ParseMultiply();
        while (Peek.Kind is TokenKind.Plus or TokenKind.Minus)
        {
            var op = Next().Kind == TokenKind.Plus ? ArithOp.Add : ArithOp.Subtract;
            left = new ArithmeticNode(op, left, ParseMultiply());
        }
        return left;
    }

    private Expr ParseMultiply()
    {
        var left = ParseUnary();
        while (Accept(TokenKind.Star))
            left = new ArithmeticNode(ArithOp.Multiply, left, ParseUnary());
        return left;
    }

    private Expr ParseUnary()
    {
        var t = Peek;
        if (t.Kind == TokenKind.Not)
        {
            Next();
            Enter();
            var operand = ParseUnary();
            _depth--;
            return new NotNode(operand);
        }
        if (t.Kind == TokenKind.Minus)
        {
            Next();
            // A negative literal is one value (so -9223372036854775808 is a Long), as in Cedar.
            var n = Peek;
            if (n.Kind == TokenKind.Integer)
            {
                Next();
                if (!long.TryParse("-" + n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var negative))
                    throw new CedarSyntaxException(n, $"the integer -{n.Text} is out of the 64-bit range");
                return ParseAccess(new ConstNode(CedarValue.Long(negative)));
            }
            if (n.Kind == TokenKind.DecimalNumber)
                return ParseAccess(new ConstNode(CedarValue.Decimal(-ParseDecimal(Next()))));
            Enter();
            var operand = ParseUnary();
            _depth--;
            return new NegateNode(operand);
        }
        return ParseAccess(ParsePrimary());
    }

    private Expr ParseAccess(Expr target)
    {
        while (true)
        {
            if (Peek.Kind == TokenKind.Dot)
            {
                Next();
                var name = Peek;
                if (name.Kind != TokenKind.Identifier)
                    throw Unexpected("an attribute or method name after '.'");
                Next();
                if (Peek.Kind == TokenKind.LParen)
                    target = ParseMethod(target, name);
                else
                    target = Attribute(target, name.Text);
            }
            else if (Peek.Kind == TokenKind.LBracket)
            {
                Next();
                var name = Peek;
                if (name.Kind != TokenKind.String)
                    throw Unexpected("an attribute name string in '[...]'");
                Next();
                Expect(TokenKind.RBracket, "']'");
                target = Attribute(target, Unescape(name));
            }
            else
                return target;
        }
    }

    private static Expr Attribute(Expr target, string name) =>
        target is VariableNode v ? new VariableAttributeNode(v.Variable, name) : new AttributeNode(target, name);

    private Expr ParseMethod(Expr target, Token name)
    {
        if (!MethodNode.ByName.TryGetValue(name.Text, out var method))
            throw new CedarSyntaxException(name, $"unknown method .{name.Text}()");
        var args = ParseArguments();
        if (args.Count != method.Arity)
            throw new CedarSyntaxException(name, $".{name.Text}() takes {method.Arity} argument{(method.Arity == 1 ? "" : "s")}, not {args.Count}");
        return new MethodNode(method.Kind, name.Text, target, method.Arity == 1 ? args[0] : null);
    }

    private List<Expr> ParseArguments()
    {
        Expect(TokenKind.LParen, "'('");
        var args = new List<Expr>();
        if (Accept(TokenKind.RParen))
            return args;
        do
            args.Add(ParseExpr());
        while (Accept(TokenKind.Comma));
        Expect(TokenKind.RParen, "',' or ')'");
        return args;
    }

    private Expr ParsePrimary()
    {
        var t = Peek;
        switch (t.Kind)
        {
            case TokenKind.Integer:
                Next();
                if (!long.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                    throw new CedarSyntaxException(t, $"the integer {t.Text} is out of the 64-bit range");
                return new ConstNode(CedarValue.Long(number));
            case TokenKind.DecimalNumber:
                return new ConstNode(CedarValue.Decimal(ParseDecimal(Next())));
            case TokenKind.String:
                return new ConstNode(CedarValue.String(Unescape(Next())));
            case TokenKind.LParen:
                Next();
                var inner = ParseExpr();
                Expect(TokenKind.RParen, "')'");
                return inner;
            case TokenKind.LBracket:
                return ParseSet();
            case TokenKind.LBrace:
                return ParseRecord();
            case TokenKind.Identifier:
                return ParseNamed();
            default:
                throw Unexpected("an expression");
        }
    }

    private Expr ParseNamed()
    {
        var t = Peek;
        var next = PeekAt(1).Kind;
        if (next == TokenKind.DoubleColon)
            return new ConstNode(CedarValue.Entity(ParseEntity()));
        if (next == TokenKind.LParen)
        {
            Next();
            if (t.Text is not ("decimal" or "ip"))
                throw new CedarSyntaxException(t, $"unknown function {t.Text}() (the extension functions are decimal() and ip())");
            var args = ParseArguments();
            if (args.Count != 1)
                throw new CedarSyntaxException(t, $"{t.Text}() takes 1 argument, not {args.Count}");
            var isDecimal = t.Text == "decimal";
            // A literal argument is checked and converted once, here: a bad one is a load error, not a runtime one.
            if (args[0] is ConstNode { Value.Kind: CedarKind.String } literal)
            {
                if (!ExtensionCallNode.Construct(isDecimal, literal.Value.AsString, out var value, out var error))
                    throw new CedarSyntaxException(t, error!);
                return new ConstNode(value);
            }
            return new ExtensionCallNode(isDecimal, args[0]);
        }
        Next();
        return t.Text switch
        {
            "true" => new ConstNode(CedarValue.True),
            "false" => new ConstNode(CedarValue.False),
            "principal" => new VariableNode(Variable.Principal),
            "action" => new VariableNode(Variable.Action),
            "resource" => new VariableNode(Variable.Resource),
            "context" => new VariableNode(Variable.Context),
            _ => throw new CedarSyntaxException(t, $"unknown name '{t.Text}' (the variables are principal, action, resource and context)"),
        };
    }

    private Expr ParseSet()
    {
        Expect(TokenKind.LBracket, "'['");
        var elements = new List<Expr>();
        if (!Accept(TokenKind.RBracket))
        {
            do
                elements.Add(ParseExpr());
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "',' or ']'");
        }
        if (elements.TrueForAll(e => e is ConstNode))
            return new ConstNode(CedarValue.Set([.. elements.Select(e => ((ConstNode)e).Value)]));
        return new SetNode([.. elements]);
    }

    private Expr ParseRecord()
    {
        Expect(TokenKind.LBrace, "'{'");
        var names = new List<string>();
        var values = new List<Expr>();
        if (!Accept(TokenKind.RBrace))
        {
            do
            {
                var at = Peek;
                var name = ParseAttributeName();
                if (names.Contains(name))
                    throw new CedarSyntaxException(at, $"duplicate record attribute \"{name}\"");
                Expect(TokenKind.Colon, "':'");
                names.Add(name);
                values.Add(ParseExpr());
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBrace, "',' or '}'");
        }
        if (values.TrueForAll(e => e is ConstNode))
            return new ConstNode(CedarValue.Record(new CedarRecord(names.Select((n, i) => new KeyValuePair<string, CedarValue>(n, ((ConstNode)values[i]).Value)))));
        return new RecordNode([.. names], [.. values]);
    }

    private static decimal ParseDecimal(Token t)
    {
        if (!CedarDecimal.TryParse(t.Text, out var value))
            throw new CedarSyntaxException(t, $"the decimal {t.Text} is out of range or has more than 28 fractional digits");
        return value;
    }
}

/// <summary>A syntax error at a token; caught per policy by the parser.</summary>
internal sealed class CedarSyntaxException(Token at, string message) : Exception(message)
{
    public Token At { get; } = at;
}
