namespace AgenticGateway.Responses;

/// <summary>Stored Responses API objects, each visible to its owner until it expires.</summary>
internal interface IResponseStore
{
    /// <summary>Inserts the response, or replaces the owner's row with the same id (a status change: in_progress, then completed).</summary>
    Task SaveAsync(StoredResponse response, CancellationToken ct);

    /// <summary>The owner's response; null when it is missing, expired or another owner's.</summary>
    Task<StoredResponse?> GetAsync(string id, string owner, CancellationToken ct);

    /// <summary>
    /// The conversation that ends at <paramref name="id"/>, oldest first: <paramref name="id"/> and its
    /// previous_response_id ancestors, at most <paramref name="maxDepth"/> responses (the newest ones). Empty when
    /// <paramref name="id"/> itself is missing, expired or another owner's. The walk stops at the first ancestor that
    /// is missing, expired or another owner's, and returns only the responses after it; so when the oldest returned
    /// response still has a <see cref="StoredResponse.PreviousResponseId"/>, the history was cut there (by a gap or
    /// by <paramref name="maxDepth"/>).
    /// </summary>
    Task<IReadOnlyList<StoredResponse>> GetChainAsync(string id, string owner, int maxDepth, CancellationToken ct);

    /// <summary>Deletes the owner's response; false when it is missing, expired or another owner's.</summary>
    Task<bool> DeleteAsync(string id, string owner, CancellationToken ct);

    /// <summary>Deletes responses expired at <paramref name="now"/>, a bounded number per call; returns how many it deleted.</summary>
    Task<int> PurgeExpiredAsync(DateTimeOffset now, CancellationToken ct);
}
