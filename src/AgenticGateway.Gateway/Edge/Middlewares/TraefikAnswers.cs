using Microsoft.AspNetCore.WebUtilities;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The plain-text answers Traefik's middlewares write when they refuse or redirect a request. The edge speaks Traefik, not
/// OpenAI: a client behind Traefik sees "Forbidden" or "401 Unauthorized", so it sees the same here.
/// </summary>
internal static class TraefikAnswers
{
    private const string PlainText = "text/plain; charset=utf-8";

    /// <summary>Go's <c>http.Error</c>: the text and a newline, plain text, nosniff.</summary>
    public static Task ErrorAsync(HttpContext context, int status, string text)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentType = PlainText;
        response.Headers.XContentTypeOptions = "nosniff";
        return response.WriteAsync(text + "\n", context.RequestAborted);
    }

    /// <summary>Go's <c>http.Error</c> with the status's own text ("Bad Request").</summary>
    public static Task StatusErrorAsync(HttpContext context, int status) => ErrorAsync(context, status, ReasonPhrases.GetReasonPhrase(status));

    /// <summary>A status and its reason phrase as the body, no newline: what ipAllowList and the redirects write.</summary>
    public static Task StatusTextAsync(HttpContext context, int status)
    {
        var response = context.Response;
        response.StatusCode = status;
        var text = ReasonPhrases.GetReasonPhrase(status);
        if (text.Length == 0) return Task.CompletedTask;
        // Go's server sniffs a type for a body written without one; for these texts that is plain UTF-8 text.
        response.Headers.ContentType = PlainText;
        return response.WriteAsync(text, context.RequestAborted);
    }
}
