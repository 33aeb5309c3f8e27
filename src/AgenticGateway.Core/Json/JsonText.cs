using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Json;

/// <summary>
/// JSON text checked before anything looks inside it: the text (<see cref="CheckText"/>), then the syntax. What passes
/// can be read with <see cref="JsonElement"/>'s string accessors without an exception; a failure is a 400.
/// </summary>
internal static class JsonText
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 };

    /// <summary>
    /// For <c>JsonNode.Parse</c> of JSON a client or a model wrote: a name given twice is a parse error (a
    /// <see cref="JsonException"/>, so the caller's 400), where by default it parses and then throws an
    /// ArgumentException the first time the object is read.
    /// </summary>
    public static readonly JsonDocumentOptions NodeOptions = new() { MaxDepth = 128, AllowDuplicateProperties = false };

    /// <summary>Checks and parses a JSON object; the element owns a copy of the data.</summary>
    public static (JsonElement? Body, ApiError? Error) ParseObject(ReadOnlySpan<byte> json)
    {
        if (CheckText(json) is { } textError) return (null, textError);
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            var body = JsonElement.ParseValue(ref reader);
            _ = reader.Read(); // throws when anything but whitespace follows the value
            if (body.ValueKind != JsonValueKind.Object) return (null, ApiError.BadRequest("The body must be a JSON object."));
            return (body, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiError.BadRequest($"The body is not valid JSON: {Describe(ex)}", code: "invalid_json"));
        }
    }

    /// <summary>
    /// Refuses text that parses as JSON but cannot be decoded: bytes that are not UTF-8, and <c>\u</c> escapes of
    /// UTF-16 surrogates that do not form a pair (<c>"\ud800"</c>). System.Text.Json only notices either when a string
    /// is read (and then throws InvalidOperationException); a provider may fail on them. Both scans are vectorised, so
    /// this is cheap next to parsing: no token walk and no decoding of escaped strings.
    /// </summary>
    public static ApiError? CheckText(ReadOnlySpan<byte> json)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            return ApiError.BadRequest($"The request body is not valid UTF-8 (byte {InvalidUtf8Offset(json)}).", code: "invalid_encoding");
        if (LoneSurrogateOffset(json) is { } at)
            return ApiError.BadRequest($"The request body has a \\u escape of an unpaired UTF-16 surrogate at byte {at}; it cannot be decoded.", code: "invalid_encoding");
        return null;
    }

    private static int InvalidUtf8Offset(ReadOnlySpan<byte> text)
    {
        var offset = 0;
        while (offset < text.Length && Rune.DecodeFromUtf8(text[offset..], out _, out var consumed) == OperationStatus.Done) offset += consumed;
        return offset;
    }

    /// <summary>Where a <c>\uD800</c>-<c>\uDFFF</c> escape stands without its partner, or null.</summary>
    internal static int? LoneSurrogateOffset(ReadOnlySpan<byte> json)
    {
        var start = 0;
        while (true)
        {
            var hit = json[start..].IndexOf("\\u"u8);
            if (hit < 0) return null;
            var at = start + hit;
            start = at + 2;
            // "\\u" is an escaped backslash followed by a letter u, not an escape: count the backslashes before it.
            var backslashes = 1;
            while (at - backslashes >= 0 && json[at - backslashes] == (byte)'\\') backslashes++;
            if (backslashes % 2 == 0) continue;
            var unit = HexUnit(json, at + 2);
            if (unit is < 0xD800 or > 0xDFFF) continue;
            if (unit >= 0xDC00) return at;
            if (at + 12 <= json.Length && json[at + 6] == (byte)'\\' && json[at + 7] == (byte)'u' && HexUnit(json, at + 8) is >= 0xDC00 and <= 0xDFFF)
            {
                start = at + 12;
                continue;
            }
            return at;
        }
    }

    /// <summary>The four hex digits at <paramref name="offset"/> as a number; -1 when they are not there (the parser reports that).</summary>
    private static int HexUnit(ReadOnlySpan<byte> json, int offset)
    {
        if (offset + 4 > json.Length) return -1;
        var value = 0;
        foreach (var b in json.Slice(offset, 4))
        {
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0) return -1;
            value = value * 16 + digit;
        }
        return value;
    }

    /// <summary>A JsonException's message without the .NET type path, with the position as a person counts it.</summary>
    public static string Describe(JsonException ex)
    {
        var message = ex.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        return ex.LineNumber is { } line ? $"{message.TrimEnd('.')} at line {line + 1}, byte {ex.BytePositionInLine + 1}." : message;
    }
}
