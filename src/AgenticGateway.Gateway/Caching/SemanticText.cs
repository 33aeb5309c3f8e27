using System.Text;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;

namespace AgenticGateway.Caching;

/// <summary>
/// A request as the semantic cache reads it. Only the <see cref="Question"/> (the last user turn's text) is embedded
/// and compared loosely; everything else that changes the answer (the system prompt, earlier turns, non-text parts,
/// the parameters, the stream flag, the API) is the <see cref="Context"/>, which must be identical for a semantic hit.
/// Without that, two conversations ending in the same "yes, please" would share an answer.
/// </summary>
internal readonly record struct SemanticText(string Context, string Question, double? Temperature, bool HasTools)
{
    /// <summary>Between the context and the question in <see cref="SemanticQuery.PromptText"/> (a character no prompt has by accident).</summary>
    public const char Separator = '\u241E';

    /// <summary>What <see cref="SemanticQuery.PromptText"/> and <see cref="CacheEntry.PromptText"/> carry.</summary>
    public string PromptText => Context.Length == 0 ? Question : Context + Separator + Question;

    /// <summary>Splits a <see cref="PromptText"/> back into its context and question.</summary>
    public static (string Context, string Question) Split(string promptText)
    {
        var at = promptText.LastIndexOf(Separator);
        return at < 0 ? ("", promptText) : (promptText[..at], promptText[(at + 1)..]);
    }

    // Members that never change the answer (LiteLLM's and ours), left out of the context.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "model", "messages", "prompt", "input", "system", "instructions", "temperature", "user", "metadata", "tags",
        "cache", "caching", "guardrails", "stream_options", "litellm_metadata", "num_retries", "timeout", "request_timeout",
        "no-log", "store",
    };

    /// <summary>The request's semantic text; null for an operation the semantic cache does not serve (embeddings, rerank) or a body it cannot read.</summary>
    public static SemanticText? Of(LlmRequest request) => Of(request.Operation, request.Body.Memory);

    /// <summary>The query the cache middleware hands to <see cref="ISemanticLookup"/>; null when the request has no semantic text.</summary>
    public static SemanticQuery? Query(LlmRequest request, Caller caller, string requestId, string partition) =>
        Of(request) is { } text ? new SemanticQuery(caller, requestId, partition, request.Group.Name, text.PromptText, text.Temperature, text.HasTools) : null;

    public static SemanticText? Of(LlmOperation operation, ReadOnlyMemory<byte> body)
    {
        // A string with a lone UTF-16 surrogate escape ("\ud800") parses, but cannot be read as text: no semantic text.
        try { return Read(operation, body); }
        catch (InvalidOperationException) { return null; }
    }

    private static SemanticText? Read(LlmOperation operation, ReadOnlyMemory<byte> body)
    {
        if (operation is not (LlmOperation.ChatCompletions or LlmOperation.Completions or LlmOperation.Messages or LlmOperation.Responses)) return null;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException) { return null; }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            var context = new StringBuilder();
            context.Append("op=").Append(operation).Append('\n');
            double? temperature = null;
            var hasTools = false;
            // Parameters in a fixed order, so the same request written with its members in another order has the same context.
            foreach (var member in root.EnumerateObject().OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                switch (member.Name)
                {
                    case "temperature" when member.Value.ValueKind == JsonValueKind.Number:
                        temperature = member.Value.GetDouble();
                        continue;
                    case "tools" or "functions" when member.Value.ValueKind == JsonValueKind.Array && member.Value.GetArrayLength() > 0:
                    case "tool_choice" or "function_call" when member.Value.ValueKind != JsonValueKind.Null && !(member.Value.ValueKind == JsonValueKind.String && member.Value.GetString() == "none"):
                        hasTools = true;
                        break;
                }
                if (Ignored.Contains(member.Name)) continue;
                context.Append(member.Name).Append('=').Append(member.Value.GetRawText()).Append('\n');
            }
            string? question;
            switch (operation)
            {
                case LlmOperation.Completions:
                    question = root.TryGetProperty("prompt", out var prompt) && prompt.ValueKind == JsonValueKind.String ? prompt.GetString() : null;
                    break;
                case LlmOperation.Responses:
                    if (root.TryGetProperty("instructions", out var instructions) && instructions.ValueKind == JsonValueKind.String)
                        context.Append("system: ").Append(instructions.GetString()).Append('\n');
                    if (!root.TryGetProperty("input", out var input)) return null;
                    question = input.ValueKind == JsonValueKind.String ? input.GetString() : Conversation(input, context, ref hasTools);
                    break;
                default:
                    if (root.TryGetProperty("system", out var system)) context.Append("system: ").Append(Text(system, context, ref hasTools)).Append('\n');
                    if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array) return null;
                    question = Conversation(messages, context, ref hasTools);
                    break;
            }
            if (question is null) return null;
            return new SemanticText(context.ToString(), question, temperature, hasTools);
        }
    }

    /// <summary>Appends every turn but the last user one to the context and returns that one's text (null if the last turn is not the user's).</summary>
    private static string? Conversation(JsonElement items, StringBuilder context, ref bool hasTools)
    {
        if (items.ValueKind != JsonValueKind.Array) return null;
        var count = items.GetArrayLength();
        string? question = null;
        for (var i = 0; i < count; i++)
        {
            var item = items[i];
            if (item.ValueKind != JsonValueKind.Object) return null;
            var role = item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : null;
            if (item.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() is { } t
                && (t.Contains("call", StringComparison.Ordinal) || t.Contains("tool", StringComparison.Ordinal)))
                hasTools = true;
            if (role is "tool" or "function" || item.TryGetProperty("tool_calls", out _) || item.TryGetProperty("function_call", out _)) hasTools = true;
            var text = item.TryGetProperty("content", out var content) ? Text(content, context, ref hasTools) : item.GetRawText();
            if (i == count - 1 && role == "user") question = text;
            else context.Append(role ?? "item").Append(": ").Append(text).Append('\n');
        }
        return question;
    }

    /// <summary>A content's text: a string, or its text parts joined; any other part (an image, a file) goes to the context whole.</summary>
    private static string Text(JsonElement content, StringBuilder context, ref bool hasTools)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) return content.GetRawText();
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type is "text" or "input_text" or "output_text" && part.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String)
            {
                if (text.Length > 0) text.Append('\n');
                text.Append(value.GetString());
                continue;
            }
            if (type is "tool_use" or "tool_result" or "server_tool_use") hasTools = true;
            context.Append("part: ").Append(part.GetRawText()).Append('\n');
        }
        return text.ToString();
    }
}
