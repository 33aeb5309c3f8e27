using System.Text.Json;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>enable_json_schema_validation's check: an answer against a response_format's JSON schema.</summary>
[Trait("Category", "unit")]
public class JsonSchemaCheckTests
{
    // OpenAI's structured-outputs example schema (a response_format json_schema).
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "date": {"type": "string"},
            "participants": {"type": "array", "items": {"type": "string"}}
          },
          "required": ["name", "date", "participants"],
          "additionalProperties": false
        }
        """).RootElement;

    [Fact]
    public void A_matching_answer_is_valid()
    {
        var result = JsonSchemaCheck.Check(Schema, """{"name":"Science fair","date":"Friday","participants":["Alice","Bob"]}""");
        Assert.True(result.IsValid, result.Message);
    }

    [Fact]
    public void A_mismatch_says_where_and_why()
    {
        var result = JsonSchemaCheck.Check(Schema, """{"name":"Science fair","date":5,"participants":["Alice"],"extra":true}""");
        Assert.Equal(JsonSchemaOutcome.AnswerInvalid, result.Outcome);
        Assert.StartsWith("the answer does not match the response_format schema: ", result.Message, StringComparison.Ordinal);
        Assert.Contains("/date type:", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_that_is_not_json_is_invalid()
    {
        var result = JsonSchemaCheck.Check(Schema, "Sure! Here is the event: Science fair on Friday.");
        Assert.Equal(JsonSchemaOutcome.AnswerInvalid, result.Outcome);
        Assert.StartsWith("the answer is not valid JSON", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type": "no-such-type"}""")]
    [InlineData("""{"$ref": "https://example.com/elsewhere.json"}""")]
    [InlineData("[1, 2]")]
    public void An_unusable_schema_is_the_callers_error(string schema)
    {
        var result = JsonSchemaCheck.Check(JsonDocument.Parse(schema).RootElement, "{}");
        Assert.Equal(JsonSchemaOutcome.SchemaInvalid, result.Outcome);
        Assert.StartsWith("response_format.json_schema.schema", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_id_in_two_requests_does_not_clash()
    {
        var a = JsonDocument.Parse("""{"$id": "https://example.com/s", "type": "string"}""").RootElement;
        var b = JsonDocument.Parse("""{"$id": "https://example.com/s", "type": "number"}""").RootElement;
        Assert.True(JsonSchemaCheck.Check(a, "\"x\"").IsValid);
        Assert.True(JsonSchemaCheck.Check(b, "5").IsValid);
    }
}
