using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// <c>conversationAffinity</c>: keeps a conversation on one server of the router's service by setting
/// <see cref="EdgeRequest.AffinityKey"/> (the load balancer hashes it to a server): from the first of <c>headers</c>
/// present (default x-session-id, x-conversation-id), else from the first of <c>bodyFields</c> in a JSON body (default
/// previous_response_id, conversation [a string, or an object's id], user), read from a peek of at most
/// <c>maxBodyBytes</c> (default 64 KiB) that leaves the body unread for the service. No key found: no affinity.
/// </summary>
internal sealed class GatewayConversationAffinityMiddleware : IEdgeMiddlewareType
{
    public string Name => "conversationAffinity";
    private const int DefaultPeek = 64 * 1024;
    private const int MostPeek = 1024 * 1024;

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var headers = options.Has("headers") ? options.Strings("headers") : ["x-session-id", "x-conversation-id"];
        var fields = options.Has("bodyFields") ? options.Strings("bodyFields") : ["previous_response_id", "conversation", "user"];
        var peek = options.Int("maxBodyBytes", 0, MostPeek) ?? DefaultPeek;
        options.ReportUnknown();
        if (headers.IsEmpty && (fields.IsEmpty || peek == 0))
        {
            options.Error(EdgeNode.ChildPath(options.Path, "headers"), "no header and no body field to take the affinity key from");
            return null;
        }
        var names = fields.Select(f => System.Text.Encoding.UTF8.GetBytes(f)).ToImmutableArray();
        return next => async http =>
        {
            var edge = http.Edge();
            if (edge is not null)
            {
                var key = FromHeaders(http.Request, headers);
                if (key is null && !names.IsEmpty && peek > 0 && IsJson(http.Request)) key = await FromBodyAsync(http.Request, names, peek, http.RequestAborted);
                if (key is not null) edge.AffinityKey = key;
            }
            await next(http);
        };
    }

    private static string? FromHeaders(HttpRequest request, ImmutableArray<string> headers)
    {
        foreach (var name in headers)
        {
            var value = request.Headers[name];
            if (value.Count > 0 && value[0] is { Length: > 0 } v) return v;
        }
        return null;
    }

    private static bool IsJson(HttpRequest request) =>
        request.ContentType is { } type && (type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || type.Contains("+json", StringComparison.OrdinalIgnoreCase))
        && request.ContentLength is not 0;

    /// <summary>
    /// Reads up to <paramref name="peek"/> bytes of the body without consuming them (the reader is told they were only
    /// examined), and looks for the fields at the top level of the JSON object. A body cut by the limit is read as far
    /// as it goes: the fields usually come before the long input.
    /// </summary>
    internal static async Task<string?> FromBodyAsync(HttpRequest request, ImmutableArray<byte[]> fields, int peek, CancellationToken ct)
    {
        var reader = request.BodyReader;
        var result = await reader.ReadAtLeastAsync(peek, ct);
        var buffer = result.Buffer;
        try
        {
            var slice = buffer.Length > peek ? buffer.Slice(0, peek) : buffer;
            return Find(slice, fields, isFinal: result.IsCompleted && slice.Length == buffer.Length);
        }
        finally
        {
            reader.AdvanceTo(buffer.Start, buffer.End);
            // The service reads the body as a stream; if the reader was made over a stream an earlier middleware set (not
            // Kestrel's own), the peeked bytes now sit in the reader, so the stream the service reads must be the reader's.
            request.Body = reader.AsStream(leaveOpen: true);
        }
    }

    internal static string? Find(ReadOnlySequence<byte> json, ImmutableArray<byte[]> fields, bool isFinal)
    {
        var found = new string?[fields.Length];
        var reader = new Utf8JsonReader(json, isFinal, default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = -1;
                for (var i = 0; i < fields.Length; i++)
                    if (reader.ValueTextEquals(fields[i])) { index = i; break; }
                if (!reader.Read()) break;
                if (index >= 0 && found[index] is null)
                {
                    found[index] = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        // The Responses API's conversation may be an object: {"id": "conv_..."}.
                        JsonTokenType.StartObject => ObjectId(ref reader),
                        _ => null,
                    };
                    if (found[index] is { Length: 0 }) found[index] = null;
                    if (index == 0 && found[0] is not null) break;
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip()) break;
                }
                else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip()) break;
            }
        }
        catch (JsonException)
        {
            // Not JSON after all, or cut: what was found so far stands.
        }
        foreach (var value in found)
            if (value is not null) return value;
        return null;
    }

    private static string? ObjectId(ref Utf8JsonReader reader)
    {
        var depth = reader.CurrentDepth;
        string? id = null;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("id"u8))
            {
                if (reader.Read() && reader.TokenType == JsonTokenType.String) id = reader.GetString();
            }
        }
        return id;
    }
}
