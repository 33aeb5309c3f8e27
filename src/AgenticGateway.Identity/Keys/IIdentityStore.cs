namespace AgenticGateway.Keys;

/// <summary>Where teams and users are kept (the gateway's database; see Storage).</summary>
internal interface IIdentityStore
{
    Task<Team?> FindTeamAsync(string teamId, CancellationToken ct);
    Task<IReadOnlyList<Team>> ListTeamsAsync(string? userId, CancellationToken ct);
    /// <param name="insert">Create it (failing if it exists) rather than update it.</param>
    Task SaveTeamAsync(Team t, bool insert, CancellationToken ct);
    /// <summary>Deletes the teams that exist; returns their ids.</summary>
    Task<IReadOnlyList<string>> DeleteTeamsAsync(IReadOnlyList<string> ids, CancellationToken ct);
    Task<User?> FindUserAsync(string userId, CancellationToken ct);
    Task<IReadOnlyList<User>> ListUsersAsync(int limit, CancellationToken ct);
    /// <param name="insert">Create it (failing if it exists) rather than update it.</param>
    Task SaveUserAsync(User u, bool insert, CancellationToken ct);
    /// <summary>Deletes the users that exist; returns their ids.</summary>
    Task<IReadOnlyList<string>> DeleteUsersAsync(IReadOnlyList<string> ids, CancellationToken ct);
    Task<User?> FindUserByEmailAsync(string email, CancellationToken ct);
    /// <summary>Sets a user's recorded spend (LiteLLM's /user/update "spend", which resets the litellm-proxy-budget user).</summary>
    Task SetUserSpendAsync(string userId, decimal spend, CancellationToken ct);

    Task<Organization?> FindOrganizationAsync(string organizationId, CancellationToken ct);
    Task<IReadOnlyList<Organization>> ListOrganizationsAsync(CancellationToken ct);
    /// <param name="insert">Create it (failing if it exists) rather than update it.</param>
    Task SaveOrganizationAsync(Organization o, bool insert, CancellationToken ct);
    /// <summary>Deletes an organization and its memberships, and detaches its teams; false when it does not exist.</summary>
    Task<bool> DeleteOrganizationAsync(string organizationId, CancellationToken ct);
    /// <summary>The memberships of an organization, or of a user (the other null).</summary>
    Task<IReadOnlyList<OrganizationMember>> ListOrganizationMembersAsync(string? organizationId, string? userId, CancellationToken ct);
    /// <summary>Adds or replaces a user's membership of an organization.</summary>
    Task SaveOrganizationMemberAsync(OrganizationMember m, CancellationToken ct);

    Task<TeamMembership?> FindTeamMembershipAsync(string teamId, string userId, CancellationToken ct);
    /// <summary>The budgeted memberships of a team, or of a user (the other null).</summary>
    Task<IReadOnlyList<TeamMembership>> ListTeamMembershipsAsync(string? teamId, string? userId, CancellationToken ct);
    /// <summary>Adds or replaces a user's budget in a team.</summary>
    Task SaveTeamMembershipAsync(TeamMembership m, CancellationToken ct);
    Task DeleteTeamMembershipAsync(string teamId, string userId, CancellationToken ct);
}
