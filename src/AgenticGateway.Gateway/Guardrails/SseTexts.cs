using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Routing;

namespace AgenticGateway.Guardrails;

/// <summary>What to do with a stream's texts as they pass: its pieces, the end of one text, and a whole text an event repeats.</summary>
internal interface ITextPolicy
{
    /// <summary>A piece of the text of <paramref name="channel"/>; returns what goes out in its place.</summary>
    string Piece(string channel, string piece);
    /// <summary>The text of <paramref name="channel"/> ended: returns what was still held (to go out before the end).</summary>
    string End(string channel);
    /// <summary>A whole text an event repeats (Responses' done events): returns it as the client must see it.</summary>
    string Whole(string channel, string text);
}

/// <summary>
/// Walks a stream's complete SSE events in the client's format (OpenAI chat and completions chunks, Anthropic's
/// content_block_delta text, the Responses API's output_text deltas and done events), hands the texts to a policy, and
/// writes the events back with the policy's texts: unchanged events byte for byte. Text a policy held back is sent
/// before the event that ends its text (a chat choice's finish chunk, content_block_stop, output_text.done) in an event
/// of the same shape; the Responses API's sequence numbers are renumbered after such an event.
/// </summary>
internal sealed class SseTexts(LlmOperation operation)
{
    /// <summary>How the guardrails write JSON they changed: as providers do, without escaping &lt; and &gt; (a placeholder stays readable).</summary>
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private JsonObject? _chunkTemplate;
    private JsonObject? _deltaTemplate;
    private readonly HashSet<string> _open = new(StringComparer.Ordinal);
    private int _sequenceShift;

    public void Feed(ReadOnlySpan<byte> events, ITextPolicy policy, IBufferWriter<byte> output)
    {
        while (!events.IsEmpty)
        {
            var end = EventEnd(events);
            var e = events[..end];
            events = events[end..];
            Event(e, policy, output);
        }
    }

    /// <summary>The stream ended: texts still open have their held text sent.</summary>
    public void Complete(ITextPolicy policy, IBufferWriter<byte> output)
    {
        foreach (var channel in _open.ToArray()) Flush(channel, policy, output);
    }

    private static int EventEnd(ReadOnlySpan<byte> data)
    {
        var lf = data.IndexOf("\n\n"u8);
        var crlf = data.IndexOf("\r\n\r\n"u8);
        if (lf < 0 && crlf < 0) return data.Length;
        if (lf < 0) return crlf + 4;
        return crlf < 0 || lf < crlf ? lf + 2 : crlf + 4;
    }

    private void Event(ReadOnlySpan<byte> e, ITextPolicy policy, IBufferWriter<byte> output)
    {
        var (name, data) = Parse(e);
        if (data is null) { output.Write(e); return; }
        if (operation is LlmOperation.ChatCompletions or LlmOperation.Completions)
        {
            if (data.AsSpan().Trim() is "[DONE]")
            {
                Complete(policy, output);
                output.Write(e);
                return;
            }
            if (!data.Contains("\"choices\"", StringComparison.Ordinal)) { output.Write(e); return; }
            if (JsonNode.Parse(data, documentOptions: Json.JsonText.NodeOptions) is not JsonObject chunk || chunk["choices"] is not JsonArray choices) { output.Write(e); return; }
            var changed = false;
            foreach (var c in choices)
            {
                if (c is not JsonObject choice) continue;
                var channel = "c" + (choice["index"]?.ToJsonString() ?? "0");
                var (owner, property) = operation == LlmOperation.ChatCompletions ? (choice["delta"] as JsonObject, "content") : (choice, "text");
                var finished = choice["finish_reason"] is JsonValue;
                if (owner?[property] is JsonValue v && v.TryGetValue<string>(out var piece))
                {
                    _open.Add(channel);
                    _chunkTemplate ??= (JsonObject)chunk.DeepClone();
                    var sent = policy.Piece(channel, piece);
                    if (finished) { sent += policy.End(channel); _open.Remove(channel); }
                    if (sent != piece) { owner[property] = sent; changed = true; }
                }
                else if (finished && _open.Remove(channel))
                {
                    var held = policy.End(channel);
                    if (held.Length > 0 && owner is not null) { owner[property] = held; changed = true; }
                }
            }
            Write(e, name, changed ? chunk : null, output);
            return;
        }
        if (operation == LlmOperation.Messages)
        {
            if (name == "content_block_delta" && data.Contains("\"text_delta\"", StringComparison.Ordinal) && JsonNode.Parse(data, documentOptions: Json.JsonText.NodeOptions) is JsonObject delta
                && delta["delta"] is JsonObject d && d["text"] is JsonValue tv && tv.TryGetValue<string>(out var text))
            {
                var channel = "b" + (delta["index"]?.ToJsonString() ?? "0");
                _open.Add(channel);
                var sent = policy.Piece(channel, text);
                if (sent != text) d["text"] = sent;
                Write(e, name, sent != text ? delta : null, output);
                return;
            }
            if (name == "content_block_stop" && JsonNode.Parse(data, documentOptions: Json.JsonText.NodeOptions) is JsonObject stop)
            {
                var channel = "b" + (stop["index"]?.ToJsonString() ?? "0");
                if (_open.Contains(channel)) Flush(channel, policy, output);
            }
            output.Write(e);
            return;
        }
        if (operation == LlmOperation.Responses)
        {
            if (!data.Contains("output_text", StringComparison.Ordinal) && !data.Contains("\"response.", StringComparison.Ordinal) && _sequenceShift == 0)
            {
                output.Write(e);
                return;
            }
            if (JsonNode.Parse(data, documentOptions: Json.JsonText.NodeOptions) is not JsonObject evt) { output.Write(e); return; }
            // A non-string type throws InvalidOperationException: the filter ends the stream with an error.
            var type = evt["type"]?.GetValue<string>();
            var changed = false;
            if (type == "response.output_text.delta" && evt["delta"] is JsonValue dv && dv.TryGetValue<string>(out var piece))
            {
                var channel = ResponsesChannel(evt);
                _open.Add(channel);
                _deltaTemplate ??= (JsonObject)evt.DeepClone();
                var sent = policy.Piece(channel, piece);
                if (sent != piece) { evt["delta"] = sent; changed = true; }
            }
            else if (type == "response.output_text.done")
            {
                var channel = ResponsesChannel(evt);
                if (_open.Contains(channel)) Flush(channel, policy, output, evt["sequence_number"]);
                changed |= WholeText(evt, "text", channel, policy);
            }
            else if (type == "response.content_part.done" && evt["part"] is JsonObject part)
                changed |= WholeText(part, "text", ResponsesChannel(evt), policy);
            else if (type == "response.output_item.done" && evt["item"] is JsonObject item && item["content"] is JsonArray parts)
                changed |= PartTexts(parts, evt["output_index"]?.ToJsonString() ?? "0", policy);
            else if (type is "response.completed" or "response.incomplete" or "response.failed" && evt["response"]?["output"] is JsonArray output2)
            {
                for (var i = 0; i < output2.Count; i++)
                    if (output2[i] is JsonObject o && o["content"] is JsonArray ps) changed |= PartTexts(ps, i.ToString(System.Globalization.CultureInfo.InvariantCulture), policy);
            }
            if (_sequenceShift > 0 && evt["sequence_number"] is JsonValue seq && seq.TryGetValue<long>(out var n))
            {
                evt["sequence_number"] = n + _sequenceShift;
                changed = true;
            }
            Write(e, name, changed ? evt : null, output);
            return;
        }
        output.Write(e);
    }

