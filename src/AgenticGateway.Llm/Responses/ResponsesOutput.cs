using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Responses;

/// <summary>What one chat answer contributes to a response.</summary>
/// <param name="Output">Output items in order: reasoning, message, function calls.</param>
/// <param name="Usage">The Responses usage object, or null when the answer reported none.</param>
/// <param name="Status"><c>completed</c>, or <c>incomplete</c> when the answer stopped at the token limit or a content filter.</param>
/// <param name="IncompleteDetails"><c>{"reason": "max_output_tokens" | "content_filter"}</c> for an incomplete answer, else null.</param>
internal sealed record ResponsesOutput(JsonArray Output, JsonObject? Usage, string Status, JsonObject? IncompleteDetails)
{
    /// <summary>The usage as the gateway counts it (spend, limits), or null.</summary>
    public Usage? GatewayUsage { get; init; }

    /// <summary>The chat finish reason (<c>stop</c>, <c>tool_calls</c>, <c>length</c>, ...), or null.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The service tier the upstream reported, or null.</summary>
    public string? ServiceTier { get; init; }
}
