namespace AgenticGateway.Responses;

/// <summary>
/// One Responses API object kept for <c>previous_response_id</c>, retrieve, delete and input_items (OpenAI's
/// <c>store: true</c>). It belongs to <see cref="Owner"/> alone: every read and delete is scoped to it, and after
/// <see cref="ExpiresAt"/> it is gone for every read (the purge removes the row later).
/// </summary>
/// <param name="InputItemsJson">A JSON array: this request's input items, with their ids.</param>
/// <param name="ResponseJson">The response object as the client sees it (its output items included).</param>
internal sealed record StoredResponse(string Id, string Owner, string? TeamId, string Model, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string? PreviousResponseId,
    string InputItemsJson, string ResponseJson);
