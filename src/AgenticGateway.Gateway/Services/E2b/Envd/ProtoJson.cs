using System.Globalization;
using System.Text.Json;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// Reading and writing messages in protobuf's JSON mapping (protobuf.dev/programming-guides/json): a field is found
/// by its lowerCamelCase name or its proto name; 64-bit integers are strings (numbers accepted); enums are names
/// (numbers accepted); bytes are base64 (standard or URL-safe, padded or not); null is the field's default. A value
/// of the wrong type is the client's error, reported with the field's name.
/// </summary>
internal static class ProtoJson
{
    public static JsonElement? Field(JsonElement message, string camel, string? snake = null)
    {
        if (message.ValueKind != JsonValueKind.Object) return null;
        if (message.TryGetProperty(camel, out var v) && v.ValueKind != JsonValueKind.Null) return v;
        if (snake is not null && message.TryGetProperty(snake, out v) && v.ValueKind != JsonValueKind.Null) return v;
        return null;
    }

    public static JsonElement? Message(JsonElement message, string camel, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return null;
        return v.ValueKind == JsonValueKind.Object ? v : throw ConnectError.Invalid($"{camel} must be an object");
    }

    public static string? String(JsonElement message, string camel, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw ConnectError.Invalid($"{camel} must be a string");
    }

    public static bool? Bool(JsonElement message, string camel, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ConnectError.Invalid($"{camel} must be a boolean"),
        };
    }

    /// <summary>An integer field (uint32, int64, ...) within [<paramref name="min"/>, <paramref name="max"/>]: a number, or a string of one.</summary>
    public static long? Integer(JsonElement message, string camel, long min, long max, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return null;
        long n;
        var ok = v.ValueKind switch
        {
            JsonValueKind.Number => v.TryGetInt64(out n),
            JsonValueKind.String => long.TryParse(v.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n),
            _ => (n = 0) == 1,
        };
        if (!ok || n < min || n > max) throw ConnectError.Invalid($"{camel} must be an integer between {min} and {max}");
        return n;
    }

    /// <summary>An enum field: its name, or its number looked up in <paramref name="values"/>; 0 when absent.</summary>
    public static int Enum(JsonElement message, string camel, IReadOnlyDictionary<string, int> values, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return 0;
        if (v.ValueKind == JsonValueKind.String && values.TryGetValue(v.GetString()!, out var byName)) return byName;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var number) && values.Values.Contains(number)) return number;
        throw ConnectError.Invalid($"{camel} must be one of {string.Join(", ", values.Keys)}");
    }

    public static byte[]? Bytes(JsonElement message, string camel, string? snake = null)
    {
        if (Field(message, camel, snake) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String) throw ConnectError.Invalid($"{camel} must be base64 bytes");
        var s = v.GetString()!.Replace('-', '+').Replace('_', '/');
        if (s.Length % 4 != 0) s = s.PadRight(s.Length + 4 - s.Length % 4, '=');
        try { return Convert.FromBase64String(s); }
        catch (FormatException) { throw ConnectError.Invalid($"{camel} is not valid base64"); }
    }

    public static List<string> Strings(JsonElement message, string camel, int maxCount, string? snake = null)
    {
        var list = new List<string>();
        if (Field(message, camel, snake) is not { } v) return list;
        if (v.ValueKind != JsonValueKind.Array) throw ConnectError.Invalid($"{camel} must be an array of strings");
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw ConnectError.Invalid($"{camel} must be an array of strings");
            if (list.Count == maxCount) throw ConnectError.Invalid($"{camel} has more than {maxCount} items");
            list.Add(item.GetString()!);
        }
        return list;
    }

    public static Dictionary<string, string> StringMap(JsonElement message, string camel, int maxCount)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Field(message, camel) is not { } v) return map;
        if (v.ValueKind != JsonValueKind.Object) throw ConnectError.Invalid($"{camel} must be an object of strings");
        foreach (var p in v.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw ConnectError.Invalid($"{camel}.{p.Name} must be a string");
            if (map.Count == maxCount) throw ConnectError.Invalid($"{camel} has more than {maxCount} entries");
            map[p.Name] = p.Value.GetString()!;
        }
        return map;
    }

    /// <summary>A google.protobuf.Timestamp: RFC 3339 in UTC with "Z" and 0, 3, 6 or 9 fractional digits.</summary>
    public static void WriteTimestamp(Utf8JsonWriter w, string name, double unixSeconds)
    {
        var seconds = Math.Floor(unixSeconds);
        var nanos = (long)Math.Round((unixSeconds - seconds) * 1e9);
        if (nanos >= 1_000_000_000) { seconds += 1; nanos -= 1_000_000_000; }
        var time = DateTimeOffset.FromUnixTimeSeconds((long)seconds).UtcDateTime;
        var text = time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        if (nanos != 0)
        {
            var fraction = nanos.ToString("D9", CultureInfo.InvariantCulture);
            text += "." + (fraction.EndsWith("000000", StringComparison.Ordinal) ? fraction[..3] : fraction.EndsWith("000", StringComparison.Ordinal) ? fraction[..6] : fraction);
        }
        w.WriteString(name, text + "Z");
    }
}
