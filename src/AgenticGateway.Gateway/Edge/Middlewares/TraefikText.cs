using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The plain-text answers Traefik writes itself, byte for byte: Go's <c>http.Error</c> (text/plain, nosniff, the message
/// and a newline) and a bare status with its text (what Go's sniffing labels text/plain, no newline).
/// </summary>
internal static class TraefikText
{
    private const string PlainText = "text/plain; charset=utf-8";

    /// <summary>As Go's <c>http.Error(w, message, status)</c>.</summary>
    public static Task ErrorAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentLength = null;
        response.Headers.ContentType = PlainText;
        response.Headers.XContentTypeOptions = "nosniff";
        return response.Body.WriteAsync(Encoding.UTF8.GetBytes(message + "\n")).AsTask();
    }

    /// <summary>As Go's <c>http.Error(w, http.StatusText(status), status)</c>.</summary>
    public static Task StatusErrorAsync(HttpContext context, int status) => ErrorAsync(context, status, StatusText(status));

    /// <summary>As <c>w.WriteHeader(status); w.Write([]byte(text))</c>.</summary>
    public static Task StatusAsync(HttpContext context, int status, string? text = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentType = PlainText;
        return response.Body.WriteAsync(Encoding.UTF8.GetBytes(text ?? StatusText(status))).AsTask();
    }

    /// <summary>Go's <c>http.StatusText</c>: ASP.NET's reason phrases, where Go's wording differs in Go's.</summary>
    public static string StatusText(int status) => status switch
    {
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        499 => "Client Closed Request",
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status),
    };
}
