using System.Text.Json.Serialization;

namespace AgenticGateway.Services.Status;

internal sealed record ModelObject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

internal sealed record ModelList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelObject> Data);

internal sealed record ProviderHealth(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("healthy")] bool Healthy,
    [property: JsonPropertyName("latency_ms")] double? LatencyMs);

internal sealed record DeploymentHealth(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("provider")] string Provider,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("in_flight")] int InFlight,
    [property: JsonPropertyName("latency_ms")] double? LatencyMs);

internal sealed record HealthReport(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("uptime_seconds")] long UptimeSeconds,
    [property: JsonPropertyName("providers")] IReadOnlyList<ProviderHealth> Providers,
    [property: JsonPropertyName("deployments")] IReadOnlyList<DeploymentHealth> Deployments,
    [property: JsonPropertyName("config_source")] string ConfigSource)
{
    /// <summary>The shared limit store, when one is configured.</summary>
    [JsonPropertyName("redis")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StoreHealth? Redis { get; init; }

    /// <summary>The spend pipeline: logs waiting for the database.</summary>
    [JsonPropertyName("spend_queue")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SpendQueue { get; init; }
}

internal sealed record StoreHealth(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("mode")] string Mode);

internal sealed record SimpleStatus([property: JsonPropertyName("status")] string Status);

/// <summary>LiteLLM's /health/readiness details (its _get_health_readiness_details), field for field.</summary>
internal sealed record LiteLlmReadiness(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("db")] string Db,
    [property: JsonPropertyName("cache")] string? Cache,
    [property: JsonPropertyName("litellm_version")] string LitellmVersion,
    [property: JsonPropertyName("success_callbacks")] IReadOnlyList<string> SuccessCallbacks,
    [property: JsonPropertyName("use_aiohttp_transport")] bool UseAiohttpTransport,
    [property: JsonPropertyName("log_level")] string LogLevel,
    [property: JsonPropertyName("is_detailed_debug")] bool IsDetailedDebug);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelObject))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(SimpleStatus))]
[JsonSerializable(typeof(LiteLlmReadiness))]
[JsonSerializable(typeof(System.Text.Json.JsonElement))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