    private static string ResponsesChannel(JsonObject evt) => "r" + (evt["output_index"]?.ToJsonString() ?? "0") + ":" + (evt["content_index"]?.ToJsonString() ?? "0");

    private static bool WholeText(JsonObject owner, string property, string channel, ITextPolicy policy)
    {
        if (owner[property] is not JsonValue v || !v.TryGetValue<string>(out var text)) return false;
        var shown = policy.Whole(channel, text);
        if (shown == text) return false;
        owner[property] = shown;
        return true;
    }

    private static bool PartTexts(JsonArray parts, string outputIndex, ITextPolicy policy)
    {
        var changed = false;
        for (var i = 0; i < parts.Count; i++)
            if (parts[i] is JsonObject p && p["type"]?.GetValue<string>() == "output_text")
                changed |= WholeText(p, "text", "r" + outputIndex + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), policy);
        return changed;
    }

    /// <summary>Sends the held text of a channel in an event of the stream's own shape, before whatever ends the text.</summary>
    private void Flush(string channel, ITextPolicy policy, IBufferWriter<byte> output, JsonNode? sequenceAt = null)
    {
        _open.Remove(channel);
        var held = policy.End(channel);
        if (held.Length == 0) return;
        switch (operation)
        {
            case LlmOperation.ChatCompletions or LlmOperation.Completions when _chunkTemplate is not null:
            {
                var chunk = (JsonObject)_chunkTemplate.DeepClone();
                chunk.Remove("usage");
                var index = JsonNode.Parse(channel[1..]);
                var choice = operation == LlmOperation.ChatCompletions
                    ? new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["content"] = held }, ["finish_reason"] = null }
                    : new JsonObject { ["index"] = index, ["text"] = held, ["finish_reason"] = null };
                chunk["choices"] = new JsonArray(choice);
                Write(default, null, chunk, output);
                break;
            }
            case LlmOperation.Messages:
                Write(default, "content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta",
                    ["index"] = JsonNode.Parse(channel[1..]),
                    ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = held },
                }, output);
                break;
            case LlmOperation.Responses when _deltaTemplate is not null:
            {
                var delta = (JsonObject)_deltaTemplate.DeepClone();
                var colon = channel.IndexOf(':');
                delta["output_index"] = JsonNode.Parse(channel[1..colon]);
                delta["content_index"] = JsonNode.Parse(channel[(colon + 1)..]);
                delta["delta"] = held;
                // The held text takes the number of the event it goes before; every later event moves up by one.
                if (sequenceAt is JsonValue s && s.TryGetValue<long>(out var n)) delta["sequence_number"] = n + _sequenceShift;
                _sequenceShift++;
                Write(default, "response.output_text.delta", delta, output);
                break;
            }
        }
    }

    private static (string? Name, string? Data) Parse(ReadOnlySpan<byte> e)
    {
        string? name = null;
        StringBuilder? data = null;
        var text = Encoding.UTF8.GetString(e);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (data is null) data = new StringBuilder(line[5..].TrimStart(' '));
                else data.Append('\n').Append(line[5..].TrimStart(' '));
            }
        }
        return (name, data?.ToString());
    }

    private static void Write(ReadOnlySpan<byte> original, string? name, JsonObject? changed, IBufferWriter<byte> output)
    {
        if (changed is null) { output.Write(original); return; }
        if (name is not null) output.Write(Encoding.UTF8.GetBytes("event: " + name + "\n"));
        output.Write("data: "u8);
        using (var w = new Utf8JsonWriter(output, WriterOptions)) changed.WriteTo(w);
        output.Write("\n\n"u8);
    }
}
