using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// Bedrock Runtime error bodies: <c>{"message":"..."}</c> (the authentication layer writes <c>"Message"</c>), with the
/// exception name in the <c>x-amzn-ErrorType</c> header and sometimes in the body as <c>__type</c>. The translator only
/// sees the body, so the status alone must classify correctly; a named exception refines it.
/// </summary>
internal static class BedrockErrors
{
    /// <summary>Bedrock Runtime exceptions and the status each is treated as.</summary>
    public static int? StatusFor(string? type) => Normalise(type) switch
    {
        "throttlingexception" or "modelnotreadyexception" or "servicequotaexceededexception" => 429,
        "serviceunavailableexception" => 503,
        "validationexception" or "serializationexception" => 400,
        "accessdeniedexception" or "unrecognizedclientexception" or "invalidsignatureexception" or "incompletesignatureexception"
            or "missingauthenticationtokenexception" or "expiredtokenexception" => 403,
        "resourcenotfoundexception" => 404,
        "modeltimeoutexception" => 408,
        "internalserverexception" or "modelstreamerrorexception" => 500,
        // The model itself failed (HTTP 424): a retry or another deployment may well succeed.
        "modelerrorexception" => 502,
        _ => null,
    };

    public static ProviderError Read(int status, ReadOnlySpan<byte> body)
    {
        string? message = null, type = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isMessage = reader.ValueTextEquals("message"u8) || reader.ValueTextEquals("Message"u8);
                    var isType = reader.ValueTextEquals("__type"u8) || reader.ValueTextEquals("code"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && isMessage) message = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.String && isType) type = ShortType(reader.GetString());
                    else reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page): the status decides.
        }
        var classified = StatusFor(type) ?? (status == 424 ? 502 : status);
        return new ProviderError(classified, message ?? (type is null ? $"Bedrock returned HTTP {status}" : type), type);
    }

    /// <summary>The <c>message</c> of a JSON error payload, or null.</summary>
    public static string? ReadMessage(ReadOnlySpan<byte> payload)
    {
        var error = Read(0, payload);
        return error.Message.StartsWith("Bedrock returned HTTP", StringComparison.Ordinal) ? null : error.Message;
    }

    /// <summary><c>com.amazon.coral.validate#ValidationException</c> and <c>ValidationException:http://...</c> to <c>ValidationException</c>.</summary>
    public static string? ShortType(string? type)
    {
        if (string.IsNullOrEmpty(type)) return null;
        var hash = type.LastIndexOf('#');
        if (hash >= 0) type = type[(hash + 1)..];
        var colon = type.IndexOf(':');
        return colon > 0 ? type[..colon] : type;
    }

    private static string? Normalise(string? type) => ShortType(type)?.ToLowerInvariant();
}
