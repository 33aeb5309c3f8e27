using System.Text;
using System.Text.RegularExpressions;

namespace AgenticGateway.Edge.Rules;

/// <summary>
/// A parsed TCP router rule in Traefik v3's syntax: HostSNI, HostSNIRegexp, ClientIP and ALPN joined by
/// <c>&amp;&amp;</c>, <c>||</c>, <c>!</c> and parentheses. <c>HostSNI(`*`)</c> matches every connection, TLS or not;
/// any other HostSNI needs a server name, compared without regard to case (<c>*.example.com</c> for one label).
/// </summary>
internal sealed partial class TcpRule
{
    private static readonly string[] Matchers = ["HostSNI", "HostSNIRegexp", "ClientIP", "ALPN"];

    private readonly Node _root;

    private TcpRule(Node root, IReadOnlyList<string> serverNames)
    {
        _root = root;
        ServerNames = serverNames;
        NeedsTls = Possible(root) == Tri.False;
        IsCatchAll = root is { Kind: Kind.Any };
    }

    public static TcpRule? Parse(string text, out string? error)
    {
        var expr = RuleSyntax.Parse(text, Matchers, out error);
        if (expr is null) return null;
        var names = new List<string>();
        var root = Build(expr, names, ref error);
        return root is null ? null : new TcpRule(root, names.Distinct(StringComparer.Ordinal).ToArray());
    }

    public bool Matches(in TcpRuleInput input) => Eval(_root, in input);

    /// <summary>Whether the rule can only match a TLS connection (a HostSNI other than <c>*</c>, HostSNIRegexp or ALPN).</summary>
    public bool NeedsTls { get; }

    /// <summary>The literal server names of its HostSNI matchers (for TLS certificates and options).</summary>
    public IReadOnlyList<string> ServerNames { get; }

    /// <summary>
    /// Whether the rule is exactly <c>HostSNI(`*`)</c>: Traefik then gives a router with no priority the lowest one (-1),
    /// so the catch-all is tried after every other router.
    /// </summary>
    public bool IsCatchAll { get; }

    private static Node? Build(RuleExpr expr, List<string> names, ref string? error)
    {
        switch (expr)
        {
            case RuleAnd and:
            {
                var left = Build(and.Left, names, ref error);
                var right = left is null ? null : Build(and.Right, names, ref error);
                return right is null ? null : new Node(Kind.And) { Left = left, Right = right };
            }
            case RuleOr or:
            {
                var left = Build(or.Left, names, ref error);
                var right = left is null ? null : Build(or.Right, names, ref error);
                return right is null ? null : new Node(Kind.Or) { Left = left, Right = right };
            }
            case RuleNot not:
            {
                var operand = Build(not.Operand, names, ref error);
                return operand is null ? null : new Node(Kind.Not) { Left = operand };
            }
            default:
                error = BuildCall((RuleCall)expr, names, out var node);
                return error is null ? node : null;
        }
    }

    private static string? BuildCall(RuleCall call, List<string> names, out Node? node)
    {
        node = null;
        string At(string message) => $"column {call.Column}: {call.Name}: {message}";
        if (call.Args.Length != 1) return At($"expected 1 argument, got {call.Args.Length}");
        var value = call.Args[0];
        if (value.Length == 0) return At("the argument is empty");
        switch (call.Name)
        {
            case "HostSNI":
                if (value == "*") { node = new Node(Kind.Any); return null; }
                if (!HostOrIp().IsMatch(value)) return At($"'{value}' is not a valid host name");
                var name = value.TrimEnd('.').ToLowerInvariant();
                names.Add(name);
                node = new Node(Kind.HostSni) { A = name };
                return null;
            case "HostSNIRegexp":
                if (!Ascii.IsValid(value)) return At($"'{value}' is not a valid host name");
                var regex = GoRegex.TryCreate(value, out var error);
                if (regex is null) return At(error!);
                node = new Node(Kind.HostSniRegexp) { Re = regex };
                return null;
            case "ALPN":
                // Traefik keeps the ACME TLS challenge's protocol for itself.
                if (value == "acme-tls/1") return At("'acme-tls/1' is reserved for the ACME TLS-ALPN-01 challenge");
                node = new Node(Kind.Alpn) { A = value };
                return null;
            default: // ClientIP
                if (!IpRange.TryParse(value, out var range, out var ipError)) return At(ipError!);
                node = new Node(Kind.ClientIp) { Ip = range };
                return null;
        }
    }

    private static bool Eval(Node n, in TcpRuleInput input)
    {
        switch (n.Kind)
        {
            case Kind.And: return Eval(n.Left!, in input) && Eval(n.Right!, in input);
            case Kind.Or: return Eval(n.Left!, in input) || Eval(n.Right!, in input);
            case Kind.Not: return !Eval(n.Left!, in input);
            case Kind.Any: return true;
            case Kind.HostSni: return !string.IsNullOrEmpty(input.ServerName) && HttpRule.DomainMatches(input.ServerName, n.A);
            case Kind.HostSniRegexp: return HttpRule.LowerMatches(n.Re!, input.ServerName);
            case Kind.Alpn:
                var alpn = input.Alpn;
                if (alpn is null) return false;
                for (var i = 0; i < alpn.Count; i++)
                    if (string.Equals(alpn[i], n.A, StringComparison.Ordinal)) return true;
                return false;
            default: return n.Ip.Contains(input.ClientIp);
        }
    }

    /// <summary>
    /// Whether the rule can match a connection without TLS (no server name, no ALPN), the client's address unknown:
    /// Kleene's three-valued logic, a ClientIP being either.
    /// </summary>
    private static Tri Possible(Node n) => n.Kind switch
    {
        Kind.And => And(Possible(n.Left!), Possible(n.Right!)),
        Kind.Or => Or(Possible(n.Left!), Possible(n.Right!)),
        Kind.Not => Possible(n.Left!) switch { Tri.True => Tri.False, Tri.False => Tri.True, _ => Tri.Unknown },
        Kind.Any => Tri.True,
        Kind.ClientIp => Tri.Unknown,
        _ => Tri.False,
    };

    private static Tri And(Tri a, Tri b) => a == Tri.False || b == Tri.False ? Tri.False : a == Tri.True && b == Tri.True ? Tri.True : Tri.Unknown;

    private static Tri Or(Tri a, Tri b) => a == Tri.True || b == Tri.True ? Tri.True : a == Tri.False && b == Tri.False ? Tri.False : Tri.Unknown;

    private enum Tri { False, True, Unknown }

    // Traefik's check of a HostSNI value: an optional "*." then word characters, dots, dashes and colons (IPv6).
    [GeneratedRegex(@"^(\*\.)?[\w.\-:]+$", RegexOptions.ECMAScript)]
    private static partial Regex HostOrIp();

    private enum Kind { And, Or, Not, Any, HostSni, HostSniRegexp, Alpn, ClientIp }

    private sealed class Node(Kind kind)
    {
        public Kind Kind { get; } = kind;
        public Node? Left { get; init; }
        public Node? Right { get; init; }
        public string A { get; init; } = "";
        public Regex? Re { get; init; }
        public IpRange Ip { get; init; }
    }
}
