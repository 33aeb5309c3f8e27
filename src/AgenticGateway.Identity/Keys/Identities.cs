namespace AgenticGateway.Keys;

/// <summary>A budget and rate limits, as keys, users and teams each carry them (LiteLLM's field names in the API).</summary>
internal sealed record LimitSettings
{
    public static readonly LimitSettings None = new();

    public decimal? MaxBudget { get; init; }
    /// <summary>Budget reset period ("30d", "1mo"); none: the budget never resets.</summary>
    public string? BudgetDuration { get; init; }
    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }
    /// <summary>Tokens per day (ours; LiteLLM has no such limit).</summary>
    public long? TpdLimit { get; init; }
    public int? MaxParallelRequests { get; init; }
}

/// <summary>What keys, users and teams have in common: a budget, rate limits and model access.</summary>
internal interface ILimitHolder
{
    /// <summary>"key", "user" or "team": names the limit in errors and counters.</summary>
    string Scope { get; }
    /// <summary>The key's token, the user id or the team id.</summary>
    string Id { get; }
    IReadOnlyList<string> Models { get; }
    LimitSettings Limits { get; }
    decimal Spend { get; }
    DateTimeOffset CreatedAt { get; }
}

/// <summary>A team (LiteLLM's /team/* field names); its limits bind every key of the team.</summary>
internal sealed record Team : ILimitHolder
{
    public required string TeamId { get; init; }
    public string? TeamAlias { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public LimitSettings Limits { get; init; } = LimitSettings.None;
    public decimal Spend { get; init; }
    public IReadOnlyList<TeamMember> Members { get; init; } = [];
    public string Metadata { get; init; } = "{}";
    public bool Blocked { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    string ILimitHolder.Scope => "team";
    string ILimitHolder.Id => TeamId;
}

/// <summary>LiteLLM's members_with_roles entry.</summary>
internal sealed record TeamMember(string? UserId, string? UserEmail, string Role);

/// <summary>An internal user (LiteLLM's /user/* field names); its limits bind every key it owns.</summary>
internal sealed record User : ILimitHolder
{
    public required string UserId { get; init; }
    public string? UserEmail { get; init; }
    public string? UserRole { get; init; }
    public IReadOnlyList<string> Teams { get; init; } = [];
    public IReadOnlyList<string> Models { get; init; } = [];
    public LimitSettings Limits { get; init; } = LimitSettings.None;
    public decimal Spend { get; init; }
    public string Metadata { get; init; } = "{}";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    string ILimitHolder.Scope => "user";
    string ILimitHolder.Id => UserId;
}
