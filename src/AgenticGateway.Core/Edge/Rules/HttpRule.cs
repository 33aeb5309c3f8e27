using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace AgenticGateway.Edge.Rules;

/// <summary>
/// A parsed HTTP router rule in Traefik v3's syntax: Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header,
/// HeaderRegexp, Query, QueryRegexp and ClientIP joined by <c>&amp;&amp;</c>, <c>||</c>, <c>!</c> and parentheses.
/// Each matcher behaves as Traefik's: Host compares without regard to case, takes <c>*</c> for any host and
/// <c>*.example.com</c> for one label, and ignores a trailing dot; HostRegexp runs on the lower-cased host; paths are
/// exact and case-sensitive; regular expressions are Go's, unanchored. Matching allocates nothing.
/// </summary>
internal sealed class HttpRule
{
    private static readonly string[] Matchers =
        ["Host", "HostRegexp", "Path", "PathPrefix", "PathRegexp", "Method", "Header", "HeaderRegexp", "Query", "QueryRegexp", "ClientIP"];

    private readonly Node _root;

    private HttpRule(Node root, IReadOnlyList<string> hostNames)
    {
        _root = root;
        HostNames = hostNames;
    }

    /// <summary>Parses <paramref name="text"/>; on failure returns null and an error naming the position.</summary>
    public static HttpRule? Parse(string text, out string? error)
    {
        var expr = RuleSyntax.Parse(text, Matchers, out error);
        if (expr is null) return null;
        var hosts = new List<string>();
        var root = Build(expr, hosts, ref error);
        return root is null ? null : new HttpRule(root, hosts.Distinct(StringComparer.Ordinal).ToArray());
    }

    public bool Matches<T>(T input) where T : struct, IHttpRuleInput => Eval(_root, ref input);

    /// <summary>The literal host names of the rule's Host matchers (for TLS certificates, options and ACME domains), lower-cased as Traefik reads them.</summary>
    public IReadOnlyList<string> HostNames { get; }

    private static Node? Build(RuleExpr expr, List<string> hosts, ref string? error)
    {
        switch (expr)
        {
            case RuleAnd and:
            {
                var left = Build(and.Left, hosts, ref error);
                var right = left is null ? null : Build(and.Right, hosts, ref error);
                return right is null ? null : new Node(Kind.And) { Left = left, Right = right };
            }
            case RuleOr or:
            {
                var left = Build(or.Left, hosts, ref error);
                var right = left is null ? null : Build(or.Right, hosts, ref error);
                return right is null ? null : new Node(Kind.Or) { Left = left, Right = right };
            }
            case RuleNot not:
            {
                var operand = Build(not.Operand, hosts, ref error);
                return operand is null ? null : new Node(Kind.Not) { Left = operand };
            }
            default:
                var call = (RuleCall)expr;
                error = BuildCall(call, hosts, out var node);
                return error is null ? node : null;
        }
    }

    private static string? BuildCall(RuleCall call, List<string> hosts, out Node? node)
    {
        node = null;
        var args = call.Args;
        var (min, max) = call.Name switch
        {
            "Header" or "HeaderRegexp" => (2, 2),
            "Query" or "QueryRegexp" => (1, 2),
            _ => (1, 1),
        };
        string At(string message) => $"column {call.Column}: {call.Name}: {message}";
        if (args.Length < min || args.Length > max)
            return At($"expected {(min == max ? min.ToString() : $"{min} or {max}")} argument{(max > 1 ? "s" : "")}, got {args.Length}");
        if (args.Any(a => a.Length == 0)) return At("an argument is empty");
        var first = args[0];
        switch (call.Name)
        {
            case "Host":
                if (!Ascii.IsValid(first)) return At($"'{first}' has non-ASCII characters (write an internationalised name in its punycode form)");
                var host = first.ToLowerInvariant();
                if (host == "*") { node = new Node(Kind.Any); return null; }
                hosts.Add(host);
                node = new Node(Kind.Host) { A = host };
                return null;
            case "HostRegexp":
                if (!Ascii.IsValid(first)) return At($"'{first}' has non-ASCII characters");
                return BuildRegex(Kind.HostRegexp, first, "", out node, At);
            case "Path" or "PathPrefix":
                if (first[0] != '/') return At($"the path '{first}' does not start with '/'");
                node = new Node(call.Name == "Path" ? Kind.Path : Kind.PathPrefix) { A = first };
                return null;
            case "PathRegexp":
                return BuildRegex(Kind.PathRegexp, first, "", out node, At);
            case "Method":
                node = new Node(Kind.Method) { A = first.ToUpperInvariant() };
                return null;
            case "Header":
                node = new Node(Kind.Header) { A = first, B = args[1] };
                return null;
            case "HeaderRegexp":
                return BuildRegex(Kind.HeaderRegexp, args[1], first, out node, At);
            case "Query" or "QueryRegexp" when args.Length == 1:
                // Traefik: with a key only, the parameter must be present with an empty value (?flag or ?flag=).
                node = new Node(Kind.Query) { A = first, B = "" };
                return null;
            case "Query":
                node = new Node(Kind.Query) { A = first, B = args[1] };
                return null;
            case "QueryRegexp":
                return BuildRegex(Kind.QueryRegexp, args[1], first, out node, At);
            default: // ClientIP
                if (!IpRange.TryParse(first, out var range, out var ipError)) return At(ipError!);
                node = new Node(Kind.ClientIp) { Ip = range };
                return null;
        }
    }

