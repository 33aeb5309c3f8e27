using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.Detectors.DetectorTestKit;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>LiteLLM's litellm_content_filter, with the inputs and outputs its documentation shows (litellm_content_filter.md).</summary>
[Trait("Category", "unit")]
public class ContentFilterDetectorTests
{
    private static ITextDetector Filter(string parameters) => FromYaml($"""
        guardrails:
          - guardrail_name: f
            litellm_params:
              guardrail: litellm_content_filter
              mode: pre_call
        {parameters}
        """);

    [Fact]
    public void Default_redaction_tags_as_documented()
    {
        var filter = Filter("""
                  patterns:
                    - {pattern_type: prebuilt, pattern_name: email, action: MASK}
                    - {pattern_type: prebuilt, pattern_name: us_ssn, action: MASK}
                  blocked_words:
                    - {keyword: confidential, action: MASK}
                    - {keyword: proprietary, action: MASK}
            """);
        Assert.Equal("My email is [EMAIL_REDACTED] and SSN is [US_SSN_REDACTED]", Apply(filter, "My email is john@example.com and SSN is 123-45-6789"));
        Assert.Equal("This is [KEYWORD_REDACTED] and [KEYWORD_REDACTED] information", Apply(filter, "This is confidential and proprietary information"));
        Assert.Equal("Contact me at [EMAIL_REDACTED]", Apply(filter, "Contact me at john@example.com"));
        // Every match is masked, and keywords match case-insensitively inside words, as LiteLLM's substring test does.
        Assert.Equal("[EMAIL_REDACTED], [EMAIL_REDACTED]; [KEYWORD_REDACTED]ITY", Apply(filter, "a@b.io, c.d@e-f.org; CONFIDENTIALITY"));
    }

    [Fact]
    public void Custom_redaction_format_as_documented()
    {
        var filter = Filter("""
                  pattern_redaction_format: "***{pattern_name}***"
                  keyword_redaction_tag: "***REDACTED***"
                  patterns:
                    - {pattern_type: prebuilt, pattern_name: email, action: MASK}
                    - {pattern_type: prebuilt, pattern_name: us_ssn, action: MASK}
                  blocked_words:
                    - {keyword: confidential, action: MASK}
            """);
        Assert.Equal("Email ***EMAIL***, SSN ***US_SSN***, ***REDACTED*** data", Apply(filter, "Email john@example.com, SSN 123-45-6789, confidential data"));
    }

    [Fact]
    public void Block_messages_are_LiteLLMs()
    {
        var filter = Filter("""
                  patterns:
                    - {pattern_type: prebuilt, pattern_name: us_ssn, action: BLOCK}
                    - {pattern_type: regex, pattern: 'PROJECT-\d{6}', name: project_code, action: BLOCK}
                  blocked_words:
                    - {keyword: confidential, action: BLOCK, description: "Sensitive internal information"}
                    - {keyword: blue, action: BLOCK}
            """);
        Assert.Equal("BLOCK: Content blocked: us_ssn pattern detected", Apply(filter, "My SSN is 123-45-6789"));
        Assert.Equal("BLOCK: Content blocked: project_code pattern detected", Apply(filter, "see project-123456"));
        Assert.Equal("BLOCK: Content blocked: keyword 'confidential' detected (Sensitive internal information)", Apply(filter, "this is Confidential"));
        Assert.Equal("BLOCK: Content blocked: keyword 'blue' detected", Apply(filter, "hi blue"));
        Assert.Equal("hello there", Apply(filter, "hello there"));
    }

    [Fact]
    public void Custom_regex_masks_with_its_name()
    {
        var filter = Filter("""
                  patterns:
                    - pattern_type: "regex"
                      pattern: '\b[A-Z]{3}-\d{4}\b'
                      name: "employee_id"
                      action: "MASK"
            """);
        Assert.Equal("Employee ID: [EMPLOYEE_ID_REDACTED] and [EMPLOYEE_ID_REDACTED]", Apply(filter, "Employee ID: ABC-1234 and xyz-9876"));
        Assert.Equal(ContentFilterDetector.CustomPatternReach, filter.MaxMatchLength);
    }

    public static TheoryData<string, string, string> Prebuilt => new()
    {
        { "visa", "card 4532-1234-5678-9010 ok", "card [VISA_REDACTED] ok" },
        { "mastercard", "5425 2334 3010 9903", "[MASTERCARD_REDACTED]" },
        { "amex", "3782-822463-10005", "[AMEX_REDACTED]" },
        { "aws_access_key", "key AKIAIOSFODNN7EXAMPLE", "key [AWS_ACCESS_KEY_REDACTED]" },
        { "github_token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "[GITHUB_TOKEN_REDACTED]" },
        { "phone", "call +1-555-123-4567 now", "call [PHONE_REDACTED] now" },
        { "ipv4", "host 10.0.0.255 up", "host [IPV4_REDACTED] up" },
        { "ipv6", "addr 2001:db8::1 up", "addr [IPV6_REDACTED] up" },
        { "url", "see https://example.com/a?b=c now", "see [URL_REDACTED] now" },
        { "us_ssn_no_dash", "ssn 536221234 but not 666221234", "ssn [US_SSN_NO_DASH_REDACTED] but not 666221234" },
    };

    [Theory]
    [MemberData(nameof(Prebuilt))]
    public void Prebuilt_patterns_match_their_documented_examples(string name, string text, string expected)
    {
        var filter = Filter($"""
                  patterns:
                    - {"{"}pattern_type: prebuilt, pattern_name: {name}, action: MASK{"}"}
            """);
        Assert.Equal(expected, Apply(filter, text));
    }

    [Fact]
    public void Every_prebuilt_name_has_a_pattern_and_a_bounded_reach()
    {
        foreach (var name in ContentFilterSettings.PrebuiltNames)
        {
            var (regex, max) = ContentFilterDetector.Prebuilt(name);
            Assert.NotNull(regex);
            Assert.InRange(max, 1, 4096);
        }
    }
}
