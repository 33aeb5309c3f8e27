using System.Text.Json.Nodes;
using AgenticGateway.Routing;

namespace AgenticGateway.Guardrails;

/// <summary>A text found in a JSON body, and how to put a masked version back in its place.</summary>
internal readonly record struct TextSlot(string Text, JsonNode Parent, string? Property, int Index)
{
    public void Set(string value)
    {
        if (Property is not null) Parent[Property] = value;
        else ((JsonArray)Parent)[Index] = value;
    }
}

/// <summary>
/// The texts guardrails read in requests and answers of each LLM API, in order: message contents and text parts,
/// system prompts, tool results (OpenAI chat, completions, embeddings, Anthropic messages, Responses); and the
/// answers' texts. Images, audio and files are not text and are left alone; tool call arguments are the model's JSON
/// and left alone too.
/// </summary>
internal static class MessageTexts
{
    public static List<TextSlot> OfRequest(JsonObject body, LlmOperation operation)
    {
        var slots = new List<TextSlot>();
        switch (operation)
        {
            case LlmOperation.ChatCompletions:
                Messages(body, slots);
                break;
            case LlmOperation.Completions:
                StringOrStrings(body, "prompt", slots);
                break;
            case LlmOperation.Embeddings:
                StringOrStrings(body, "input", slots);
                break;
            case LlmOperation.Messages:
                Content(body, "system", slots);
                Messages(body, slots);
                break;
            case LlmOperation.Responses:
                Add(body, "instructions", slots);
                if (body["input"] is JsonValue) Add(body, "input", slots);
                else if (body["input"] is JsonArray items)
                    foreach (var item in items)
                    {
                        if (item is not JsonObject o) continue;
                        // A message item (content: a string or input_text/output_text parts), or a tool's output.
                        if (o["content"] is not null) Content(o, "content", slots);
                        if (o["output"] is JsonValue) Add(o, "output", slots);
                    }
                break;
        }
        return slots;
    }

    public static List<TextSlot> OfAnswer(JsonObject answer, LlmOperation operation)
    {
        var slots = new List<TextSlot>();
        switch (operation)
        {
            case LlmOperation.ChatCompletions:
                if (answer["choices"] is JsonArray choices)
                    foreach (var c in choices)
                        if (c?["message"] is JsonObject message) Add(message, "content", slots);
                break;
            case LlmOperation.Completions:
                if (answer["choices"] is JsonArray textChoices)
                    foreach (var c in textChoices)
                        if (c is JsonObject choice) Add(choice, "text", slots);
                break;
            case LlmOperation.Messages:
                Content(answer, "content", slots);
                break;
            case LlmOperation.Responses:
                if (answer["output"] is JsonArray output) OutputItems(output, slots);
                break;
        }
        return slots;
    }

    /// <summary>The texts of Responses output items (message items' output_text parts).</summary>
    public static void OutputItems(JsonArray output, List<TextSlot> slots)
    {
        foreach (var item in output)
            if (item is JsonObject o && o["content"] is JsonArray) Content(o, "content", slots);
    }

    /// <summary>The contents of a <c>messages</c> array (OpenAI's chat and Anthropic's alike).</summary>
    private static void Messages(JsonObject body, List<TextSlot> slots)
    {
        if (body["messages"] is not JsonArray messages) return;
        foreach (var m in messages)
            if (m is JsonObject message) Content(message, "content", slots);
    }

    /// <summary>A content that is a string, or an array of parts whose text parts (and tool results' contents) are read.</summary>
    private static void Content(JsonObject owner, string property, List<TextSlot> slots)
    {
        switch (owner[property])
        {
            case JsonValue:
                Add(owner, property, slots);
                break;
            case JsonArray parts:
                foreach (var p in parts)
                {
                    if (p is not JsonObject part) continue;
                    var type = part["type"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : null;
                    if (type is "text" or "input_text" or "output_text" or null) Add(part, "text", slots);
                    // Anthropic's tool_result: its content is a string or blocks of its own.
                    else if (type == "tool_result" && part["content"] is not null) Content(part, "content", slots);
                }
                break;
        }
    }

    private static void StringOrStrings(JsonObject owner, string property, List<TextSlot> slots)
    {
        if (owner[property] is JsonValue) Add(owner, property, slots);
        else if (owner[property] is JsonArray items)
            for (var i = 0; i < items.Count; i++)
                if (items[i] is JsonValue v && v.TryGetValue<string>(out var s)) slots.Add(new TextSlot(s, items, null, i));
    }

    private static void Add(JsonObject owner, string property, List<TextSlot> slots)
    {
        if (owner[property] is JsonValue v && v.TryGetValue<string>(out var s)) slots.Add(new TextSlot(s, owner, property, 0));
    }
}
