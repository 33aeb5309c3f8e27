using AgenticGateway.Keys;

namespace AgenticGateway.Limits;

internal static class LimitHolders
{
    /// <summary>How a key, user or team is named in a refusal: a key by its alias (never its token), else its name.</summary>
    public static string Display(ILimitHolder h) => h switch
    {
        VirtualKey k => k.KeyAlias ?? k.KeyName,
        TeamMembership m => $"{m.UserId} in team {m.TeamId}",
        OrganizationMember m => $"{m.UserId} in organization {m.OrganizationId}",
        _ => h.Id,
    };

    /// <summary>Whose limit it is, for messages: "key ci-bot", "team member ann in team research", "the global proxy budget".</summary>
    public static string Describe(ILimitHolder h) => h switch
    {
        ProxyBudget => $"the gateway's global budget ({ProxyBudget.UserId})",
        TeamMembership => $"team member {Display(h)}",
        OrganizationMember => $"organization member {Display(h)}",
        _ => $"{h.Scope} {Display(h)}",
    };

    /// <summary>A failure of the shared store (Redis): counting falls back to this node, or refuses, by configuration.</summary>
    public static bool IsRedisFailure(Exception ex) => ex is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException;
}

/// <summary>A 429 from a rate limit, with which owner's limit refused (key, user or team) and which limit (rpm, tpm, tpd, parallel) for metrics.</summary>
internal sealed record RateLimitRefusal(int Status, string Message, string Type, string Code, string Scope, string Limit) : OpenAi.ApiError(Status, Message, Type, Code);
