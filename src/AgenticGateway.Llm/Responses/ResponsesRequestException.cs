using AgenticGateway.OpenAi;

namespace AgenticGateway.Responses;

/// <summary>
/// A Responses request refused deep inside a walk of its body, caught once at the entry point
/// (<see cref="ResponsesCreate.TryRead"/>, <see cref="ResponsesToChat.Convert"/>) and returned as its error.
/// </summary>
internal sealed class ResponsesRequestException(string message, string? param, string? code) : Exception(message)
{
    /// <summary>The 400 to answer with, in OpenAI's shape, naming the offending field.</summary>
    public ApiError Error { get; } = ApiError.BadRequest(message, param, code);

    public static ResponsesRequestException Missing(string param) =>
        new($"Missing required parameter: '{param}'.", param, "missing_required_parameter");

    public static ResponsesRequestException Type(string param, string expected, System.Text.Json.Nodes.JsonNode? got) =>
        new($"Invalid type for '{param}': expected {expected}, but got {Describe(got)} instead.", param, "invalid_type");

    /// <summary>OpenAI's wording for a value outside a fixed set: <c>Supported values are: 'a', 'b', and 'c'.</c></summary>
    public static ResponsesRequestException Value(string param, string value, params string[] supported) =>
        new($"Invalid value: '{value}'. Supported values are: {List(supported)}.", param, "invalid_value");

    private static string List(string[] values) => values.Length switch
    {
        1 => $"'{values[0]}'",
        2 => $"'{values[0]}' and '{values[1]}'",
        _ => string.Join(", ", values[..^1].Select(v => $"'{v}'")) + $", and '{values[^1]}'",
    };

    public static string Describe(System.Text.Json.Nodes.JsonNode? node) => node?.GetValueKind() switch
    {
        null or System.Text.Json.JsonValueKind.Null => "null",
        System.Text.Json.JsonValueKind.String => "a string",
        System.Text.Json.JsonValueKind.Number => "a number",
        System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "a boolean",
        System.Text.Json.JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
