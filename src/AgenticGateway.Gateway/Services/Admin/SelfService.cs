using AgenticGateway.OpenAi;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// LiteLLM's self-service reads: a virtual key may read its own /key/info, its user's /user/info and its team's
/// /team/info, never another's. LiteLLM answers 403 there, and so do we, in the OpenAI error shape.
/// </summary>
internal static class SelfService
{
    public static ApiError Denied(string what) =>
        new(403, $"A virtual key may only read its own {what} (the master key reads any).", "permission_error", "not_own_" + what, what + (what == "key" ? "" : "_id"));
}
