using System.Text.Json;

namespace AgenticGateway.Json;

/// <summary>
/// Typed reads of request JSON that never throw. <see cref="JsonElement"/>'s own TryGet methods throw on a value of
/// another kind (<c>"memory_mb": false</c>), and a number may be too large for the type it becomes (<c>1e308</c>
/// seconds is no TimeSpan): here either is just <c>false</c>, for the caller to answer with a 400 naming the field.
/// </summary>
internal static class JsonValues
{
    public static bool TryInt32(JsonElement value, out int result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out result);
    }

    public static bool TryInt64(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }

    /// <summary>A number of seconds from <paramref name="minSeconds"/> to <paramref name="max"/>, as a TimeSpan.</summary>
    public static bool TrySeconds(JsonElement value, double minSeconds, TimeSpan max, out TimeSpan result)
    {
        result = default;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || !double.IsFinite(seconds)
            || seconds < minSeconds || seconds > max.TotalSeconds)
            return false;
        result = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
