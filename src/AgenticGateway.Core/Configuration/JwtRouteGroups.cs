namespace AgenticGateway.Configuration;

/// <summary>
/// LiteLLM's route groups (LiteLLMRoutes in litellm/proxy/_types.py), as used by admin_allowed_routes and
/// team_allowed_routes, mapped onto this gateway's routes. Each route is matched with and without its /v1 prefix.
/// <c>sandbox_routes</c> is ours: the sandbox API.
/// </summary>
internal static class JwtRouteGroups
{
    private static readonly string[] OpenAi = ["/chat/completions", "/completions", "/embeddings", "/models", "/models/**"];
    private static readonly string[] Anthropic = ["/messages", "/messages/count_tokens"];
    private static readonly string[] Info = ["/key/info", "/key/list", "/team/info", "/team/list", "/user/info", "/model/info", "/v2/model/info", "/model_group/info", "/health"];
    private static readonly string[] Management =
    [
        "/user/new", "/user/update", "/user/delete", "/user/info",
        "/team/new", "/team/update", "/team/delete", "/team/list", "/team/info", "/team/member_add", "/team/member_delete",
        "/model/new", "/model/update", "/model/*/update", "/model/delete", "/model/info", "/v2/model/info", "/audit/logs",
        "/key/generate", "/key/update", "/key/delete", "/key/info", "/key/regenerate", "/key/*/regenerate", "/key/list", "/key/block", "/key/unblock",
    ];
    private static readonly string[] SpendTracking = ["/spend/keys", "/spend/users", "/spend/tags", "/spend/calculate", "/spend/logs", "/usage"];
    private static readonly string[] GlobalSpendTracking = ["/global/spend/logs", "/global/spend", "/global/spend/keys", "/global/spend/teams", "/global/spend/models", "/global/spend/report"];
    private static readonly string[] Public = ["/health/liveliness", "/health/liveness", "/health/live", "/health/readiness", "/health/ready", "/metrics"];
    private static readonly string[] Sandbox = ["/sandboxes", "/sandboxes/**"];

    private static readonly Dictionary<string, string[]> Groups = new(StringComparer.Ordinal)
    {
        ["openai_routes"] = OpenAi,
        ["anthropic_routes"] = Anthropic,
        ["llm_api_routes"] = [.. OpenAi, .. Anthropic],
        ["info_routes"] = Info,
        ["management_routes"] = Management,
        ["spend_tracking_routes"] = SpendTracking,
        ["global_spend_tracking_routes"] = GlobalSpendTracking,
        ["public_routes"] = Public,
        ["sandbox_routes"] = Sandbox,
    };

    public static IEnumerable<string> Names => Groups.Keys;

    public static bool IsGroup(string name) => Groups.ContainsKey(name);

    /// <summary>Whether <paramref name="path"/> is one of <paramref name="allowed"/>: group names or paths.</summary>
    public static bool Allows(IReadOnlyList<string> allowed, string path)
    {
        path = path.Length > 1 ? path.TrimEnd('/') : path;
        var bare = path.StartsWith("/v1/", StringComparison.Ordinal) ? path[3..] : path;
        foreach (var entry in allowed)
        {
            if (Groups.TryGetValue(entry, out var patterns))
            {
                if (patterns.Any(p => Matches(p, bare))) return true;
            }
            else if (entry == path || entry == bare) return true;
        }
        return false;
    }

    /// <summary>'*' matches one path segment, a trailing '**' any rest.</summary>
    private static bool Matches(string pattern, string path)
    {
        if (pattern.EndsWith("/**", StringComparison.Ordinal)) return path.StartsWith(pattern[..^2], StringComparison.Ordinal);
        var p = pattern.Split('/');
        var s = path.Split('/');
        if (p.Length != s.Length) return false;
        for (var i = 0; i < p.Length; i++)
        {
            if (p[i] != "*" && p[i] != s[i]) return false;
        }
        return true;
    }
}
