namespace AgenticGateway.Cedar;

internal enum TokenKind : byte
{
    End, Error, Identifier, Integer, DecimalNumber, String,
    LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Semicolon, Dot, DoubleColon, Colon, At,
    Eq, NotEq, Lt, LtEq, Gt, GtEq, And, Or, Not, Minus, Plus, Star, Question,
}

/// <summary>A token: its kind, its source text (a string's raw text between the quotes) and where it starts.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Offset, int Line, int Column);

/// <summary>Cedar's tokens. Comments are <c>//</c> to the end of the line; a bad character becomes an Error token.</summary>
internal static class CedarLexer
{
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0, line = 1, lineStart = 0;
        while (true)
        {
            // Whitespace and comments.
            while (i < text.Length)
            {
                var c = text[i];
                if (c == '\n')
                {
                    line++;
                    lineStart = ++i;
                }
                else if (char.IsWhiteSpace(c))
                    i++;
                else if (c == '/' && i + 1 < text.Length && text[i + 1] == '/')
                {
                    while (i < text.Length && text[i] != '\n')
                        i++;
                }
                else
                    break;
            }
            var start = i;
            var column = i - lineStart + 1;
            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", i, line, column));
                return tokens;
            }
            var ch = text[i];
            TokenKind kind;
            string value;
            if (CedarText.IsIdentifierStart(ch))
            {
                while (i < text.Length && CedarText.IsIdentifierPart(text[i]))
                    i++;
                kind = TokenKind.Identifier;
                value = text[start..i];
            }
            else if (char.IsAsciiDigit(ch))
            {
                while (i < text.Length && char.IsAsciiDigit(text[i]))
                    i++;
                kind = TokenKind.Integer;
                // Dialect: `10.0` is a decimal literal (Cedar spells it decimal("10.0")). A dot not followed by a digit
                // stays a dot (`1.foo` is a method call on 1).
                if (i + 1 < text.Length && text[i] == '.' && char.IsAsciiDigit(text[i + 1]))
                {
                    i++;
                    while (i < text.Length && char.IsAsciiDigit(text[i]))
                        i++;
                    kind = TokenKind.DecimalNumber;
                }
                value = text[start..i];
            }
            else if (ch == '"')
            {
                i++;
                var closed = false;
                while (i < text.Length)
                {
                    var c = text[i];
                    if (c == '\\' && i + 1 < text.Length)
                        i += 2;
                    else if (c == '"')
                    {
                        closed = true;
                        break;
                    }
                    else
                    {
                        if (c == '\n')
                        {
                            line++;
                            lineStart = i + 1;
                        }
                        i++;
                    }
                }
                if (!closed)
                {
                    tokens.Add(new Token(TokenKind.Error, "unterminated string", start, line, column));
                    tokens.Add(new Token(TokenKind.End, "", text.Length, line, text.Length - lineStart + 1));
                    return tokens;
                }
                kind = TokenKind.String;
                value = text[(start + 1)..i];
                i++;
            }
            else
            {
                var next = i + 1 < text.Length ? text[i + 1] : '\0';
                (kind, var length) = (ch, next) switch
                {
                    ('(', _) => (TokenKind.LParen, 1),
                    (')', _) => (TokenKind.RParen, 1),
                    ('[', _) => (TokenKind.LBracket, 1),
                    (']', _) => (TokenKind.RBracket, 1),
                    ('{', _) => (TokenKind.LBrace, 1),
                    ('}', _) => (TokenKind.RBrace, 1),
                    (',', _) => (TokenKind.Comma, 1),
                    (';', _) => (TokenKind.Semicolon, 1),
                    ('.', _) => (TokenKind.Dot, 1),
                    (':', ':') => (TokenKind.DoubleColon, 2),
                    (':', _) => (TokenKind.Colon, 1),
                    ('@', _) => (TokenKind.At, 1),
                    ('=', '=') => (TokenKind.Eq, 2),
                    ('!', '=') => (TokenKind.NotEq, 2),
                    ('<', '=') => (TokenKind.LtEq, 2),
                    ('<', _) => (TokenKind.Lt, 1),
                    ('>', '=') => (TokenKind.GtEq, 2),
                    ('>', _) => (TokenKind.Gt, 1),
                    ('&', '&') => (TokenKind.And, 2),
                    ('|', '|') => (TokenKind.Or, 2),
                    ('!', _) => (TokenKind.Not, 1),
                    ('-', _) => (TokenKind.Minus, 1),
                    ('+', _) => (TokenKind.Plus, 1),
                    ('*', _) => (TokenKind.Star, 1),
                    ('?', _) => (TokenKind.Question, 1),
                    _ => (TokenKind.Error, 1),
                };
                i += length;
                value = kind == TokenKind.Error
                    ? ch == '=' ? "unexpected '=' (equality is '==')" : ch is '&' or '|' ? $"unexpected '{ch}' (did you mean '{ch}{ch}'?)" : $"unexpected character '{ch}'"
                    : text[start..i];
            }
            tokens.Add(new Token(kind, value, start, line, column));
        }
    }
}
