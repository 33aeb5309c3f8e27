using System.Globalization;

namespace AgenticGateway.Cedar;

// The expression half of the parser: Cedar's precedence levels, one method each, compiling to evaluator nodes.
internal sealed partial class CedarParser
{
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

    // A chain of && (or ||) is one node over all its operands: the tree stays shallow however long the chain.
    private Expr ParseOr()
    {
        var first = ParseAnd();
        if (Peek.Kind != TokenKind.Or)
            return first;
        var operands = new List<Expr> { first };
        while (Accept(TokenKind.Or))
            operands.Add(ParseAnd());
        return new LogicNode(false, [.. operands]);
    }

    private Expr ParseAnd()
    {
        var first = ParseRelation();
        if (Peek.Kind != TokenKind.And)
            return first;
        var operands = new List<Expr> { first };
        while (Accept(TokenKind.And))
            operands.Add(ParseRelation());
        return new LogicNode(true, [.. operands]);
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
        // Each operator of a chain nests the tree one level deeper (evaluation recurses), so it counts against the depth.
        var depth = _depth;
        var left = ParseMultiply();
        while (Peek.Kind is TokenKind.Plus or TokenKind.Minus)
        {
            var op = Next().Kind == TokenKind.Plus ? ArithOp.Add : ArithOp.Subtract;
            Enter();
            left = new ArithmeticNode(op, left, ParseMultiply());
        }
        _depth = depth;
        return left;
    }

    private Expr ParseMultiply()
    {
        var depth = _depth;
        var left = ParseUnary();
        while (Accept(TokenKind.Star))
        {
            Enter();
            left = new ArithmeticNode(ArithOp.Multiply, left, ParseUnary());
        }
        _depth = depth;
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
        var depth = _depth;
        while (true)
        {
            if (Peek.Kind is TokenKind.Dot or TokenKind.LBracket)
                Enter();
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
            {
                _depth = depth;
                return target;
            }
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
