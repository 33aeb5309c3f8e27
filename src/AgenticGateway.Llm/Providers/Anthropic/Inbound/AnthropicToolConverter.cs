using System.Text.Json;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>Writes Anthropic <c>tools</c> and <c>tool_choice</c> as OpenAI function tools.</summary>
/// <remarks>
/// A custom tool (no <c>type</c>, or <c>"custom"</c>) becomes <c>{"type":"function","function":{name, description,
/// parameters: input_schema, strict}}</c>. Anthropic's server tools (web_search, web_fetch, code_execution...) and
/// Anthropic-defined client tools (bash, text_editor, computer...) only exist on Anthropic's side: refused with a 400
/// rather than dropped, since the model would silently lose a capability the client counts on.
/// <c>tool_choice</c>: auto → "auto", any → "required", tool → the named function, none → "none";
/// <c>disable_parallel_tool_use: true</c> → <c>parallel_tool_calls: false</c>.
/// </remarks>
internal static class AnthropicToolConverter
{
    public static void Write(Utf8JsonWriter w, JsonElement root)
    {
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array) throw new InboundRequestException("tools: Input should be a valid list", "tools");
            if (tools.GetArrayLength() > 0)
            {
                w.WritePropertyName("tools");
                w.WriteStartArray();
                var i = 0;
                foreach (var tool in tools.EnumerateArray()) WriteTool(w, tool, i++);
                w.WriteEndArray();
            }
        }
        if (root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind != JsonValueKind.Null) WriteChoice(w, choice);
    }

    private static void WriteTool(Utf8JsonWriter w, JsonElement tool, int i)
    {
        var path = $"tools.{i}";
        if (tool.ValueKind != JsonValueKind.Object) throw new InboundRequestException($"{path}: Input should be a valid dictionary", path);
        if (tool.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && !type.ValueEquals("custom"))
            throw new InboundRequestException($"{path}.type: tool type '{type.GetString()}' is an Anthropic server or built-in tool and is not supported on this deployment", $"{path}.type");
        if (!tool.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString() is not { Length: > 0 })
            throw new InboundRequestException($"{path}.name: Field required", $"{path}.name");
        if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
            throw new InboundRequestException($"{path}.input_schema: Field required", $"{path}.input_schema");
        w.WriteStartObject();
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", name.GetString());
        if (tool.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
            w.WriteString("description", description.GetString());
        w.WritePropertyName("parameters");
        schema.WriteTo(w);
        if (tool.TryGetProperty("strict", out var strict) && strict.ValueKind is JsonValueKind.True or JsonValueKind.False)
            w.WriteBoolean("strict", strict.ValueKind == JsonValueKind.True);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteChoice(Utf8JsonWriter w, JsonElement choice)
    {
        if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw new InboundRequestException("tool_choice.type: Field required", "tool_choice.type");
        switch (type.GetString())
        {
            case "auto":
                w.WriteString("tool_choice", "auto");
                break;
            case "any":
                w.WriteString("tool_choice", "required");
                break;
            case "none":
                w.WriteString("tool_choice", "none");
                break;
            case "tool":
                if (!choice.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    throw new InboundRequestException("tool_choice.tool.name: Field required", "tool_choice.name");
                w.WriteStartObject("tool_choice");
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", name.GetString());
                w.WriteEndObject();
                w.WriteEndObject();
                break;
            default:
                throw new InboundRequestException($"tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", "tool_choice.type");
        }
        if (choice.TryGetProperty("disable_parallel_tool_use", out var disable) && disable.ValueKind == JsonValueKind.True)
            w.WriteBoolean("parallel_tool_calls", false);
    }
}
