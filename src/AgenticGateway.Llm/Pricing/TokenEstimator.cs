using System.Text.Json;

namespace AgenticGateway.Pricing;

/// <summary>
/// Token counts estimated without a tokenizer, leaning high, for reserving budget before a request runs.
/// </summary>
/// <remarks>
/// Heuristic: an ASCII character is a quarter token (the usual ~4 characters per English token) and any other
/// character a whole token (Chinese, Japanese, Korean and most non-Latin scripts come close to one token per
/// character), rounded up over the whole request. A chat message adds <see cref="MessageOverhead"/> tokens for its
/// role and framing, and a conversation <see cref="ReplyPriming"/> more, as in OpenAI's counting guide. An image counts
/// <see cref="ImageTokens"/> whatever its size; audio and file parts are not counted. Tool definitions, tool calls and
/// response formats count by the length of their JSON. In <c>prompt</c> and <c>input</c>, a number is a token id.
/// </remarks>
internal static class TokenEstimator
{
    /// <summary>Tokens added per chat message for its role and delimiters.</summary>
    public const int MessageOverhead = 4;

    /// <summary>Tokens added once per conversation for the start of the reply.</summary>
    public const int ReplyPriming = 3;

    /// <summary>Tokens counted per image part: a 1024x1024 image at high detail on gpt-4o (85 + 4 x 170).</summary>
    public const int ImageTokens = 765;

    /// <summary>
    /// Estimated prompt tokens of a chat completions, completions, embeddings or Responses request body (a Responses
    /// body's <c>instructions</c>, <c>input</c> items, <c>tools</c> and <c>text.format</c>). A body that is not valid
    /// JSON is estimated from its length.
    /// </summary>
    public static long EstimatePromptTokens(ReadOnlySpan<byte> requestJson)
    {
        var count = new Tally();
        var reader = new Utf8JsonReader(requestJson);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return Whole(requestJson);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("messages"u8)) Messages(ref reader, requestJson, ref count);
                else if (reader.ValueTextEquals("prompt"u8) || reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    Inputs(ref reader, requestJson, ref count);
                }
                else if (reader.ValueTextEquals("instructions"u8) || reader.ValueTextEquals("system"u8))
                {
                    reader.Read();
                    Content(ref reader, ref count);
                }
                else if (reader.ValueTextEquals("tools"u8) || reader.ValueTextEquals("functions"u8) || reader.ValueTextEquals("response_format"u8)
                         || reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    Raw(ref reader, requestJson, ref count);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return Math.Max(count.Tokens, Whole(requestJson));
        }
        return count.Tokens;
    }

    /// <summary>Estimated tokens of generated text, by the same heuristic (no message overhead).</summary>
    public static long CountTextTokens(ReadOnlySpan<char> text)
    {
        long ascii = 0, other = 0;
        while (!text.IsEmpty)
        {
            var i = text.IndexOfAnyExceptInRange('\0', '\x7f');
            if (i < 0) { ascii += text.Length; break; }
            ascii += i;
            // A surrogate pair is one character: count its high half only.
            if (!char.IsLowSurrogate(text[i])) other++;
            text = text[(i + 1)..];
        }
        return Tally.Round(ascii, other);
    }

    private static long Whole(ReadOnlySpan<byte> json)
    {
        var t = new Tally();
        t.Utf8(json);
        return t.Tokens;
    }

    private static void Messages(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref Tally count)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }
        var any = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            any = true;
            if (reader.TokenType == JsonTokenType.StartObject) Message(ref reader, json, ref count);
            else reader.Skip();
        }
        if (any) count.Fixed += ReplyPriming;
    }

    /// <summary>A message object, the reader on its start.</summary>
    private static void Message(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref Tally count)
    {
        count.Fixed += MessageOverhead;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("reasoning_content"u8)
                || reader.ValueTextEquals("tool_call_id"u8)
                // Responses input items: a function call's arguments and output, a reasoning item's summary, code run by a hosted tool.
                || reader.ValueTextEquals("arguments"u8) || reader.ValueTextEquals("output"u8) || reader.ValueTextEquals("summary"u8) || reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                Content(ref reader, ref count);
            }
            else if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                Content(ref reader, ref count);
                count.Fixed += 1;
            }
            else if (reader.ValueTextEquals("tool_calls"u8) || reader.ValueTextEquals("function_call"u8))
            {
                reader.Read();
                Raw(ref reader, json, ref count);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Message content: a string, or an array of parts (text, image_url, ...), the reader on its first token.</summary>
    private static void Content(ref Utf8JsonReader reader, ref Tally count)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                count.Utf8(reader.ValueSpan);
                break;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.String) count.Utf8(reader.ValueSpan);
                    else if (reader.TokenType == JsonTokenType.StartObject) Part(ref reader, ref count);
                    else reader.Skip();
                }
                break;
            case JsonTokenType.StartObject:
                Part(ref reader, ref count);
                break;
            default:
                reader.Skip();
                break;
        }
    }

    /// <summary>A content part object, the reader on its start.</summary>
    private static void Part(ref Utf8JsonReader reader, ref Tally count)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("refusal"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String) count.Utf8(reader.ValueSpan);
                else reader.Skip();
            }
            else if (reader.ValueTextEquals("image_url"u8) || reader.ValueTextEquals("image"u8))
            {
                count.Fixed += ImageTokens;
                reader.Read();
                reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>A completions prompt or embeddings input: text, token ids, arrays of either, or message objects.</summary>
    private static void Inputs(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref Tally count)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                count.Utf8(reader.ValueSpan);
                break;
            case JsonTokenType.Number:
                count.Fixed += 1;
                break;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) Inputs(ref reader, json, ref count);
                break;
            case JsonTokenType.StartObject:
                Message(ref reader, json, ref count);
                break;
            default:
                reader.Skip();
                break;
        }
    }

    /// <summary>Counts a value by the length of its JSON text, the reader on its first token.</summary>
    private static void Raw(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref Tally count)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        count.Utf8(json[start..(int)reader.BytesConsumed]);
    }

    private struct Tally
    {
        public long Ascii;
        public long Other;
        public long Fixed;

        public readonly long Tokens => Fixed + Round(Ascii, Other);

        public static long Round(long ascii, long other) => (ascii + 3) / 4 + other;

        /// <summary>Counts UTF-8 text: ASCII bytes, and one per other character (each lead byte).</summary>
        public void Utf8(ReadOnlySpan<byte> text)
        {
            while (!text.IsEmpty)
            {
                var i = text.IndexOfAnyInRange((byte)0x80, (byte)0xff);
                if (i < 0) { Ascii += text.Length; return; }
                Ascii += i;
                text = text[i..];
                // Skip the continuation bytes of this character.
                var n = 1;
                while (n < text.Length && (text[n] & 0xC0) == 0x80) n++;
                Other++;
                text = text[n..];
            }
        }
    }
}
