using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Identifies the caller. Accepts <c>Authorization: Bearer</c>, <c>x-api-key</c> and <c>api-key</c> (the headers
/// OpenAI, Anthropic and Azure clients send). Keys are only ever handled as SHA-256 hashes: the master key's is
/// compared in constant time, virtual keys are looked up by theirs. With neither a master key nor JWT auth configured,
/// auth is off (and the gateway listens on loopback only, see Hosting/ListenPolicy).
/// </summary>
internal sealed class ClientAuth(KeyRegistry keys, JwtAuthenticator jwt, TimeProvider time)
{
    /// <summary>Whether callers must authenticate: a master key or JWT auth is configured.</summary>
    public static bool IsOn(GatewayRuntime runtime) => runtime.MasterKeyHash is not null || runtime.Options.Jwt is not null;

    public async ValueTask<(Caller? Caller, ApiError? Error)> AuthenticateAsync(HttpRequest request, GatewayRuntime runtime, CancellationToken cancellationToken)
    {
        if (!IsOn(runtime)) return (Caller.Anonymous, null);
        var master = runtime.MasterKeyHash;
        var presented = PresentedKey(request);
        if (presented is null)
            return (null, new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.", "invalid_request_error", "missing_api_key"));

        if (runtime.Options.Jwt is { } jwtOptions && JwtAuthenticator.LooksLikeJwt(presented))
        {
            var (claimed, problem) = await jwt.AuthenticateAsync(presented, jwtOptions, request, cancellationToken);
            if (claimed is null) return (null, problem);
            if (claimed.Identity?.Team is { Blocked: true } blockedTeam) return (null, new ApiError(401, $"The team '{blockedTeam.TeamId}' is blocked.", "invalid_request_error", "team_blocked"));
            return (claimed, null);
        }

        // Hashed on the stack: the master key's path allocates nothing; only a virtual key's lookup needs the hex.
        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        var bytes = max <= 512 ? stackalloc byte[max] : new byte[max];
        SHA256.HashData(bytes[..Encoding.UTF8.GetBytes(presented, bytes)], hash);
        if (master is not null && CryptographicOperations.FixedTimeEquals(hash, master)) return (Caller.Admin, null);

        var identity = await keys.FindByTokenAsync(Convert.ToHexStringLower(hash), cancellationToken);
        if (Refusal(identity) is { } refused) return (null, refused);
        return (new Caller(false, identity), null);
    }

    /// <summary>
    /// Whether a caller admitted earlier may still be served (asked again while a long stream runs): its key not deleted,
    /// blocked or expired meanwhile, its team not blocked. Reads the identity cache, which a change made on this node
    /// invalidates at once and one made on another replica within seconds.
    /// </summary>
    public async ValueTask<ApiError?> RecheckAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (caller.Identity is not { } admitted) return null;
        if (admitted.Key.KeyName == KeyRegistry.JwtKeyName)
        {
            var claimed = await keys.FindForClaimsAsync(admitted.Key.UserId, admitted.Key.TeamId, admitted.Key.Token["jwt:".Length..], cancellationToken);
            return claimed?.Team is { Blocked: true } team ? new ApiError(401, $"The team '{team.TeamId}' is blocked.", "invalid_request_error", "team_blocked") : null;
        }
        return Refusal(await keys.FindByTokenAsync(admitted.Key.Token, cancellationToken));
    }

    private ApiError? Refusal(KeyIdentity? identity)
    {
        var key = identity?.Key;
        if (key is null) return new ApiError(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        if (key.Blocked) return new ApiError(401, "This API key is blocked.", "invalid_request_error", "key_blocked");
        if (key.IsExpired(time.GetUtcNow())) return new ApiError(401, $"This API key expired at {key.ExpiresAt:O}.", "invalid_request_error", "key_expired");
        if (identity!.Team is { Blocked: true } team) return new ApiError(401, $"The team '{team.TeamId}' of this API key is blocked.", "invalid_request_error", "team_blocked");
        return null;
    }

    public static string? PresentedKey(HttpRequest request)
    {
        var headers = request.Headers;
        // LiteLLM's primary key header: with it, Authorization is free to carry a credential for an upstream (its MCP
        // gateway forwards that), so it wins.
        var litellm = headers["x-litellm-api-key"];
        if (litellm.Count > 0 && litellm[0] is { Length: > 0 } lk) return lk.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? lk[7..].Trim() : lk.Trim();
        var auth = headers.Authorization;
        if (auth.Count > 0)
        {
            var value = auth[0];
            if (value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return value[7..].Trim();
        }
        var key = headers["x-api-key"];
        if (key.Count > 0 && !string.IsNullOrEmpty(key[0])) return FromE2bForm(key[0]!);
        key = headers["api-key"];
        if (key.Count > 0 && !string.IsNullOrEmpty(key[0])) return key[0];
        return null;
    }

    /// <summary>
    /// A gateway key in the form E2B's Python SDK insists on (<c>e2b_</c> and hex; it refuses anything else before
    /// sending): <c>e2b_</c> followed by the hex of the key's own characters. Only a key that decodes to an
    /// <c>sk-</c> key is read so; anything else is the key as presented.
    /// </summary>
    internal static string FromE2bForm(string presented)
    {
        if (!presented.StartsWith("e2b_", StringComparison.Ordinal) || presented.Length % 2 != 0 || presented.Length > 1028) return presented;
        Span<byte> bytes = stackalloc byte[(presented.Length - 4) / 2];
        if (Convert.FromHexString(presented.AsSpan(4), bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != bytes.Length) return presented;
        if (!bytes.StartsWith("sk-"u8)) return presented;
        foreach (var b in bytes)
            if (b is < 0x21 or > 0x7e) return presented;
        return Encoding.ASCII.GetString(bytes);
    }
}
