namespace AgenticGateway.Keys;

/// <summary>Who is calling: the admin (master key, or anyone when auth is off) or the holder of a virtual key.</summary>
internal sealed record Caller(bool IsAdmin, KeyIdentity? Identity)
{
    public static readonly Caller Admin = new(true, null);
    public static readonly Caller Anonymous = new(false, null);

    public VirtualKey? Key => Identity?.Key;

    /// <summary>
    /// The models a JWT's scopes grant (LiteLLM's scope_mappings), by the name the client asks for; null when scopes
    /// do not limit models. Applies to admin tokens too, as in LiteLLM.
    /// </summary>
    public IReadOnlyList<string>? ModelScope { get; init; }

    /// <summary>A model must be allowed by the key, its user and its team alike (and the token's scopes): the strictest wins.</summary>
    public bool MayUse(string requested, string group) => MayUse(requested, group, []);

    /// <param name="accessGroups">The access groups of the group's deployments: a list naming one allows the group.</param>
    public bool MayUse(string requested, string group, IReadOnlyList<string> accessGroups) =>
        (ModelScope is null || ModelScope.Contains(requested, StringComparer.Ordinal))
        && (Identity is not { } id
        || (ModelAccess.Allows(id.Key.Models, requested, group, accessGroups)
            && (id.User is null || ModelAccess.Allows(id.User.Models, requested, group, accessGroups))
            && (id.Team is null || ModelAccess.Allows(id.Team.Models, requested, group, accessGroups))
            && (id.Organization is null || ModelAccess.Allows(id.Organization.Models, requested, group, accessGroups))));

    /// <summary>Whether a budget binds this caller (its key's, user's, team's, organization's, or the user's in the team or organization).</summary>
    public bool HasBudget => Identity is { } id && (id.Key.Limits.MaxBudget is not null || id.User?.Limits.MaxBudget is not null || id.Team?.Limits.MaxBudget is not null
        || id.Membership?.MaxBudgetInTeam is not null || id.Organization?.Limits.MaxBudget is not null || id.OrganizationMembership?.MaxBudget is not null);

    /// <summary>The key, then its user, team, team membership and organization: whatever carries limits for this caller.</summary>
    public IEnumerable<ILimitHolder> LimitHolders()
    {
        if (Identity is not { } id) yield break;
        yield return id.Key;
        if (id.User is not null) yield return id.User;
        if (id.Team is not null) yield return id.Team;
        if (id.Membership is { MaxBudgetInTeam: not null }) yield return id.Membership;
        if (id.Organization is not null) yield return id.Organization;
        if (id.OrganizationMembership is { MaxBudget: not null }) yield return id.OrganizationMembership;
    }
}
