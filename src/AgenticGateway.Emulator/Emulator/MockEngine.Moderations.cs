using System.Buffers;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// OpenAI's <c>POST /v1/moderations</c> (the shape of openai-python's <c>ModerationCreateResponse</c>): one result per
/// input item with the 13 categories of the omni models, their scores and the input types each applies to. The
/// classifier is a small word list per category, so tests (and the gateway's <c>openai_moderation</c> guardrail) get a
/// deterministic, explainable verdict: a text with one of a category's words is flagged for it.
/// </summary>
internal sealed partial class MockEngine
{
    /// <summary>The categories in the order OpenAI lists them, with the words that flag each (lower case, whole words).</summary>
    private static readonly (string Category, string[] Words)[] ModerationLexicon =
    [
        ("harassment", ["idiot", "moron", "loser", "stupid"]),
        ("harassment/threatening", ["i will find you", "watch your back"]),
        ("hate", ["hate all", "subhuman", "vermin"]),
        ("hate/threatening", ["exterminate them"]),
        ("illicit", ["counterfeit", "launder money", "steal a car"]),
        ("illicit/violent", ["build a bomb", "make a weapon"]),
        ("self-harm", ["hurt myself", "self-harm"]),
        ("self-harm/intent", ["want to die", "end my life"]),
        ("self-harm/instructions", ["how to self-harm"]),
        ("sexual", ["explicit sex", "porn"]),
        ("sexual/minors", ["sexual content involving minors"]),
        ("violence", ["kill", "hurt them", "murder", "attack them"]),
        ("violence/graphic", ["gore", "dismember"]),
    ];

    /// <summary>OpenAI's default when the request names no model.</summary>
    private const string DefaultModerationModel = "omni-moderation-latest";

    private async Task ModerationsAsync(IMockExchange exchange, JsonElement body, string model, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("input", out var input) || input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            await WriteErrorAsync(exchange, 400, "'input' is a required property", "invalid_request_error", null, "input", cancellationToken);
            return;
        }
        // A string, a list of strings, or (omni models) a list of parts of which the text ones are read; images count
        // as an input but flag nothing here.
        var items = new List<(string Text, bool Image)>();
        if (input.ValueKind == JsonValueKind.String) items.Add((input.GetString()!, false));
        else
        {
            foreach (var item in input.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String) items.Add((item.GetString()!, false));
                else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var type) && type.GetString() == "text"
                    && item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) items.Add((text.GetString()!, false));
                else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var imageType) && imageType.GetString() == "image_url") items.Add(("", true));
                else
                {
                    await WriteErrorAsync(exchange, 400, "Invalid value for 'input': expected a string, an array of strings or an array of text and image_url parts.", "invalid_request_error", null, "input", cancellationToken);
                    return;
                }
            }
        }
        if (items.Count == 0)
        {
            await WriteErrorAsync(exchange, 400, "'input' must not be empty", "invalid_request_error", null, "input", cancellationToken);
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(1024 * items.Count);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", "modr-" + Guid.NewGuid().ToString("N"));
            w.WriteString("model", model);
            w.WriteStartArray("results");
            foreach (var (text, image) in items) WriteModeration(w, text, image);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
    }

    private static void WriteModeration(Utf8JsonWriter w, string text, bool image)
    {
        Span<bool> flagged = stackalloc bool[ModerationLexicon.Length];
        var lower = text.ToLowerInvariant();
        var any = false;
        for (var i = 0; i < ModerationLexicon.Length; i++)
        {
            foreach (var word in ModerationLexicon[i].Words)
                if (ContainsWord(lower, word)) { flagged[i] = true; any = true; break; }
        }
        w.WriteStartObject();
        w.WriteBoolean("flagged", any);
        w.WriteStartObject("categories");
        for (var i = 0; i < ModerationLexicon.Length; i++) w.WriteBoolean(ModerationLexicon[i].Category, flagged[i]);
        w.WriteEndObject();
        w.WriteStartObject("category_scores");
        for (var i = 0; i < ModerationLexicon.Length; i++) w.WriteNumber(ModerationLexicon[i].Category, flagged[i] ? 0.9123 : 0.0001);
        w.WriteEndObject();
        // OpenAI: the text categories apply to text; the omni models score images for violence, sexual and self-harm.
        w.WriteStartObject("category_applied_input_types");
        foreach (var (category, _) in ModerationLexicon)
        {
            w.WriteStartArray(category);
            if (!image) w.WriteStringValue("text");
            else if (category is "violence" or "violence/graphic" or "sexual" or "self-harm" or "self-harm/intent" or "self-harm/instructions") w.WriteStringValue("image");
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Whether <paramref name="phrase"/> occurs in <paramref name="text"/> between word boundaries.</summary>
    private static bool ContainsWord(string text, string phrase)
    {
        for (var at = text.IndexOf(phrase, StringComparison.Ordinal); at >= 0; at = text.IndexOf(phrase, at + 1, StringComparison.Ordinal))
        {
            var before = at == 0 || !char.IsLetterOrDigit(text[at - 1]);
            var end = at + phrase.Length;
            var after = end == text.Length || !char.IsLetterOrDigit(text[end]);
            if (before && after) return true;
        }
        return false;
    }
}
