using System.Text.Json.Nodes;
using AgenticGateway.Responses;

namespace AgenticGateway.Services.Responses;

/// <summary>A request's input items as <c>input_items</c> lists them: each with an id, a message's text as content parts.</summary>
internal static class InputItems
{
    public static JsonArray ForStore(JsonArray input)
    {
        var result = new JsonArray();
        foreach (var node in input)
        {
            if (node is not JsonObject source) continue;
            var item = source.DeepClone().AsObject();
            var type = (string?)item["type"] ?? "message";
            item["type"] = type;
            if (type == "message")
            {
                var role = (string?)item["role"] ?? "user";
                if (item["content"] is JsonValue text && text.TryGetValue<string>(out var s))
                    item["content"] = new JsonArray(role == "assistant"
                        ? new JsonObject { ["type"] = "output_text", ["text"] = s, ["annotations"] = new JsonArray() }
                        : new JsonObject { ["type"] = "input_text", ["text"] = s });
                item["status"] ??= "completed";
            }
            if (item["id"] is null)
            {
                // A new object so "id" comes first, as OpenAI lists it.
                var withId = new JsonObject { ["id"] = ResponsesIds.New(Prefix(type)) };
                foreach (var (name, value) in item.ToList())
                {
                    item.Remove(name);
                    withId[name] = value;
                }
                item = withId;
            }
            result.Add(item);
        }
        return result;
    }

    private static string Prefix(string type) => type switch
    {
        "message" => "msg",
        "function_call" => "fc",
        "function_call_output" => "fco",
        "reasoning" => "rs",
        "mcp_approval_response" => "mcpa",
        _ => "item",
    };
}
