using AgenticGateway.Keys;

namespace AgenticGateway.Limits;

internal static class LimitHolders
{
    /// <summary>How a key, user or team is named in a refusal: a key by its alias (never its token), else its name.</summary>
    public static string Display(ILimitHolder h) => h is VirtualKey k ? (k.KeyAlias ?? k.KeyName) : h.Id;

    /// <summary>A failure of the shared store (Redis): counting falls back to this node, or refuses, by configuration.</summary>
    public static bool IsRedisFailure(Exception ex) => ex is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException;
}

/// <summary>A 429 from a rate limit, with which owner's limit refused (key, user or team) and which limit (rpm, tpm, tpd, parallel) for metrics.</summary>
internal sealed record RateLimitRefusal(int Status, string Message, string Type, string Code, string Scope, string Limit) : OpenAi.ApiError(Status, Message, Type, Code);
