using System.Text.Json;
using AgenticGateway.Spend;
using AgenticGateway.Json;
using AgenticGateway.Keys;

namespace AgenticGateway.Services.Admin;

/// <summary>The JSON pieces the management and spend responses share.</summary>
internal static class JsonOut
{
    public static void Nullable(Utf8JsonWriter w, string name, string? value) => w.WriteStringOrNull(name, value);

    public static void Nullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    public static void Strings(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    /// <summary>A map of names (key aliases, team model_aliases) as a JSON object.</summary>
    public static void Map(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> map)
    {
        w.WriteStartObject(name);
        foreach (var (k, v) in map) w.WriteString(k, v);
        w.WriteEndObject();
    }

    /// <summary>A stored JSON value (metadata, audit snapshots), written as it is.</summary>
    public static void Raw(Utf8JsonWriter w, string name, string json)
    {
        w.WritePropertyName(name);
        w.WriteRawValue(json);
    }

    /// <summary>LiteLLM's object_permission of a key or team, null when none is set (as LiteLLM answers).</summary>
    public static void Permission(Utf8JsonWriter w, ObjectPermission? permission)
    {
        w.WritePropertyName("object_permission");
        if (permission is null) w.WriteNullValue(); else permission.Write(w);
    }

    /// <summary>A holder's spend, budget and limits, in LiteLLM's field names, with when the current budget period ends.</summary>
    public static void Limits(Utf8JsonWriter w, ILimitHolder h, DateTimeOffset now)
    {
        var l = h.Limits;
        w.WriteNumber("spend", h.Spend);
        if (l.MaxBudget is { } b) w.WriteNumber("max_budget", b); else w.WriteNull("max_budget");
        Nullable(w, "budget_duration", l.BudgetDuration);
        var (_, end) = BudgetPeriod.Current(l.BudgetDuration, h.CreatedAt, now);
        if (end is { } reset) w.WriteString("budget_reset_at", reset); else w.WriteNull("budget_reset_at");
        Nullable(w, "rpm_limit", l.RpmLimit);
        Nullable(w, "tpm_limit", l.TpmLimit);
        Nullable(w, "tpd_limit", l.TpdLimit);
        Nullable(w, "max_parallel_requests", l.MaxParallelRequests);
    }
}
