using System.Collections.Immutable;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using AgenticGateway.Keys;

namespace AgenticGateway.Pipeline;

/// <summary>
/// The signing keys an identity provider publishes (JWKS, or the jwks_uri of an OIDC discovery document), fetched and
/// parsed with Microsoft.IdentityModel, cached for the configured time, fetched again at once when a token names a key
/// the cache does not have (a rotation), and otherwise never more than once per <see cref="UnknownKeyBackoff"/>.
/// Requests wait for a fetch asynchronously, one fetch at a time, each bounded by <see cref="FetchTimeout"/>; when a
/// fetch fails the keys fetched last stay in use. IdentityModel's ConfigurationManager is not used: it adds up to an
/// hour of jitter to its refresh time and refreshes no sooner than every 5 minutes, so public_key_ttl could not hold.
/// </summary>
internal sealed class JwksKeySource(ImmutableArray<string> urls, TimeSpan ttl, HttpClient http, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);
    /// <summary>How often tokens naming unknown keys (or a provider that is down) may cause a fetch.</summary>
    public static readonly TimeSpan UnknownKeyBackoff = TimeSpan.FromSeconds(30);

    private sealed record Snapshot(IReadOnlyList<SecurityKey> Keys, long FetchedAt);

    private readonly Lock _gate = new();
    private volatile Snapshot? _current;
    private Task<Snapshot?>? _fetch;
    /// <summary>No fetch for an unknown key (or after a failure) before this timestamp.</summary>
    private long _quietUntil;

    /// <summary>The keys in use now (the last fetch's).</summary>
    public IReadOnlyList<SecurityKey> Current => _current?.Keys ?? [];

    /// <summary>Makes sure the keys are fresh and, when possible, include <paramref name="kid"/>.</summary>
    public async ValueTask EnsureAsync(string? kid, CancellationToken cancellationToken)
    {
        var snapshot = _current;
        var now = time.GetTimestamp();
        var fresh = snapshot is not null && time.GetElapsedTime(snapshot.FetchedAt, now) < ttl;
        if (fresh && (kid is null || snapshot!.Keys.Any(k => k.KeyId == kid))) return;
        // A recent fetch for an unknown key, or a failed one: use what there is (tokens with unknown keys are refused).
        if (now < Volatile.Read(ref _quietUntil)) return;
        await FetchOnceAsync(unknownKey: fresh).WaitAsync(cancellationToken);
    }

    /// <summary>One fetch shared by every request waiting for it; not tied to any one request's cancellation.</summary>
    private Task<Snapshot?> FetchOnceAsync(bool unknownKey)
    {
        lock (_gate)
        {
            if (_fetch is { IsCompleted: false } running) return running;
            return _fetch = FetchAsync(unknownKey);
        }
    }

    private async Task<Snapshot?> FetchAsync(bool unknownKey)
    {
        var keys = new List<SecurityKey>();
        var failures = 0;
        foreach (var url in urls)
        {
            try { keys.AddRange(await FetchKeysAsync(url)); }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException)
            {
                failures++;
                KeysLog.JwksFetchFailed(logger, url, ex.Message);
            }
        }
        var now = time.GetTimestamp();
        var backoff = now + (long)(UnknownKeyBackoff.TotalSeconds * time.TimestampFrequency);
        // Every provider failed: keep the keys fetched last (a provider's outage must not lock everyone out).
        if (failures == urls.Length)
        {
            Volatile.Write(ref _quietUntil, backoff);
            return _current;
        }
        // Tokens naming keys nobody published must not make every request fetch again.
        Volatile.Write(ref _quietUntil, unknownKey ? backoff : 0);
        KeysLog.JwksLoaded(logger, keys.Count, string.Join(", ", urls));
        var snapshot = new Snapshot(keys, now);
        _current = snapshot;
        return snapshot;
    }

    private async Task<IList<SecurityKey>> FetchKeysAsync(string url)
    {
        var document = await GetAsync(url);
        // LiteLLM accepts the discovery document as well; its jwks_uri names the key set.
        if (url.Contains(".well-known/openid-configuration", StringComparison.Ordinal))
        {
            var jwksUri = OpenIdConnectConfiguration.Create(document).JwksUri;
            if (string.IsNullOrEmpty(jwksUri)) throw new InvalidOperationException($"the discovery document at {url} has no jwks_uri");
            document = await GetAsync(jwksUri);
        }
        return new JsonWebKeySet(document).GetSigningKeys();
    }

    private async Task<string> GetAsync(string url)
    {
        using var timeout = new CancellationTokenSource(FetchTimeout);
        using var response = await http.GetAsync(url, timeout.Token);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"HTTP {(int)response.StatusCode} from {url}");
        return await response.Content.ReadAsStringAsync(timeout.Token);
    }
}
