namespace AgenticGateway.OpenAi;

/// <summary>An error to return in OpenAI's shape: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal record ApiError(int Status, string Message, string Type, string? Code = null, string? Param = null)
{
    /// <summary>Seconds for a Retry-After header, when the client should come back later.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiError BadRequest(string message, string? param = null, string? code = null) => new(400, message, "invalid_request_error", code, param);
}

/// <summary>An error whose body is the provider's own error (OpenAI- or Anthropic-shaped), passed on unchanged to clients of that format.</summary>
internal sealed record UpstreamApiError(int Status, string Message, string Type, string Code, byte[]? RawBody) : ApiError(Status, Message, Type, Code)
{
    /// <summary>The raw body is Anthropic's error shape (an Anthropic deployment answering an Anthropic-format client).</summary>
    public bool RawIsAnthropic { get; init; }
}
