using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Services.Containers;

/// <summary>
/// A validated POST /v1/containers body (openai-node <c>ContainerCreateParams</c>): name, expires_after (idle minutes,
/// anchored at last activity), memory_limit and network_policy. file_ids and skills name objects of OpenAI's Files and
/// Skills APIs, which this gateway does not have: a non-empty list is refused rather than silently dropped.
/// </summary>
internal sealed record ContainerRequest(string Name, int Minutes, string? MemoryLimit, ImmutableArray<string> AllowedDomains)
{
    /// <summary>OpenAI's default idle expiry of a container.</summary>
    public const int DefaultMinutes = 20;
    private const int MaxNameChars = 256;

    /// <summary>OpenAI's memory tiers, in MiB.</summary>
    public static readonly ImmutableDictionary<string, int> MemoryTiers = new Dictionary<string, int>
    {
        ["1g"] = 1024, ["4g"] = 4096, ["16g"] = 16384, ["64g"] = 65536,
    }.ToImmutableDictionary();

    /// <param name="maxMinutes">The longest idle expiry the sandboxes allow (sandboxes.max.timeout).</param>
    public static ApiError? TryRead(JsonElement body, int maxMinutes, out ContainerRequest? request)
    {
        request = null;
        string? name = null, memory = null;
        var minutes = Math.Min(DefaultMinutes, maxMinutes);
        var domains = ImmutableArray<string>.Empty;
        foreach (var p in body.EnumerateObject())
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "name":
                    if (v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 and <= MaxNameChars } n)
                        return ApiError.BadRequest($"name must be a non-empty string of at most {MaxNameChars} characters.", "name");
                    name = n;
                    break;
                case "expires_after":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (ExpiresAfter(v, maxMinutes, out minutes) is { } expiresError) return expiresError;
                    break;
                case "memory_limit":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String || !MemoryTiers.ContainsKey(v.GetString()!))
                        return ApiError.BadRequest("memory_limit must be one of \"1g\", \"4g\", \"16g\", \"64g\".", "memory_limit");
                    memory = v.GetString();
                    break;
                case "network_policy":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (NetworkPolicy(v, out domains) is { } networkError) return networkError;
                    break;
                case "file_ids":
                    if (v.ValueKind is JsonValueKind.Null || v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0) break;
                    return ApiError.BadRequest("file_ids: this gateway has no Files API to copy files from; create the container, then upload each file with POST /v1/containers/{container_id}/files (multipart, field \"file\").", "file_ids");
                case "skills":
                    if (v.ValueKind is JsonValueKind.Null || v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0) break;
                    return ApiError.BadRequest("skills are not supported by this gateway's containers.", "skills");
                default:
                    return ApiError.BadRequest($"Unrecognized request argument supplied: {p.Name}", p.Name);
            }
        }
        if (name is null) return ApiError.BadRequest("Missing required parameter: 'name'.", "name");
        request = new ContainerRequest(name, minutes, memory, domains);
        return null;
    }

    private static ApiError? ExpiresAfter(JsonElement v, int maxMinutes, out int minutes)
    {
        minutes = 0;
        if (v.ValueKind != JsonValueKind.Object) return ApiError.BadRequest("expires_after must be an object {anchor, minutes}.", "expires_after");
        var anchored = false;
        foreach (var p in v.EnumerateObject())
        {
            switch (p.Name)
            {
                case "anchor":
                    if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() != "last_active_at")
                        return ApiError.BadRequest("expires_after.anchor must be \"last_active_at\".", "expires_after.anchor");
                    anchored = true;
                    break;
                case "minutes":
                    if (!p.Value.TryGetInt32(out minutes) || minutes < 1 || minutes > maxMinutes)
                        return ApiError.BadRequest($"expires_after.minutes must be an integer between 1 and {maxMinutes}.", "expires_after.minutes");
                    break;
                default:
                    return ApiError.BadRequest($"Unrecognized request argument supplied: expires_after.{p.Name}", "expires_after." + p.Name);
            }
        }
        if (!anchored) return ApiError.BadRequest("Missing required parameter: 'expires_after.anchor'.", "expires_after.anchor");
        if (minutes == 0) return ApiError.BadRequest("Missing required parameter: 'expires_after.minutes'.", "expires_after.minutes");
        return null;
    }

    private static ApiError? NetworkPolicy(JsonElement v, out ImmutableArray<string> domains)
    {
        domains = [];
        if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            return ApiError.BadRequest("network_policy must be {\"type\": \"disabled\"} or {\"type\": \"allowlist\", \"allowed_domains\": [...]}.", "network_policy");
        foreach (var p in v.EnumerateObject())
            if (p.Name is not ("type" or "allowed_domains"))
                return ApiError.BadRequest($"Unrecognized request argument supplied: network_policy.{p.Name}", "network_policy." + p.Name);
        switch (type.GetString())
        {
            case "disabled":
                if (v.TryGetProperty("allowed_domains", out var extra) && extra.ValueKind != JsonValueKind.Null)
                    return ApiError.BadRequest("network_policy.allowed_domains only applies with type \"allowlist\".", "network_policy.allowed_domains");
                return null;
            case "allowlist":
                if (!v.TryGetProperty("allowed_domains", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0
                    || list.EnumerateArray().Any(d => d.ValueKind != JsonValueKind.String))
                    return ApiError.BadRequest("network_policy.allowed_domains must be a non-empty list of domain names.", "network_policy.allowed_domains");
                // Each name is checked against the gateway's egress ceiling where the sandbox spec is built.
                domains = [.. list.EnumerateArray().Select(d => d.GetString()!)];
                return null;
            default:
                return ApiError.BadRequest("network_policy.type must be \"disabled\" or \"allowlist\".", "network_policy.type");
        }
    }
}
