using System.Text.Json;

namespace AgenticGateway.GuestAgent.Protocol;

/// <summary>One request line's arguments, read with the protocol's rules (missing or null is absent; wrong types are <c>invalid</c>).</summary>
internal readonly struct Request(JsonElement root)
{
    public JsonElement Root { get; } = root;

    public bool Has(string key) => Root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string key) => Root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string key, bool required = true, bool allowEmpty = false)
    {
        if (Get(key) is not { } v)
        {
            if (required) throw OpError.Invalid($"{key} is required");
            return null;
        }
        if (v.ValueKind != JsonValueKind.String || (!allowEmpty && v.GetString()!.Length == 0))
            throw OpError.Invalid($"{key} must be a non-empty string");
        var s = v.GetString()!;
        if (s.Contains('\0')) throw OpError.Invalid($"{key} contains a NUL character");
        return s;
    }

    /// <summary>A non-empty array of strings without NUL, or null when absent.</summary>
    public List<string>? StringArray(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0) throw OpError.Invalid($"{key} must be a non-empty array of strings");
        var list = new List<string>(v.GetArrayLength());
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || item.GetString()!.Contains('\0')) throw OpError.Invalid($"{key} must be an array of strings without NUL");
            list.Add(item.GetString()!);
        }
        return list;
    }

    public long? Int(string key, long? lo = null, long? hi = null)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n)) throw OpError.Invalid($"{key} must be an integer");
        if ((lo is not null && n < lo) || (hi is not null && n > hi)) throw OpError.Invalid($"{key} is out of range");
        return n;
    }

    public bool Bool(string key, bool fallback = false)
    {
        if (Get(key) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpError.Invalid($"{key} must be a boolean"),
        };
    }

    public List<KeyValuePair<string, string>> Env(string key = "env")
    {
        var list = new List<KeyValuePair<string, string>>();
        if (Get(key) is not { } v) return list;
        if (v.ValueKind != JsonValueKind.Object) throw OpError.Invalid($"{key} must be an object of strings");
        foreach (var p in v.EnumerateObject())
        {
            if (p.Name.Length == 0 || p.Name.Contains('=') || p.Name.Contains('\0') || p.Value.ValueKind != JsonValueKind.String
                || p.Value.GetString()!.Contains('\0'))
                throw OpError.Invalid($"{key}: bad variable '{p.Name}'");
            list.Add(new(p.Name, p.Value.GetString()!));
        }
        return list;
    }
}
