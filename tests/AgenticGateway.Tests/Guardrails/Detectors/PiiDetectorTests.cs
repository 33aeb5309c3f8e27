using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.Detectors.DetectorTestKit;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>The presidio guardrail answered locally: Presidio's entity names and mask text, each identifier's check.</summary>
[Trait("Category", "unit")]
public class PiiDetectorTests
{
    private static ITextDetector Presidio(string parameters = "") => FromYaml($"""
        guardrails:
          - guardrail_name: presidio-pii
            litellm_params:
              guardrail: presidio
              mode: pre_call
        {parameters}
        """);

    [Fact]
    public void The_documented_request_is_masked_as_Presidio_masks_it()
    {
        // pii_masking_v2.md: "My credit card is 4111-1111-1111-1111 and my email is test@example.com".
        var pii = Presidio();
        Assert.Equal("My credit card is <CREDIT_CARD> and my email is <EMAIL_ADDRESS>.", Apply(pii, "My credit card is 4111-1111-1111-1111 and my email is test@example.com."));
    }

    public static TheoryData<string, string, string> Valid => new()
    {
        { "CREDIT_CARD", "4111 1111 1111 1111", "4111 1111 1111 1112" },
        { "IBAN_CODE", "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33" },
        { "US_SSN", "536-22-1234", "666-22-1234" },
        { "UK_NHS", "943 476 5919", "943 476 5918" },
        { "ES_NIF", "12345678Z", "12345678A" },
        { "ES_NIE", "X1234567L", "X1234567A" },
        { "IT_FISCAL_CODE", "RSSMRA85T10A562S", "RSSMRA85T10A562A" },
        { "SG_NRIC_FIN", "S1234567D", "S1234567A" },
        { "AU_TFN", "123 456 782", "123 456 783" },
        { "AU_ABN", "51 824 753 556", "51 824 753 557" },
        { "PL_PESEL", "44051401359", "44051401358" },
        { "FI_PERSONAL_IDENTITY_CODE", "131052-308T", "131052-308U" },
        { "UK_NINO", "AB123456C", "GB123456C" },
        { "IP_ADDRESS", "2001:db8::1", "12:30:45" },
        { "EMAIL_ADDRESS", "jane.doe@example.co.uk", "jane.doe@localhost" },
        { "PHONE_NUMBER", "+44 20 7946 0958", "20240115" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Each_entity_is_found_only_when_its_check_passes(string entity, string valid, string invalid)
    {
        var pii = Presidio($$"""
                  pii_entities_config: { {{entity}}: MASK }
            """);
        Assert.Equal($"id <{entity}> end", Apply(pii, $"id {valid} end"));
        Assert.Equal($"id {invalid} end", Apply(pii, $"id {invalid} end"));
    }

    [Fact]
    public void Block_per_entity_with_LiteLLMs_message()
    {
        var pii = Presidio("""
                  pii_entities_config:
                    CREDIT_CARD: "BLOCK"
                    EMAIL_ADDRESS: "MASK"
            """);
        Assert.Equal("BLOCK: Blocked PII entity detected: CREDIT_CARD by Guardrail: presidio-pii.", Apply(pii, "My credit card is 4111-1111-1111-1111"));
        Assert.Equal("mail <EMAIL_ADDRESS>; ip 10.1.2.3 kept", Apply(pii, "mail a@b.io; ip 10.1.2.3 kept"));
    }

    [Fact]
    public void Score_thresholds_drop_the_weak_recognisers()
    {
        // ALL: 0.7 keeps validated entities (1.0) and drops format-only ones (phone 0.4, IP 0.6), as in Presidio.
        var pii = Presidio("""
                  presidio_score_thresholds: {ALL: 0.7, IP_ADDRESS: 0.5}
            """);
        Assert.Equal("<EMAIL_ADDRESS>, +1 415 555 0132, <IP_ADDRESS>", Apply(pii, "x@example.com, +1 415 555 0132, 192.168.1.10"));
    }

    [Fact]
    public void Phrases_on_the_allow_list_are_kept()
    {
        var pii = Presidio("""
                  presidio_phrase_allow_list: ["support@example.com"]
            """);
        Assert.Equal("write to support@example.com, not <EMAIL_ADDRESS>", Apply(pii, "write to support@example.com, not jane@example.com"));
    }

    [Fact]
    public void A_number_is_one_entity_not_also_a_phone()
    {
        var found = Find(Presidio(), "SSN 536-22-1234 and card 4111-1111-1111-1111");
        Assert.Equal(["US_SSN", "CREDIT_CARD"], found.Select(f => f.Kind));
    }

    [Fact]
    public void Every_supported_entity_has_a_recogniser()
    {
        Assert.Equal(PresidioSettings.SupportedEntities.Order(StringComparer.Ordinal), PiiDetector.Entities.Order(StringComparer.Ordinal));
    }
}
