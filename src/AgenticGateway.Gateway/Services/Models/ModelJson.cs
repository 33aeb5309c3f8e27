using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Models;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Models;

/// <summary>
/// Models in LiteLLM's shapes: the /model/info entry (model_name, litellm_params, model_info with id and db_model) and
/// the stored row /model/new and /model/update answer with. Credentials never leave in full: api_key and the other
/// fields LiteLLM drops are left out, the remaining sensitive ones masked as LiteLLM masks them.
/// </summary>
internal static class ModelJson
{
    /// <summary>One /model/info entry; <paramref name="stored"/> is the database row of a stored deployment.</summary>
    public static void WriteInfo(Utf8JsonWriter w, Deployment d, StoredModel? stored)
    {
        w.WriteStartObject();
        w.WriteString("model_name", d.GroupName);
        w.WritePropertyName("litellm_params");
        if (stored is not null) WriteParams(w, stored.LitellmParams);
        else
        {
            w.WriteStartObject();
            w.WriteString("model", $"{d.ProviderName}/{d.Options.Model}");
            w.WriteString("api_base", d.ApiBaseForDisplay);
            if (d.Options.Rpm is { } rpm) w.WriteNumber("rpm", rpm);
            if (d.Options.Tpm is { } tpm) w.WriteNumber("tpm", tpm);
            w.WriteEndObject();
        }
        w.WriteStartObject("model_info");
        var written = new HashSet<string>(StringComparer.Ordinal)
        {
            "id", "db_model", "litellm_provider", "input_cost_per_token", "output_cost_per_token", "max_input_tokens", "max_output_tokens",
        };
        w.WriteString("id", d.Id);
        w.WriteBoolean("db_model", stored is not null);
        w.WriteString("litellm_provider", d.ProviderName);
        WritePrice(w, d.Price, written);
        if (d.Options.MaxInputTokens is { } max) w.WriteNumber("max_input_tokens", max); else w.WriteNull("max_input_tokens");
        if (d.Options.MaxOutputTokens is { } maxOut) w.WriteNumber("max_output_tokens", maxOut); else w.WriteNull("max_output_tokens");
        if (stored is not null)
        {
            WriteRowTimes(w, stored, written);
            using var info = JsonDocument.Parse(stored.ModelInfo);
            foreach (var p in info.RootElement.EnumerateObject().Where(p => written.Add(p.Name))) p.WriteTo(w);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>A stored row as LiteLLM's LiteLLM_ProxyModelTable (what /model/new and /model/update return), credentials masked.</summary>
    public static void WriteRow(Utf8JsonWriter w, StoredModel m)
    {
        w.WriteStartObject();
        w.WriteString("model_id", m.ModelId);
        w.WriteString("model_name", m.ModelName);
        w.WritePropertyName("litellm_params");
        WriteParams(w, m.LitellmParams);
        w.WritePropertyName("model_info");
        w.WriteRawValue(m.ModelInfo);
        w.WriteString("created_at", m.CreatedAt);
        w.WriteString("created_by", m.CreatedBy);
        w.WriteString("updated_at", m.UpdatedAt);
        w.WriteString("updated_by", m.UpdatedBy);
        w.WriteEndObject();
    }

    /// <summary>The row with masked credentials, as JSON text (for the audit log).</summary>
    public static string RowText(StoredModel m)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) WriteRow(w, m);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>litellm_params without api_key and the other omitted credentials; sensitive values masked, environment references shown as they are.</summary>
    private static void WriteParams(Utf8JsonWriter w, string litellmParams)
    {
        using var doc = JsonDocument.Parse(litellmParams);
        w.WriteStartObject();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (SecretFields.Omitted.Contains(p.Name)) continue;
            w.WritePropertyName(p.Name);
            WriteMasked(w, p.Value, SecretFields.IsSensitive(p.Name));
        }
        w.WriteEndObject();
    }

    private static void WriteMasked(Utf8JsonWriter w, JsonElement value, bool sensitive)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in value.EnumerateObject())
                {
                    w.WritePropertyName(p.Name);
                    WriteMasked(w, p.Value, SecretFields.IsSensitive(p.Name));
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in value.EnumerateArray()) WriteMasked(w, item, sensitive);
                w.WriteEndArray();
                break;
            case JsonValueKind.String when sensitive:
                var text = value.GetString()!;
                w.WriteStringValue(text.StartsWith(SecretFields.EnvironmentReference, StringComparison.Ordinal) ? text : SecretFields.Mask(text));
                break;
            default:
                value.WriteTo(w);
                break;
        }
    }

    private static void WriteRowTimes(Utf8JsonWriter w, StoredModel m, HashSet<string> written)
    {
        w.WriteString("created_at", m.CreatedAt);
        w.WriteString("created_by", m.CreatedBy);
        w.WriteString("updated_at", m.UpdatedAt);
        w.WriteString("updated_by", m.UpdatedBy);
        written.UnionWith(["created_at", "created_by", "updated_at", "updated_by"]);
    }

    public static void WritePrice(Utf8JsonWriter w, Pricing.ModelPrice? price, HashSet<string>? written = null)
    {
        if (price is null)
        {
            w.WriteNull("input_cost_per_token");
            w.WriteNull("output_cost_per_token");
            return;
        }
        w.WriteNumber("input_cost_per_token", price.InputPerToken);
        w.WriteNumber("output_cost_per_token", price.OutputPerToken);
        if (price.CachedInputPerToken is { } cached) { w.WriteNumber("cache_read_input_token_cost", cached); written?.Add("cache_read_input_token_cost"); }
        if (price.ReasoningPerToken is { } reasoning) { w.WriteNumber("output_cost_per_reasoning_token", reasoning); written?.Add("output_cost_per_reasoning_token"); }
        if (price.PerRequest != 0) { w.WriteNumber("input_cost_per_request", price.PerRequest); written?.Add("input_cost_per_request"); }
        if (price.PerQuery != 0) { w.WriteNumber("input_cost_per_query", price.PerQuery); written?.Add("input_cost_per_query"); }
    }
}
