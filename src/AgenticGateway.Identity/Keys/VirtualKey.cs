using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Keys;

/// <summary>
/// A virtual key as stored: never the key itself, only its SHA-256 (<see cref="Token"/>, LiteLLM's name for it)
/// and a masked form for display. Field names follow LiteLLM's management API.
/// </summary>
internal sealed record VirtualKey : ILimitHolder
{
    public required string Token { get; init; }
    public required string KeyName { get; init; }
    public string? KeyAlias { get; init; }
    public string? UserId { get; init; }
    public string? TeamId { get; init; }
    /// <summary>Allowed model names: exact names, aliases, "*" or prefix wildcards such as "openai/*". Empty: all.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    /// <summary>LiteLLM's key aliases: a model name this key may ask for, and the model it stands for.</summary>
    public IReadOnlyDictionary<string, string> Aliases { get; init; } = EmptyAliases.Instance;
    public LimitSettings Limits { get; init; } = LimitSettings.None;
    public decimal Spend { get; init; }
    /// <summary>Free-form JSON object, kept as sent.</summary>
    public string Metadata { get; init; } = "{}";
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>LiteLLM's object_permission: the MCP servers and tools this key may use; null: the key sets none (its team's apply).</summary>
    public ObjectPermission? ObjectPermission { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public bool Blocked { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    string ILimitHolder.Scope => "key";
    string ILimitHolder.Id => Token;

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } e && e <= now;

    /// <summary>Whether this key may use a model, by the name the client asked for or the group it resolved to.</summary>
    public bool Allows(string requested, string group) => ModelAccess.Allows(Models, requested, group);

    /// <summary>The model an alias of this key (LiteLLM's key aliases) or of its team stands for, or null.</summary>
    public string? AliasTarget(string requested, Team? team) =>
        Aliases.TryGetValue(requested, out var own) ? own : team?.ModelAliases.TryGetValue(requested, out var shared) == true ? shared : null;

    /// <summary>A new secret key: "sk-" and 32 URL-safe characters (192 random bits).</summary>
    public static string NewSecret() => "sk-" + Base64Url(RandomNumberGenerator.GetBytes(24));

    /// <summary>A secret ("sk-...") is hashed; anything else is taken to be a token (the hash, hex) already.</summary>
    public static string TokenOf(string keyOrToken) =>
        keyOrToken.StartsWith("sk-", StringComparison.Ordinal) ? HashOf(keyOrToken) : keyOrToken.ToLowerInvariant();

    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The display form LiteLLM shows: the first and last characters only.</summary>
    public static string Mask(string key) => key.Length <= 8 ? "sk-..." : $"{key[..3]}...{key[^4..]}";

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Model access lists: exact names, groups, "*" (or LiteLLM's "all-proxy-models") and prefix wildcards. Empty allows all.</summary>
internal static class ModelAccess
{
    public static bool Allows(IReadOnlyList<string> models, string requested, string group) => Allows(models, requested, group, []);

    /// <param name="accessGroups">The access groups (LiteLLM's model_info.access_groups) the group's deployments belong to: listing one allows the group.</param>
    public static bool Allows(IReadOnlyList<string> models, string requested, string group, IReadOnlyList<string> accessGroups)
    {
        if (models.Count == 0) return true;
        foreach (var m in models)
        {
            if (m is "*" or "all-proxy-models" || m == requested || m == group) return true;
            for (var i = 0; i < accessGroups.Count; i++) if (accessGroups[i] == m) return true;
            if (m.EndsWith('*') && (requested.StartsWith(m[..^1], StringComparison.Ordinal) || group.StartsWith(m[..^1], StringComparison.Ordinal))) return true;
        }
        return false;
    }
}
