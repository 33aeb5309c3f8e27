using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using AgenticGateway.Cedar;

namespace AgenticGateway.Policies;

/// <summary>Reading Cedar's JSON (entity references, values, entities) and writing the policy APIs' answers.</summary>
internal static class PolicyJson
{
    internal const int MaxSetElements = 10_000;

    private const int MaxDepth = 32;

    public static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    public static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    /// <summary>An entity reference: <c>"Type::\"id\""</c>, <c>{"type","id"}</c> or <c>{"__entity": {"type","id"}}</c>.</summary>
    public static bool TryReadUid(JsonElement e, out EntityUid uid, out string? error)
    {
        uid = default;
        error = null;
        if (e.ValueKind == JsonValueKind.String)
        {
            if (EntityUid.TryParse(e.GetString()!, out uid)) return true;
            error = $"'{e.GetString()}' is not an entity reference such as User::\"alice\"";
            return false;
        }
        if (e.ValueKind == JsonValueKind.Object)
        {
            if (e.TryGetProperty("__entity", out var inner)) return TryReadUid(inner, out uid, out error);
            if (e.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && e.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                && type.GetString() is { Length: > 0 } t)
            {
                uid = new EntityUid(t, id.GetString()!);
                return true;
            }
        }
        error = "an entity is a string such as User::\"alice\" or an object {\"type\": \"User\", \"id\": \"alice\"}";
        return false;
    }

    /// <summary>A value in Cedar's JSON format; numbers with a fraction are decimals (the dialect's reading of 10.0).</summary>
    public static bool TryReadValue(JsonElement e, int depth, out CedarValue value, out string? error)
    {
        value = default;
        error = null;
        if (depth > MaxDepth)
        {
            error = $"values nest deeper than {MaxDepth}";
            return false;
        }
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                value = CedarValue.String(e.GetString()!);
                return true;
            case JsonValueKind.True:
            case JsonValueKind.False:
                value = CedarValue.Bool(e.GetBoolean());
                return true;
            case JsonValueKind.Number:
                if (e.TryGetInt64(out var l)) value = CedarValue.Long(l);
                else if (e.TryGetDecimal(out var d)) value = CedarValue.Decimal(d);
                else
                {
                    error = $"the number {e.GetRawText()} is out of range";
                    return false;
                }
                return true;
            case JsonValueKind.Array:
                // Sets are deduplicated and compared element by element: bound their size as well as the body's.
                if (e.GetArrayLength() > MaxSetElements)
                {
                    error = $"a set has more than {MaxSetElements} elements";
                    return false;
                }
                var items = ImmutableArray.CreateBuilder<CedarValue>();
                foreach (var item in e.EnumerateArray())
                {
                    if (!TryReadValue(item, depth + 1, out var v, out error)) return false;
                    items.Add(v);
                }
                value = CedarValue.Set(items.ToImmutable());
                return true;
            case JsonValueKind.Object:
                if (e.TryGetProperty("__entity", out _))
                {
                    if (!TryReadUid(e, out var uid, out error)) return false;
                    value = CedarValue.Entity(uid);
                    return true;
                }
                if (e.TryGetProperty("__extn", out var extn)) return TryReadExtension(extn, out value, out error);
                var attributes = new List<KeyValuePair<string, CedarValue>>();
                foreach (var p in e.EnumerateObject())
                {
                    if (!TryReadValue(p.Value, depth + 1, out var v, out error))
                    {
                        error = $"{p.Name}: {error}";
                        return false;
                    }
                    attributes.Add(new(p.Name, v));
                }
                value = CedarValue.Record(new CedarRecord(attributes));
                return true;
            default:
                error = "null is not a Cedar value";
                return false;
        }
    }

    private static bool TryReadExtension(JsonElement extn, out CedarValue value, out string? error)
    {
        value = default;
        error = null;
        var fn = extn.TryGetProperty("fn", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
        var arg = extn.TryGetProperty("arg", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        if (fn == "decimal" && arg is not null && decimal.TryParse(arg, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d))
        {
            value = CedarValue.Decimal(d);
            return true;
        }
        if (fn == "ip" && arg is not null && IpValue.TryParse(arg, out var ip) && ip is not null)
        {
            value = CedarValue.Ip(ip);
            return true;
        }
        error = $"unknown extension value {extn.GetRawText()} (decimal and ip are supported)";
        return false;
    }

    /// <summary>An attributes object as a record (a missing or null one is empty).</summary>
    public static bool TryReadRecord(JsonElement? e, out CedarRecord record, out string? error)
    {
        record = CedarRecord.Empty;
        error = null;
        if (e is not { } element || element.ValueKind == JsonValueKind.Null) return true;
        if (element.ValueKind != JsonValueKind.Object)
        {
            error = "expected an object";
            return false;
        }
        if (!TryReadValue(element, 0, out var v, out error)) return false;
        if (v.Kind != CedarKind.Record)
        {
            error = "expected an object of attributes";
            return false;
        }
        record = v.AsRecord;
        return true;
    }

    public static void WriteValue(Utf8JsonWriter w, CedarValue v)
    {
        switch (v.Kind)
        {
            case CedarKind.Bool: w.WriteBooleanValue(v.AsBool); break;
            case CedarKind.Long: w.WriteNumberValue(v.AsLong); break;
            case CedarKind.Decimal: w.WriteNumberValue(v.AsDecimal); break;
            case CedarKind.String: w.WriteStringValue(v.AsString); break;
            case CedarKind.Set:
                w.WriteStartArray();
                foreach (var item in v.AsSet) WriteValue(w, item);
                w.WriteEndArray();
                break;
            case CedarKind.Record:
                w.WriteStartObject();
                foreach (var (name, item) in v.AsRecord.Attributes)
                {
                    w.WritePropertyName(name);
                    WriteValue(w, item);
                }
                w.WriteEndObject();
                break;
            default: w.WriteStringValue(v.ToString()); break;
        }
    }
}
