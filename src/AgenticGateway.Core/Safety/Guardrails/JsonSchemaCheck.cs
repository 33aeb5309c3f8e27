using System.Text;
using System.Text.Json;
using Json.Schema;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>What <see cref="JsonSchemaCheck"/> concluded.</summary>
internal enum JsonSchemaOutcome
{
    /// <summary>The answer is JSON and matches the schema.</summary>
    Valid,
    /// <summary>The answer is not JSON, or does not match the schema (the model's fault: LiteLLM answers it with an error).</summary>
    AnswerInvalid,
    /// <summary>The schema itself cannot be used (the caller's fault: a 400).</summary>
    SchemaInvalid,
}

internal readonly record struct JsonSchemaResult(JsonSchemaOutcome Outcome, string? Message)
{
    public bool IsValid => Outcome == JsonSchemaOutcome.Valid;
}

/// <summary>
/// LiteLLM's <c>enable_json_schema_validation</c>: an answer to a request whose <c>response_format</c> is
/// <c>{"type": "json_schema", "json_schema": {"schema": ...}}</c> is checked against that schema (JSON Schema 2020-12
/// unless the schema says otherwise). References are resolved only inside the schema: nothing is fetched.
/// </summary>
internal static class JsonSchemaCheck
{
    /// <summary>Bigger schemas or answers are not checked: reported as such rather than spending the request's time on them.</summary>
    public const int MaxSchemaBytes = 256 * 1024;
    public const int MaxAnswerChars = 8 * 1024 * 1024;
    private const int MaxErrorsShown = 5;

    public static JsonSchemaResult Check(JsonElement schema, string answer)
    {
        if (schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            return new(JsonSchemaOutcome.SchemaInvalid, "response_format.json_schema.schema must be a JSON object");
        if (schema.GetRawText().Length > MaxSchemaBytes)
            return new(JsonSchemaOutcome.SchemaInvalid, $"response_format.json_schema.schema is larger than {MaxSchemaBytes / 1024} KB");
        if (answer.Length > MaxAnswerChars)
            return new(JsonSchemaOutcome.AnswerInvalid, $"the answer is larger than {MaxAnswerChars / 1024 / 1024} MB and was not checked against the schema");

        JsonSchema compiled;
        try
        {
            // A registry of its own: a schema's $id must not meet another request's schema, and nothing is downloaded.
            compiled = JsonSchema.Build(schema, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        }
        catch (Exception e) when (e is JsonSchemaException or JsonException or ArgumentException or InvalidOperationException or NotSupportedException or FormatException)
        {
            return new(JsonSchemaOutcome.SchemaInvalid, $"response_format.json_schema.schema is not a usable JSON schema: {e.Message}");
        }

        JsonDocument document;
        try { document = JsonDocument.Parse(answer, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e)
        {
            return new(JsonSchemaOutcome.AnswerInvalid, $"the answer is not valid JSON: {e.Message}");
        }
        using (document)
        {
            EvaluationResults results;
            try
            {
                results = compiled.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            }
            catch (Exception e) when (e is JsonSchemaException or InvalidOperationException or NotSupportedException or System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                return new(JsonSchemaOutcome.SchemaInvalid, $"response_format.json_schema.schema cannot be evaluated: {e.Message}");
            }
            if (results.IsValid) return new(JsonSchemaOutcome.Valid, null);
            return new(JsonSchemaOutcome.AnswerInvalid, Describe(results));
        }
    }

    private static string Describe(EvaluationResults results)
    {
        var sb = new StringBuilder("the answer does not match the response_format schema");
        var shown = 0;
        foreach (var node in Flatten(results))
        {
            if (node.Errors is not { Count: > 0 } errors) continue;
            foreach (var (keyword, message) in errors)
            {
                if (shown == MaxErrorsShown) { sb.Append("; ..."); return sb.ToString(); }
                var at = node.InstanceLocation.ToString();
                sb.Append(shown == 0 ? ": " : "; ").Append(at.Length == 0 ? "/" : at).Append(' ').Append(keyword).Append(": ").Append(message);
                shown++;
            }
        }
        return sb.ToString();
    }

    private static IEnumerable<EvaluationResults> Flatten(EvaluationResults root)
    {
        yield return root;
        if (root.Details is null) yield break;
        foreach (var d in root.Details)
            foreach (var x in Flatten(d)) yield return x;
    }
}
