using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.GuardrailTesting;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// The local guardrails over a stream (each text through one stream scanner per guardrail): the text put together from
/// its pieces is the whole text checked at once, wherever it was split; blocks end it; guardrails that only report
/// change nothing and count what they saw.
/// </summary>
[Trait("Category", "unit")]
public class LocalTextPolicyTests
{
    private static LocalGuardrail Local(string name = "t", GuardrailAction email = GuardrailAction.Mask) =>
        new(Guard(name, [GuardrailMode.PostCall], email: email), new TestDetector(email));

    [Theory]
    [InlineData("write to jane.doe@example.com or john@example.org, thanks")]
    [InlineData("a@b.co")]
    [InlineData("no address here at all, just words and symbols @ . com")]
    [InlineData("x jane@example.com")]
    public void A_text_split_anywhere_comes_out_as_the_whole_text_masked(string text)
    {
        var expected = Local().Check([text]).Masked?[0] ?? text;
        for (var i = 0; i <= text.Length; i++)
        {
            for (var j = i; j <= text.Length; j += Math.Max(1, text.Length / 7))
            {
                var guards = new[] { new StreamGuard(Local("a"), false), new StreamGuard(Local("b"), false) };
                var policy = new LocalTextPolicy(guards);
                var output = policy.Piece("c0", text[..i]) + policy.Piece("c0", text[i..j]) + policy.Piece("c0", text[j..]) + policy.End("c0");
                Assert.Equal(expected, output);
                Assert.Equal(policy.Whole("c0", text), output);
            }
        }
    }

    [Fact]
    public void Texts_of_different_channels_are_held_apart()
    {
        var guard = new StreamGuard(Local(), false);
        var policy = new LocalTextPolicy([guard]);
        var a = new StringBuilder();
        var b = new StringBuilder();
        foreach (var c in "mail jane@example.com now") { a.Append(policy.Piece("c0", c.ToString())); b.Append(policy.Piece("c1", "x")); }
        a.Append(policy.End("c0"));
        b.Append(policy.End("c1"));
        Assert.Equal("mail <EMAIL_ADDRESS> now", a.ToString());
        Assert.Equal(new string('x', 25), b.ToString());
        var (action, counts) = guard.Outcome();
        Assert.Equal(GuardrailAction.Mask, action);
        Assert.Equal(1, counts["EMAIL_ADDRESS"]);
    }

    [Fact]
    public void A_block_ends_the_stream_and_nothing_after_it_comes_out()
    {
        var guard = new StreamGuard(Local(), false);
        var policy = new LocalTextPolicy([guard]);
        var released = new StringBuilder();
        foreach (var c in new string('x', 80) + " forbidden " + new string('y', 80)) released.Append(policy.Piece("c0", c.ToString()));
        released.Append(policy.End("c0"));
        Assert.NotNull(policy.Blocked);
        Assert.DoesNotContain("forbidden", released.ToString(), StringComparison.Ordinal);
        Assert.Equal(GuardrailAction.Block, guard.Outcome().Action);
    }

    [Fact]
    public void A_guardrail_that_only_reports_counts_and_changes_nothing()
    {
        var guard = new StreamGuard(Local(), reportOnly: true);
        var policy = new LocalTextPolicy([guard]);
        var output = policy.Piece("c0", "mail jane@example.com and forbidden") + policy.End("c0");
        Assert.Equal("mail jane@example.com and forbidden", output);
        Assert.Null(policy.Blocked);
        var (action, counts) = guard.Outcome();
        Assert.Equal(GuardrailAction.Block, action);
        Assert.Equal(1, counts["EMAIL_ADDRESS"]);
    }
}
