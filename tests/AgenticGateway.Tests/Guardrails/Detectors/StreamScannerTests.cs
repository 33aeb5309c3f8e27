using System.Text;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.Detectors.DetectorTestKit;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>
/// Masking across chunk boundaries: a text streamed in any pieces comes out exactly as the whole text masked at once
/// (property tests: every single split position, and random multi-way splits of generated texts).
/// </summary>
[Trait("Category", "unit")]
public class StreamScannerTests
{
    private static readonly ITextDetector Pii = FromYaml("""
        guardrails:
          - guardrail_name: pii
            litellm_params: {guardrail: presidio, mode: post_call}
        """);

    private static readonly ITextDetector Filter = FromYaml("""
        guardrails:
          - guardrail_name: f
            litellm_params:
              guardrail: litellm_content_filter
              mode: during_call
              patterns:
                - {pattern_type: prebuilt, pattern_name: email, action: MASK}
                - {pattern_type: prebuilt, pattern_name: us_ssn, action: MASK}
                - {pattern_type: regex, pattern: 'emp-\d{4}', name: employee_id, action: MASK}
              blocked_words:
                - {keyword: "project apollo", action: MASK}
                - {keyword: forbidden, action: BLOCK}
        """);

    private static readonly ITextDetector Secrets = FromYaml("""
        guardrails:
          - guardrail_name: s
            litellm_params: {guardrail: hide-secrets, mode: post_call}
        """);

    private static string Stream(ITextDetector detector, IEnumerable<string> pieces, out StreamScanner scanner)
    {
        scanner = new StreamScanner(detector);
        var sb = new StringBuilder();
        foreach (var p in pieces) sb.Append(scanner.Append(p));
        sb.Append(scanner.Flush());
        return scanner.Block is not null ? "BLOCK: " + scanner.BlockMessage : sb.ToString();
    }

    private const string Sample =
        "Hello, write to jane.doe@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, SSN 536-22-1234, " +
        "IBAN GB82 WEST 1234 5698 7654 32, host 2001:db8::1 and 10.0.0.7; see https://example.com/x?y=1 today. ";

    [Theory]
    [InlineData("pii")]
    [InlineData("filter")]
    [InlineData("secrets")]
    public void Any_single_split_gives_the_whole_texts_output(string which)
    {
        // Longer than the detector's reach, so text is released mid-stream and the split really crosses releases.
        var (detector, unit) = which switch
        {
            "pii" => (Pii, Sample),
            "filter" => (Filter, "Ask emp-1234 about Project Apollo via a@b.io, SSN 123-45-6789; then PROJECT APOLLO again. " + Sample),
            _ => (Secrets, "token: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 and AKIAIOSFODNN7EXAMPLE, url postgres://u:pa55word@h/db end. " + Sample),
        };
        var text = unit;
        while (text.Length < detector.MaxMatchLength * 2 + 200) text += unit;
        var whole = Apply(detector, text);
        Assert.NotEqual(text, whole);
        var scanner = new StreamScanner(detector);
        Assert.NotEqual("", scanner.Append(text));
        var step = Math.Max(1, text.Length / 1200);
        for (var i = 0; i <= text.Length; i += step)
            Assert.Equal(whole, Stream(detector, [text[..i], text[i..]], out _));
    }

    [Fact]
    public void Random_chunkings_of_generated_texts_agree_with_the_whole()
    {
        var random = new Random(20);
        string[] parts =
        [
            "hello", "world", "jane@example.com", "4111-1111-1111-1111", "536-22-1234", "+1 415 555 0132", "GB82 WEST 1234 5698 7654 32",
            "emp-9876", "project apollo", "10.1.2.3", "fe80::1", "RSSMRA85T10A562S", "AKIAIOSFODNN7EXAMPLE", "api_key='abc123def456'",
            "the", "a", "of", ",", ".", "\n", "  ",
        ];
        foreach (var detector in new[] { Pii, Filter, Secrets })
        {
            for (var round = 0; round < 60; round++)
            {
                var sb = new StringBuilder();
                var words = random.Next(1, 250);
                for (var w = 0; w < words; w++) sb.Append(parts[random.Next(parts.Length)]).Append(random.Next(4) == 0 ? "" : " ");
                var text = sb.ToString();
                var pieces = new List<string>();
                for (var at = 0; at < text.Length;)
                {
                    var n = Math.Min(random.Next(1, 12), text.Length - at);
                    pieces.Add(text.Substring(at, n));
                    at += n;
                }
                Assert.Equal(Apply(detector, text), Stream(detector, pieces, out _));
            }
        }
    }

    [Fact]
    public void Text_is_held_back_only_within_the_detectors_reach()
    {
        var scanner = new StreamScanner(Filter);
        var released = new StringBuilder();
        var text = string.Concat(Enumerable.Repeat("plain words go by here ", 40));
        foreach (var ch in text) released.Append(scanner.Append(ch.ToString()));
        // All but the last stretch (the reach, one word, and the few characters gathered before a rescan) is out before
        // the end of the stream.
        Assert.True(released.Length >= text.Length - Filter.MaxMatchLength - 100, $"{released.Length} of {text.Length}");
        released.Append(scanner.Flush());
        Assert.Equal(text, released.ToString());
    }

    [Fact]
    public void A_block_split_across_chunks_ends_the_stream_and_nothing_after_it_is_released()
    {
        var text = "first part is fine and long enough to be released before anything else happens here. then forb" + "idden words follow, and more.";
        var scanner = new StreamScanner(Filter);
        var out1 = scanner.Append(text.AsSpan(0, 95));
        var out2 = scanner.Append(text.AsSpan(95));
        var out3 = scanner.Flush();
        Assert.NotNull(scanner.Block);
        Assert.Equal("Content blocked: keyword 'forbidden' detected", scanner.BlockMessage);
        Assert.DoesNotContain("idden", out1 + out2 + out3, StringComparison.Ordinal);
        Assert.Equal("", scanner.Append("more"));
    }

    [Fact]
    public void Masked_findings_are_counted_by_kind()
    {
        Stream(Pii, ["mail a@b.io and ", "c@d.io, card 4111 1111 ", "1111 1111 done"], out var scanner);
        Assert.Equal(2, scanner.MaskedByKind!["EMAIL_ADDRESS"]);
        Assert.Equal(1, scanner.MaskedByKind["CREDIT_CARD"]);
    }
}
