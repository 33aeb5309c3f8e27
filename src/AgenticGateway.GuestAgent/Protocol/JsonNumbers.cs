using System.Globalization;
using System.Text.Json;

namespace AgenticGateway.GuestAgent.Protocol;

/// <summary>Numbers the protocol types as floats (mtime, duration_ms) are always written with a fraction, as Python writes them.</summary>
internal static class JsonNumbers
{
    public static void WriteFloat(Utf8JsonWriter w, string name, double value)
    {
        var s = value.ToString("R", CultureInfo.InvariantCulture);
        if (!s.Contains('.') && !s.Contains('E')) s += ".0";
        w.WritePropertyName(name);
        w.WriteRawValue(s, skipInputValidation: true);
    }
}
