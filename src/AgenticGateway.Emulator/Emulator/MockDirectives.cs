using System.Text;
using System.Text.Json;

namespace AgenticGateway.Emulator;

/// <summary>
/// Directives a test writes into the conversation to steer the emulated model, the same in every dialect:
/// a line <c>mock_tool_call: {"name": "...", "arguments": {...}}</c> in the last user message makes the model call
/// exactly that tool with exactly those arguments (when the request offers it), and an answer that follows tool
/// results quotes them (<c>Tool result: ...</c>), so an agent loop through the gateway can be checked end to end.
/// A line <c>mock_response: text</c> makes an OpenAI chat answer that text.
/// </summary>
internal static class MockDirectives
{
    private const string ToolCallPrefix = "mock_tool_call:";

    /// <summary>How much of each tool result the answer quotes: enough to check, bounded for huge outputs.</summary>
    public const int ToolResultQuote = 2000;

    /// <summary>
    /// Reads the tool-call directive from a user message's text. <paramref name="arguments"/> is the arguments as a
    /// JSON string (an object as written in the directive, or a string given as is).
    /// </summary>
    public static bool TryToolCall(string? userText, out string name, out string arguments)
    {
        name = "";
        arguments = "";
        if (string.IsNullOrEmpty(userText) || !userText.Contains(ToolCallPrefix, StringComparison.Ordinal)) return false;
        foreach (var rawLine in userText.Split('\n'))
        {
            var line = rawLine.Trim();
            if (!line.StartsWith(ToolCallPrefix, StringComparison.Ordinal)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line[ToolCallPrefix.Length..]);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String) continue;
                name = n.GetString()!;
                if (!root.TryGetProperty("arguments", out var args) || args.ValueKind == JsonValueKind.Null) arguments = "{}";
                else if (args.ValueKind == JsonValueKind.String) arguments = args.GetString()!;
                else arguments = args.GetRawText(); // as the test wrote it: re-encoding would escape '+', '<', non-ASCII
                return true;
            }
            catch (JsonException)
            {
                // A malformed directive is ordinary text: the model answers as it would without it.
            }
        }
        return false;
    }

    private const string ResponsePrefix = "mock_response:";

    /// <summary>
    /// Reads a <c>mock_response: text</c> line from a user message: the model answers that text. Unlike the body's
    /// <c>mock_response</c> it reaches calls the gateway makes itself from a client's text (an LLM judge's verdict).
    /// </summary>
    public static bool TryResponse(string? userText, out string response)
    {
        response = "";
        if (string.IsNullOrEmpty(userText) || !userText.Contains(ResponsePrefix, StringComparison.Ordinal)) return false;
        foreach (var rawLine in userText.Split('\n'))
        {
            var line = rawLine.Trim();
            if (!line.StartsWith(ResponsePrefix, StringComparison.Ordinal)) continue;
            response = line[ResponsePrefix.Length..].Trim();
            return response.Length > 0;
        }
        return false;
    }

    /// <summary>The answer after tool results: one <c>Tool result: ...</c> line per result, each quoted up to <see cref="ToolResultQuote"/> characters.</summary>
    public static string ToolResultAnswer(IEnumerable<string> results)
    {
        var sb = new StringBuilder();
        foreach (var result in results)
        {
            if (sb.Length > 0) sb.Append('\n');
            sb.Append("Tool result: ").Append(result.Length > ToolResultQuote ? result[..ToolResultQuote] : result);
        }
        return sb.ToString();
    }

    /// <summary>The text of a message or tool-result content: a string, or the <c>text</c> of each part of an array.</summary>
    public static string TextOf(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) return "";
        var sb = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.String) { Append(sb, part.GetString()!); continue; }
            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) Append(sb, text.GetString()!);
        }
        return sb.ToString();

        static void Append(StringBuilder sb, string s)
        {
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(s);
        }
    }
}
