using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.GuardrailTesting;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>A streamed text masked piece by piece comes out as the whole text masked at once, wherever it was split.</summary>
[Trait("Category", "unit")]
public class TextHoldTests
{
    private static LocalGuardrail Local(GuardrailAction email = GuardrailAction.Mask) =>
        new(Guard("t", [GuardrailMode.PostCall], email: email), new TestDetector(email));

    private static string Whole(string text) => Local().Check([text]).Masked?[0] ?? text;

    [Theory]
    [InlineData("write to jane.doe@example.com or john@example.org, thanks")]
    [InlineData("a@b.co")]
    [InlineData("no address here at all, just words and symbols @ . com")]
    [InlineData("x jane@example.com")]
    public void Masking_a_text_split_at_every_position_equals_masking_it_whole(string text)
    {
        var expected = Whole(text);
        for (var i = 0; i <= text.Length; i++)
        {
            for (var j = i; j <= text.Length; j += Math.Max(1, text.Length / 7))
            {
                var hold = new TextHold([new StreamGuard(Local(), false)]);
                var output = hold.Feed(text[..i], false) + hold.Feed(text[i..j], false) + hold.Feed(text[j..], false) + hold.Feed("", true);
                Assert.Equal(expected, output);
            }
        }
    }

    [Fact]
    public void Text_is_released_as_soon_as_no_match_can_still_span_it()
    {
        var hold = new TextHold([new StreamGuard(Local(), false)]);
        var first = hold.Feed(new string('a', 100) + " ", false);
        Assert.Equal(100 + 1 - 64, first.Length);
    }

    [Fact]
    public void A_block_ends_the_text_and_nothing_more_comes_out()
    {
        var guard = new StreamGuard(Local(), false);
        var hold = new TextHold([guard]);
        var text = new string('x', 80) + " forbidden " + new string('y', 80);
        var released = "";
        foreach (var c in text) released += hold.Feed(c.ToString(), false);
        released += hold.Feed("", true);
        Assert.NotNull(hold.Blocked);
        Assert.Equal("BLOCKED_WORD", hold.Blocked!.Value.Kind);
        Assert.DoesNotContain("forbidden", released, StringComparison.Ordinal);
        Assert.Equal(GuardrailAction.Block, guard.Action);
    }

    [Fact]
    public void A_guardrail_that_only_reports_counts_and_changes_nothing()
    {
        var guard = new StreamGuard(Local(), reportOnly: true);
        var hold = new TextHold([guard]);
        var output = hold.Feed("mail jane@example.com and forbidden", false) + hold.Feed("", true);
        Assert.Equal("mail jane@example.com and forbidden", output);
        Assert.Null(hold.Blocked);
        Assert.Equal(1, guard.Counts["EMAIL_ADDRESS"]);
        Assert.Equal(GuardrailAction.Block, guard.Action);
    }
}
