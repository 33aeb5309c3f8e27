using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Ui;

/// <summary>
/// The effective configuration as JSON, for the admin UI: every option the gateway runs with, defaults included, walked
/// from the option records themselves so a new option shows up without code here. Every <see cref="Secret"/> is written
/// as "***" (or null when unset); so are URL credentials, webhook paths, header values that carry credentials, and any string option
/// whose name says it is a secret.
/// </summary>
internal static class ConfigView
{
    public const string Mask = "***";
    private const int MaxDepth = 12;
    private static readonly string[] SecretNames = ["secret", "password", "token", "api_key", "apikey", "credential", "authorization", "cookie"];

    public static void Write(Utf8JsonWriter w, GatewayOptions options) => WriteValue(w, options, null, 0);

    private static void WriteValue(Utf8JsonWriter w, object? value, string? name, int depth)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); return;
            case Secret s: if (s.IsSet) w.WriteStringValue(Mask); else w.WriteNullValue(); return;
            case string text: w.WriteStringValue(name is not null && LooksSecret(name) ? Mask : text); return;
            case bool b: w.WriteBooleanValue(b); return;
            case int or long or short or byte or uint or ulong: w.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture)); return;
            case double d: if (double.IsFinite(d)) w.WriteNumberValue(d); else w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); return;
            case float f: w.WriteNumberValue(f); return;
            case decimal m: w.WriteNumberValue(m); return;
            case TimeSpan t: w.WriteStringValue(Duration(t)); return;
            case DateTimeOffset dto: w.WriteStringValue(dto); return;
            // A webhook's path is its credential (Slack, Teams): only where it goes is shown.
            case Uri uri when name is not null && name.Contains("webhook", StringComparison.Ordinal) && uri.IsAbsoluteUri:
                w.WriteStringValue(uri.GetLeftPart(UriPartial.Authority).Replace(uri.UserInfo + "@", "", StringComparison.Ordinal) + "/" + Mask); return;
            case Uri uri: w.WriteStringValue(WithoutCredentials(uri)); return;
            case Enum e: w.WriteStringValue(e.ToString()); return;
        }
        var type = value.GetType();
        if (depth >= MaxDepth) { w.WriteStringValue(type.Name); return; }
        if (IsDefaultImmutableArray(value, type)) { w.WriteStartArray(); w.WriteEndArray(); return; }
        if (value is IEnumerable items)
        {
            if (PairsOf(items) is { } pairs)
            {
                w.WriteStartObject();
                foreach (var (key, item) in pairs)
                {
                    w.WritePropertyName(key);
                    WriteValue(w, item, key, depth + 1);
                }
                w.WriteEndObject();
                return;
            }
            w.WriteStartArray();
            foreach (var item in items) WriteValue(w, item, name, depth + 1);
            w.WriteEndArray();
            return;
        }
        w.WriteStartObject();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0) continue;
            var snake = SnakeCase(p.Name);
            w.WritePropertyName(snake);
            WriteValue(w, p.GetValue(value), snake, depth + 1);
        }
        w.WriteEndObject();
    }

    /// <summary>Dictionaries and lists of key-value pairs (headers, pools, fallbacks) become JSON objects.</summary>
    private static List<(string Key, object? Value)>? PairsOf(IEnumerable items)
    {
        var type = items.GetType();
        var element = type.GetInterfaces().Append(type)
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            .Select(i => i.GetGenericArguments()[0])
            .FirstOrDefault(e => e.IsGenericType && e.GetGenericTypeDefinition() == typeof(KeyValuePair<,>));
        if (element is null) return null;
        var keyProperty = element.GetProperty("Key")!;
        var valueProperty = element.GetProperty("Value")!;
        var pairs = new List<(string, object?)>();
        foreach (var pair in items) pairs.Add((Convert.ToString(keyProperty.GetValue(pair), CultureInfo.InvariantCulture) ?? "", valueProperty.GetValue(pair)));
        return pairs;
    }

    private static bool IsDefaultImmutableArray(object value, Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(System.Collections.Immutable.ImmutableArray<>)
        && type.GetProperty("IsDefault")!.GetValue(value) is true;

    internal static bool LooksSecret(string name)
    {
        var n = name.Replace("-", "_", StringComparison.Ordinal).ToLowerInvariant();
        return SecretNames.Any(s => n.Contains(s, StringComparison.Ordinal)) || n is "key" or "x_api_key" or "api_key";
    }

    private static string WithoutCredentials(Uri uri) =>
        uri.IsAbsoluteUri && uri.UserInfo.Length > 0
            ? uri.GetComponents(UriComponents.Scheme, UriFormat.UriEscaped) + "://" + Mask + "@" + uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.UriEscaped)
            : uri.ToString();

    private static string Duration(TimeSpan t) =>
        t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0.###}ms" : $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s";

    private static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])))) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
