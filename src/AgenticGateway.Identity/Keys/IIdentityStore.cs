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
}
