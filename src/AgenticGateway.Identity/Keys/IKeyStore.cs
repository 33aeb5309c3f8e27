namespace AgenticGateway.Keys;

/// <summary>
/// Where virtual keys live. SQLite by default; other backends implement the same contract. A store prepares its
/// schema itself on first use.
/// </summary>
internal interface IKeyStore
{
    Task<VirtualKey?> FindAsync(string token, CancellationToken cancellationToken);
    Task<VirtualKey?> FindByAliasAsync(string alias, CancellationToken cancellationToken);
    Task InsertAsync(VirtualKey key, CancellationToken cancellationToken);
    Task<bool> UpdateAsync(VirtualKey key, CancellationToken cancellationToken);
    /// <summary>Replaces a key's token (rotation); false when the old token is unknown.</summary>
    Task<bool> ReplaceTokenAsync(string oldToken, VirtualKey renewed, CancellationToken cancellationToken);
    Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken);
    Task<(IReadOnlyList<VirtualKey> Keys, int Total)> ListAsync(KeyQuery query, CancellationToken cancellationToken);
}

/// <summary>Filters and paging for listing keys.</summary>
internal sealed record KeyQuery(string? UserId = null, string? TeamId = null, string? KeyAlias = null, int Page = 1, int PageSize = 100, bool BySpend = false)
{
    /// <summary>LiteLLM's /key/list sort_order=desc with sort_by=created_at: the newest keys first (the admin UI's order).</summary>
    public bool NewestFirst { get; init; }
}
