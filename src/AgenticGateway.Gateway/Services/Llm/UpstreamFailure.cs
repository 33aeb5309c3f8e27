using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Services.Llm;

/// <summary>Why an attempt failed; decides retry, cooldown and fallback.</summary>
internal enum FailureKind
{
    RateLimited,
    ServerError,
    Timeout,
    Connection,
    /// <summary>A 2xx whose body was not what the API promises (malformed JSON, cut short).</summary>
    InvalidResponse,
    Auth,
    NotFound,
    ContextWindow,
    ContentPolicy,
    /// <summary>Any other 4xx: the request itself is wrong; trying elsewhere will not help.</summary>
    BadRequest,
    /// <summary>Every deployment of the group is cooling down.</summary>
    NoDeployment,
    /// <summary>Routing policies forbid every deployment of the group for this request: a fallback group, judged on its own, may serve it.</summary>
    PolicyDenied,
}

/// <summary>A failed attempt: its kind, the upstream status and body (kept to pass on), and any Retry-After.</summary>
internal record UpstreamFailure(FailureKind Kind, int Status, string Message, byte[]? Body = null, string? ContentType = null, TimeSpan? RetryAfter = null)
{
    /// <summary>Worth another attempt (same group) with backoff.</summary>
    public bool Retryable => Kind is FailureKind.RateLimited or FailureKind.ServerError or FailureKind.Timeout or FailureKind.Connection or FailureKind.InvalidResponse or FailureKind.Auth or FailureKind.NotFound;

    /// <summary>Counts against the deployment's health (LiteLLM cools down on 429, 401, 404, 408 and 5xx).</summary>
    public bool CountsAgainstDeployment => Kind is FailureKind.RateLimited or FailureKind.ServerError or FailureKind.Timeout or FailureKind.Connection or FailureKind.InvalidResponse or FailureKind.Auth or FailureKind.NotFound;

    /// <summary>Label for metrics: bounded set of values.</summary>
    public string ErrorClass => Kind switch
    {
        FailureKind.RateLimited => "rate_limited",
        FailureKind.ServerError => "server_error",
        FailureKind.Timeout => "timeout",
        FailureKind.Connection => "connection",
        FailureKind.InvalidResponse => "invalid_response",
        FailureKind.Auth => "auth",
        FailureKind.NotFound => "not_found",
        FailureKind.ContextWindow => "context_window",
        FailureKind.ContentPolicy => "content_policy",
        FailureKind.NoDeployment => "no_deployment",
        FailureKind.PolicyDenied => "policy_denied",
        _ => "bad_request",
    };

    public static UpstreamFailure FromResponse(int status, byte[] body, string? contentType, TimeSpan? retryAfter)
    {
        var (message, code) = ReadError(body);
        return new UpstreamFailure(Classify(status, code, message), status, message ?? $"upstream returned HTTP {status}", body, contentType, retryAfter);
    }

    /// <summary>
    /// A failure from a provider with its own error format, read by its translator. The body is kept only when
    /// <paramref name="keepBody"/> (it is already in the client's format and can be passed on as it is).
    /// </summary>
    public static UpstreamFailure FromProviderError(Providers.Translation.ProviderError error, byte[] body, bool keepBody, string? contentType, TimeSpan? retryAfter) =>
        new(Classify(error.Status, error.Code, error.Message), error.Status, error.Message, keepBody ? body : null, contentType, retryAfter)
        {
            ProviderCode = error.Code,
            BodyIsAnthropicError = keepBody && body.Length > 0,
        };

    /// <summary>The gateway's own answer for this failure (a request a provider's format cannot express), sent as it is.</summary>
    public ApiError? ClientError { get; init; }

    /// <summary>The provider's own error type or code, when a translator read one.</summary>
    public string? ProviderCode { get; init; }

    private static FailureKind Classify(int status, string? code, string? message)
    {
        return status switch
        {
            429 => FailureKind.RateLimited,
            401 or 403 => FailureKind.Auth,
            404 => FailureKind.NotFound,
            408 => FailureKind.Timeout,
            >= 500 => FailureKind.ServerError,
            _ when IsContextWindow(code, message) => FailureKind.ContextWindow,
            _ when IsContentPolicy(code, message) => FailureKind.ContentPolicy,
            _ => FailureKind.BadRequest,
        };
    }

    private static bool IsContextWindow(string? code, string? message) =>
        code is "context_length_exceeded" or "string_above_max_length"
        || (message is not null && (message.Contains("maximum context length", StringComparison.OrdinalIgnoreCase) || message.Contains("context window", StringComparison.OrdinalIgnoreCase)
            // Anthropic: "prompt is too long: 210000 tokens > 200000 maximum"; Gemini: "input token count ... exceeds the maximum"; Bedrock: "Input is too long".
            || message.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase) || message.Contains("input is too long", StringComparison.OrdinalIgnoreCase)
            || (message.Contains("token count", StringComparison.OrdinalIgnoreCase) && message.Contains("exceeds the maximum", StringComparison.OrdinalIgnoreCase))));

    private static bool IsContentPolicy(string? code, string? message) =>
        code is "content_policy_violation" or "content_filter"
        || (message is not null && message.Contains("content management policy", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads error.message and error.code from an OpenAI-style error body, tolerating anything else.</summary>
    private static (string? Message, string? Code) ReadError(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String) return (error.GetString(), null);
                if (error.ValueKind == JsonValueKind.Object)
                {
                    var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    return (message, code);
                }
            }
            return (null, null);
        }
        catch (JsonException)
        {
            var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 512)).Trim();
            return (text.Length == 0 ? null : text, null);
        }
    }

    /// <summary>Anthropic's error body, kept (only for an Anthropic deployment answering an Anthropic-format client).</summary>
    public bool BodyIsAnthropicError { get; init; }

    /// <summary>Whether the body is already an OpenAI-shaped error that can be passed on as is.</summary>
    public bool BodyIsOpenAiError
    {
        get
        {
            if (Body is null || Body.Length == 0 || BodyIsAnthropicError) return false;
            try
            {
                using var doc = JsonDocument.Parse(Body);
                return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object;
            }
            catch (JsonException) { return false; }
        }
    }
}
