using System.Globalization;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Caching;

/// <summary>
/// A request's own cache controls: LiteLLM's <c>cache</c> object in the body (<c>no-cache</c>: do not answer from the
/// cache; <c>no-store</c>: do not store the answer; <c>ttl</c>; <c>s-maxage</c> / <c>s-max-age</c>: only an entry at
/// most this old; <c>namespace</c>; and, for <c>mode: default_off</c>, <c>use-cache</c>) and the HTTP
/// <c>Cache-Control</c> request header (<c>no-cache</c>, <c>no-store</c>, <c>max-age</c>/<c>s-maxage</c>).
/// </summary>
internal readonly record struct CacheControl(bool NoCache, bool NoStore, bool UseCache, TimeSpan? Ttl, TimeSpan? MaxAge, string? Namespace)
{
    private const int MaxSeconds = 30 * 24 * 3600;

    /// <summary>Reads both; a malformed control is the client's error (400, param <c>cache</c>).</summary>
    public static ApiError? TryRead(ReadOnlySpan<byte> body, string? cacheControlHeader, out CacheControl control)
    {
        control = default;
        // Only a body that mentions the member is parsed again: the usual request pays nothing.
        if (body.IndexOf("\"cache\""u8) >= 0 && ReadBody(body, ref control) is { } error) return error;
        if (cacheControlHeader is { Length: > 0 } header) ReadHeader(header, ref control);
        return null;
    }

    private static ApiError? ReadBody(ReadOnlySpan<byte> body, ref CacheControl control)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 128 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCache = reader.ValueTextEquals("cache"u8);
            reader.Read();
            if (!isCache) { reader.Skip(); continue; }
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (reader.TokenType != JsonTokenType.StartObject) return Bad("'cache' must be an object such as {\"no-cache\": true} or {\"ttl\": 600}.");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "no-cache": if (Flag(ref reader, name, out var noCache) is { } e1) return e1; control = control with { NoCache = noCache }; break;
                    case "no-store": if (Flag(ref reader, name, out var noStore) is { } e2) return e2; control = control with { NoStore = noStore }; break;
                    case "use-cache": if (Flag(ref reader, name, out var use) is { } e3) return e3; control = control with { UseCache = use }; break;
                    case "ttl": if (Seconds(ref reader, name, out var ttl) is { } e4) return e4; control = control with { Ttl = ttl }; break;
                    case "s-maxage" or "s-max-age": if (Seconds(ref reader, name, out var age) is { } e5) return e5; control = control with { MaxAge = age }; break;
                    case "namespace":
                        if (reader.TokenType == JsonTokenType.Null) break;
                        if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 and <= 128 } ns || ns.Any(char.IsControl))
                            return Bad("'cache.namespace' must be a string of 1 to 128 printable characters.");
                        control = control with { Namespace = ns };
                        break;
                    default:
                        // LiteLLM ignores controls it does not know; so do we (a newer client's control is no error).
                        reader.Skip();
                        break;
                }
            }
        }
        return null;
    }

    private static ApiError? Flag(ref Utf8JsonReader reader, string name, out bool value)
    {
        value = reader.TokenType == JsonTokenType.True;
        return reader.TokenType is JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null ? null : Bad($"'cache.{name}' must be true or false.");
    }

    private static ApiError? Seconds(ref Utf8JsonReader reader, string name, out TimeSpan? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var s) || !double.IsFinite(s) || s < 0 || s > MaxSeconds)
            return Bad($"'cache.{name}' must be a number of seconds from 0 to {MaxSeconds}.");
        value = TimeSpan.FromSeconds(s);
        return null;
    }

    /// <summary>RFC 9111's request directives that apply: no-cache, no-store, max-age, s-maxage. Others are ignored, as a cache does.</summary>
    private static void ReadHeader(string header, ref CacheControl control)
    {
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = (eq < 0 ? part : part[..eq]).Trim().ToLowerInvariant();
            var arg = eq < 0 ? null : part[(eq + 1)..].Trim().Trim('"');
            switch (name)
            {
                case "no-cache": control = control with { NoCache = true }; break;
                case "no-store": control = control with { NoStore = true }; break;
                case "max-age" or "s-maxage":
                    if (int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                        control = control with { MaxAge = TimeSpan.FromSeconds(Math.Min(s, MaxSeconds)) };
                    break;
            }
        }
    }

    private static ApiError Bad(string message) => new(400, message, "invalid_request_error", "invalid_cache_control", "cache");
}
