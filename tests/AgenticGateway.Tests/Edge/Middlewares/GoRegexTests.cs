using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Go's RE2 expressions and replacement templates run by .NET with Go's meaning.</summary>
[Trait("Category", "unit")]
public sealed class GoRegexTests
{
    private static GoRegex Compile(string pattern)
    {
        var errors = new List<string>();
        var regex = GoRegex.Compile(new EdgeOptions(EdgeNode.EmptyMap, errors), "regex", pattern);
        Assert.Empty(errors);
        return regex!;
    }

    [Theory]
    [InlineData(@"^/(?P<a>x)(y)$", "/xy", "$1-$2-${a}", "x-y-x")]
    [InlineData(@"^/(?<a>x)(y)$", "/xy", "$2$a", "yx")]
    [InlineData(@"a*", "baaac", "-", "-b-c-")]
    [InlineData(@"(\d+)", "a١2b", "<$1>", "a١<2>b")]
    [InlineData(@"[[:upper:]]+", "abCDe", "_", "ab_e")]
    [InlineData(@"\pL+", "é1", "L", "L1")]
    [InlineData(@"\x{41}\101", "AA", "ok", "ok")]
    [InlineData(@"\Q.*\E", "a.*b", "!", "a!b")]
    [InlineData(@"[]a]", "]a", "x", "xx")]
    [InlineData(@"(x)", "x", "$1x|$9|${1}x|$-", "||xx|$-")]
    public void ReplaceAllExpandsTheTemplateAsGoDoes(string pattern, string input, string template, string expected)
    {
        Assert.Equal(expected, Compile(pattern).ReplaceAll(input, GoTemplate.Parse(template)));
    }

    [Theory]
    [InlineData(@"(?U)a+", "ungreedy")]
    [InlineData(@"(?=a)", "unsupported group")]
    [InlineData(@"[a", "missing closing ]")]
    [InlineData(@"(?P<a>x)(?P<a>y)", "duplicate capture group name")]
    public void WhatRe2RefusesIsAnError(string pattern, string message)
    {
        var errors = new List<string>();
        Assert.Null(GoRegex.Compile(new EdgeOptions(EdgeNode.EmptyMap, errors), "x.regex", pattern));
        Assert.Contains(errors, e => e.StartsWith("x.regex: invalid regular expression") && e.Contains(message));
    }
}