    private static string? BuildRegex(Kind kind, string pattern, string key, out Node? node, Func<string, string> at)
    {
        var regex = GoRegex.TryCreate(pattern, out var error);
        node = regex is null ? null : new Node(kind) { A = key, Re = regex };
        return regex is null ? at(error!) : null;
    }

    private static bool Eval<T>(Node n, ref T input) where T : struct, IHttpRuleInput
    {
        switch (n.Kind)
        {
            case Kind.And: return Eval(n.Left!, ref input) && Eval(n.Right!, ref input);
            case Kind.Or: return Eval(n.Left!, ref input) || Eval(n.Right!, ref input);
            case Kind.Not: return !Eval(n.Left!, ref input);
            case Kind.Any: return true;
            case Kind.Host: return HostMatches(input.Host, n.A);
            case Kind.HostRegexp: return LowerMatches(n.Re!, input.Host);
            case Kind.Path: return string.Equals(input.Path, n.A, StringComparison.Ordinal);
            case Kind.PathPrefix: return input.Path.StartsWith(n.A, StringComparison.Ordinal);
            case Kind.PathRegexp: return n.Re!.IsMatch(input.Path);
            case Kind.Method: return string.Equals(input.Method, n.A, StringComparison.Ordinal);
            case Kind.Header:
            {
                var count = input.HeaderCount(n.A);
                for (var i = 0; i < count; i++)
                    if (string.Equals(input.HeaderAt(n.A, i), n.B, StringComparison.Ordinal)) return true;
                return false;
            }
            case Kind.HeaderRegexp:
            {
                var count = input.HeaderCount(n.A);
                for (var i = 0; i < count; i++)
                    if (n.Re!.IsMatch(input.HeaderAt(n.A, i))) return true;
                return false;
            }
            case Kind.Query:
            {
                var count = input.QueryCount(n.A);
                for (var i = 0; i < count; i++)
                    if (string.Equals(input.QueryAt(n.A, i), n.B, StringComparison.Ordinal)) return true;
                return false;
            }
            case Kind.QueryRegexp:
            {
                var count = input.QueryCount(n.A);
                for (var i = 0; i < count; i++)
                    if (n.Re!.IsMatch(input.QueryAt(n.A, i))) return true;
                return false;
            }
            default: return n.Ip.Contains(input.ClientIp);
        }
    }

    /// <summary>Traefik's Host: exact or one-label wildcard, without regard to case, a trailing dot on either side ignored.</summary>
    internal static bool HostMatches(ReadOnlySpan<char> host, ReadOnlySpan<char> expr)
    {
        if (host.Length == 0) return false;
        if (DomainMatches(host, expr)) return true;
        if (expr.Length > 0 && expr[^1] == '.' && DomainMatches(host, expr[..^1])) return true;
        return host[^1] == '.' && DomainMatches(host[..^1], expr);
    }

    /// <summary>An exact name, or <c>*.rest</c> matching any first label followed by <c>.rest</c>.</summary>
    internal static bool DomainMatches(ReadOnlySpan<char> domain, ReadOnlySpan<char> expr)
    {
        if (expr.Length > 0 && expr[0] == '*')
        {
            var dot = domain.IndexOf('.');
            var rest = dot < 0 ? [] : domain[dot..];
            return expr[1..].Equals(rest, StringComparison.OrdinalIgnoreCase);
        }
        return domain.Equals(expr, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Matches a regular expression against the lower-cased text (Traefik's canonical host) without allocating.</summary>
    internal static bool LowerMatches(Regex regex, string? text)
    {
        text ??= "";
        if (text.Length <= 256)
        {
            Span<char> lower = stackalloc char[text.Length];
            text.AsSpan().ToLowerInvariant(lower);
            return regex.IsMatch(lower);
        }
        var rented = ArrayPool<char>.Shared.Rent(text.Length);
        try
        {
            var span = rented.AsSpan(0, text.Length);
            text.AsSpan().ToLowerInvariant(span);
            return regex.IsMatch(span);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private enum Kind { And, Or, Not, Any, Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header, HeaderRegexp, Query, QueryRegexp, ClientIp }

    private sealed class Node(Kind kind)
    {
        public Kind Kind { get; } = kind;
        public Node? Left { get; init; }
        public Node? Right { get; init; }
        public string A { get; init; } = "";
        public string B { get; init; } = "";
        public Regex? Re { get; init; }
        public IpRange Ip { get; init; }
    }
}
