using System.Text.Json;

namespace AgenticGateway.Json;

/// <summary>Writes of the gateway's JSON answers that Utf8JsonWriter does not have.</summary>
internal static class JsonWriterExtensions
{
    /// <summary>The property as a string, or null (LiteLLM's answers keep absent fields as null rather than dropping them).</summary>
    public static void WriteStringOrNull(this Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }
}
