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
    /// <summary>The organization above the team (LiteLLM's organization_id): its budget and models bind the team's keys too.</summary>
    public string? OrganizationId { get; init; }
    /// <summary>LiteLLM's team model_aliases: a name the team's keys may ask for, and the model it stands for.</summary>
    public IReadOnlyDictionary<string, string> ModelAliases { get; init; } = EmptyAliases.Instance;
    /// <summary>LiteLLM's object_permission: the MCP servers and tools every key of the team (and every JWT caller mapped to it) may use at most.</summary>
    public ObjectPermission? ObjectPermission { get; init; }
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

/// <summary>An empty alias map (keys and teams without model aliases share it).</summary>
internal static class EmptyAliases
{
    public static readonly IReadOnlyDictionary<string, string> Instance = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>
/// An organization (LiteLLM's /organization/* field names): a level above teams. Its budget, rate limits and models
/// bind every key of its teams.
/// </summary>
internal sealed record Organization : ILimitHolder
{
    public required string OrganizationId { get; init; }
    public string? OrganizationAlias { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public LimitSettings Limits { get; init; } = LimitSettings.None;
    public decimal Spend { get; init; }
    public string Metadata { get; init; } = "{}";
    public string CreatedBy { get; init; } = "";
    public string UpdatedBy { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    string ILimitHolder.Scope => "organization";
    string ILimitHolder.Id => OrganizationId;
}

/// <summary>
/// A user's membership of an organization (LiteLLM's LiteLLM_OrganizationMembership), with its budget there
/// (max_budget_in_organization): what the user's keys in the organization's teams may spend there together.
/// </summary>
internal sealed record OrganizationMember(string OrganizationId, string UserId, string? UserRole, decimal? MaxBudget, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    : ILimitHolder
{
    public string Scope => "organization_member";
    /// <summary>The organization and the user, as a team membership's id is made.</summary>
    public string Id => OrganizationId + "\n" + UserId;
    public IReadOnlyList<string> Models => [];
    public LimitSettings Limits => new() { MaxBudget = MaxBudget };
    public decimal Spend => 0;
}

/// <summary>
/// A user's budget inside one team (LiteLLM's max_budget_in_team): what the user's keys of that team may spend there
/// together. It binds as a limit holder of its own, counted from the spend logs of that team and user.
/// </summary>
internal sealed record TeamMembership(string TeamId, string UserId, decimal? MaxBudgetInTeam, DateTimeOffset CreatedAt) : ILimitHolder
{
    public string Scope => "team_member";
    /// <summary>The team and the user; a newline cannot occur in either id as the API writes them, so the pair is unambiguous.</summary>
    public string Id => TeamId + "\n" + UserId;
    public IReadOnlyList<string> Models => [];
    public LimitSettings Limits => new() { MaxBudget = MaxBudgetInTeam };
    public decimal Spend => 0;
}

/// <summary>
/// LiteLLM's global proxy budget (litellm_settings.max_budget): the spend of every caller together. Its periods are
/// anchored at the Unix epoch, so every replica agrees on when one starts.
/// </summary>
internal sealed record ProxyBudget(LimitSettings Limits) : ILimitHolder
{
    /// <summary>The user LiteLLM reports the global budget as.</summary>
    public const string UserId = "litellm-proxy-budget";

    public string Scope => "proxy";
    public string Id => UserId;
    public IReadOnlyList<string> Models => [];
    public decimal Spend => 0;
    public DateTimeOffset CreatedAt => DateTimeOffset.UnixEpoch;
}
