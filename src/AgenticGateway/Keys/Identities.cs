namespace AgenticGateway.Keys;

/// <summary>What keys, users and teams have in common: a budget, rate limits and model access.</summary>
internal interface ILimitHolder
{
    /// <summary>"key", "user" or "team": names the limit in errors and counters.</summary>
    string Scope { get; }
    /// <summary>The key's token, the user id or the team id.</summary>
    string Id { get; }
    IReadOnlyList<string> Models { get; }
    decimal? MaxBudget { get; }
    string? BudgetDuration { get; }
    long? RpmLimit { get; }
    long? TpmLimit { get; }
    long? TpdLimit { get; }
    int? MaxParallelRequests { get; }
    DateTimeOffset CreatedAt { get; }
}

/// <summary>A team (LiteLLM's /team/* field names); its limits bind every key of the team.</summary>
internal sealed record Team : ILimitHolder
{
    public required string TeamId { get; init; }
    public string? TeamAlias { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public decimal? MaxBudget { get; init; }
    public string? BudgetDuration { get; init; }
    public decimal Spend { get; init; }
    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }
    public long? TpdLimit { get; init; }
    public int? MaxParallelRequests { get; init; }
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
    public decimal? MaxBudget { get; init; }
    public string? BudgetDuration { get; init; }
    public decimal Spend { get; init; }
    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }
    public long? TpdLimit { get; init; }
    public int? MaxParallelRequests { get; init; }
    public string Metadata { get; init; } = "{}";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    string ILimitHolder.Scope => "user";
    string ILimitHolder.Id => UserId;
}
