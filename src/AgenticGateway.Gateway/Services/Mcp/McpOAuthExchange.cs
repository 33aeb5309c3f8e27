using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// Gets a caller's token for an upstream MCP server by OAuth 2.0 Token Exchange (RFC 8693): the caller's JWT is the
/// subject token, the gateway authenticates as a confidential client, and the issued access token goes upstream as
/// <c>Authorization: Bearer</c>. Tokens are cached per server configuration and subject token (by hash; the tokens
/// themselves only as values) until shortly before they expire, in a bounded cache; concurrent calls for the same pair
/// share one exchange. The exchange is bounded in time and in response size; failures say what the token endpoint
/// said (error, error_description), never a token or the client secret.
/// </summary>
internal sealed partial class McpOAuthExchange(TimeProvider time, ILogger<McpOAuthExchange> log) : IDisposable
{
    public const string GrantType = "urn:ietf:params:oauth:grant-type:token-exchange";
    /// <summary>At most this many tokens are kept; past it expired ones are swept, and if none are, new ones are not kept.</summary>
    public const int MaxCached = 10_000;
    /// <summary>A token whose lifetime the endpoint does not give (expires_in is only RECOMMENDED) is reused this long.</summary>
    private static readonly TimeSpan UnknownLifetime = TimeSpan.FromMinutes(1);
    /// <summary>How long before its expiry a token stops being reused: the call it goes with must still find it valid.</summary>
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(10);
    private const int MaxResponseBytes = 64 * 1024;
    private const int MaxDescriptionChars = 300;

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        // A token endpoint that redirects would have the subject token and client credentials re-posted elsewhere.
        AllowAutoRedirect = false,
        UseCookies = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
        MaxResponseContentBufferSize = MaxResponseBytes,
    };
    private readonly ConcurrentDictionary<string, Issued> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<Issued>>> _inFlight = new(StringComparer.Ordinal);

    private sealed record Issued(string AccessToken, DateTimeOffset ReuseUntil);

    /// <summary>How many exchanges were made (not served from the cache); for tests and diagnostics.</summary>
    public int Exchanges => Volatile.Read(ref _exchanges);
    private int _exchanges;

    /// <summary>The access token for <paramref name="subject"/>'s calls to <paramref name="server"/>.</summary>
    /// <exception cref="McpTokenExchangeException">The exchange failed; its message may be shown to the caller.</exception>
    public async ValueTask<string> AccessTokenAsync(string server, McpTokenExchange config, McpOAuthSubject subject, CancellationToken ct)
    {
        var key = CacheKey(server, config, subject.Token);
        if (_cache.TryGetValue(key, out var cached))
        {
            if (time.GetUtcNow() < cached.ReuseUntil) return cached.AccessToken;
            _cache.TryRemove(new KeyValuePair<string, Issued>(key, cached));
        }
        // One exchange per pair at a time; it runs to its own deadline, so a caller that gives up does not fail the others.
        var shared = _inFlight.GetOrAdd(key, k => new Lazy<Task<Issued>>(() => ExchangeAsync(k, server, config, subject)));
        var issued = await shared.Value.WaitAsync(ct);
        return issued.AccessToken;
    }

    private async Task<Issued> ExchangeAsync(string key, string server, McpTokenExchange config, McpOAuthSubject subject)
    {
        try
        {
            var issued = await RequestAsync(server, config, subject);
            Interlocked.Increment(ref _exchanges);
            if (issued.ReuseUntil > time.GetUtcNow() && (_cache.Count < MaxCached || Sweep())) _cache[key] = issued;
            return issued;
        }
        finally
        {
            _inFlight.TryRemove(key, out _);
        }
    }

    private async Task<Issued> RequestAsync(string server, McpTokenExchange config, McpOAuthSubject subject)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", GrantType),
            new("subject_token", subject.Token),
            new("subject_token_type", config.SubjectTokenType),
        };
        if (config.Audience is { } audience) form.Add(new("audience", audience));
        if (config.Resource is { } resource) form.Add(new("resource", resource));
        if (config.Scopes.Length > 0) form.Add(new("scope", string.Join(' ', config.Scopes)));
        using var request = new HttpRequestMessage(HttpMethod.Post, config.Endpoint);
        if (config.BasicAuth)
        {
            // RFC 6749 §2.3.1: each part form-urlencoded before they are joined, so a ':' in the id survives.
            var pair = Uri.EscapeDataString(config.ClientId) + ":" + Uri.EscapeDataString(config.ClientSecret.Value ?? "");
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
        }
        else
        {
            form.Add(new("client_id", config.ClientId));
            form.Add(new("client_secret", config.ClientSecret.Value ?? ""));
        }
        request.Content = new FormUrlEncodedContent(form);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        using var deadline = new CancellationTokenSource(ExchangeTimeout, time);
        int status;
        byte[] body;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            status = (int)response.StatusCode;
            // Buffered within MaxResponseContentBufferSize: a larger body fails the read instead of filling memory.
            body = await response.Content.ReadAsByteArrayAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw Failed(server, $"the token endpoint did not answer within {ExchangeTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException ex)
        {
            throw Failed(server, ex.Message.Contains("buffer", StringComparison.OrdinalIgnoreCase)
                ? $"the token endpoint's answer is over {MaxResponseBytes} bytes" : $"the token endpoint could not be reached ({ex.HttpRequestError})");
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw Failed(server, $"the token endpoint answered HTTP {status} with a body that is not JSON");
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw Failed(server, $"the token endpoint answered HTTP {status} with JSON that is not an object");
        if (status is < 200 or > 299)
        {
            // RFC 6749 §5.2 (which RFC 8693 §2.2.2 uses): error, and a human-readable error_description.
            var error = Text(root, "error") ?? "no error code";
            var description = Text(root, "error_description");
            // An endpoint that echoes what it was sent must not hand the caller's token to wherever this message goes.
            description = description?.Replace(subject.Token, "[subject token]", StringComparison.Ordinal);
            if (description is { Length: > MaxDescriptionChars }) description = description[..MaxDescriptionChars] + "…";
            LogFailed(log, server, status, error);
            throw Failed(server, $"the token endpoint refused it (HTTP {status}): {error}" + (description is null ? "" : $": {description}"));
        }
        if (Text(root, "access_token") is not { Length: > 0 } accessToken)
            throw Failed(server, "the token endpoint's answer has no access_token");
        // RFC 8693 §2.2.1: token_type is Bearer for an access token usable as one, N_A when it is not an access token.
        var tokenType = Text(root, "token_type");
        if (tokenType is not null && !tokenType.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            throw Failed(server, $"the token endpoint issued a token of type '{tokenType}', which cannot be sent as a bearer token");

        var now = time.GetUtcNow();
        var lifetime = Seconds(root, "expires_in") is { } seconds ? TimeSpan.FromSeconds(seconds) : UnknownLifetime;
        var reuseUntil = now + lifetime - TimeSpan.FromTicks(Math.Min(ExpiryMargin.Ticks, lifetime.Ticks / 2));
        // Not past the caller's own token: after it the caller cannot present it, and the entry would only take room.
        if (subject.Expires is { } expires && expires < reuseUntil) reuseUntil = expires;
        LogExchanged(log, server, lifetime.TotalSeconds);
        return new Issued(accessToken, reuseUntil);
    }

    /// <summary>Removes expired tokens; whether that made room.</summary>
    private bool Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (key, issued) in _cache)
            if (issued.ReuseUntil <= now) _cache.TryRemove(key, out _);
        return _cache.Count < MaxCached;
    }

    /// <summary>
    /// The cache key: the server and every setting that shapes the token (a reload that changes them gets new tokens),
    /// and the subject token, hashed together so no token is a key.
    /// </summary>
    private static string CacheKey(string server, McpTokenExchange config, string subjectToken)
    {
        var text = string.Join('\n', server, config.Endpoint.AbsoluteUri, config.ClientId, config.Audience, config.Resource,
            config.SubjectTokenType, string.Join(' ', config.Scopes), subjectToken);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>expires_in: a number of seconds (RFC 6749 §5.1); a numeric string is taken too, as LiteLLM does.</summary>
    private static long? Seconds(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)) return Math.Clamp(n, 0, 366L * 24 * 3600);
        if (v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), out var s)) return Math.Clamp(s, 0, 366L * 24 * 3600);
        return null;
    }

    private static McpTokenExchangeException Failed(string server, string reason) =>
        new($"The MCP server '{server}' needs a token for you, and the token exchange failed: {reason}.");

    public void Dispose() => _http.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP server {Server}: token exchanged for a caller's, valid {Seconds} s")]
    private static partial void LogExchanged(ILogger logger, string server, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server}: token exchange refused with HTTP {Status} ({Error})")]
    private static partial void LogFailed(ILogger logger, string server, int status, string error);
}

/// <summary>A per-user token could not be had for a call; the message is for the caller and holds no secret.</summary>
internal sealed class McpTokenExchangeException(string message) : Exception(message);
