using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline;

/// <summary>
/// The one way a JSON request body is read and checked before anything looks inside it: the size limit and the
/// framing (<see cref="RequestBody"/>), then the text and the syntax (<see cref="JsonText"/>).
/// </summary>
internal static class JsonBody
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>The body as a JSON object (an empty body is an empty object), or the error to send.</summary>
    public static async ValueTask<(JsonElement? Body, ApiError? Error)> ReadObjectAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        var (raw, error) = await RequestBody.ReadAsync(request, maxBytes, cancellationToken);
        if (error is not null) return (null, error);
        using (raw)
        {
            if (raw!.Length == 0) return (EmptyObject, null);
            return JsonText.ParseObject(raw.Span);
        }
    }
}
