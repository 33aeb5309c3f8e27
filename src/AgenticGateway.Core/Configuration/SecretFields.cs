namespace AgenticGateway.Configuration;

/// <summary>
/// Which litellm_params fields hold credentials, by LiteLLM's rule: a key is sensitive when one of its
/// underscore-separated words is a credential word (api_key, aws_secret_access_key, vertex_credentials, an
/// Authorization header), unless one is "cost" (input_cost_per_token is a price). What the database encrypts and what
/// /model/info never shows in full.
/// </summary>
internal static class SecretFields
{
    private static readonly HashSet<string> Words =
    [
        "password", "secret", "key", "token", "auth", "authorization", "credential", "credentials", "secrets", "passwords",
        "access", "private", "certificate", "certificates", "fingerprint", "tenancy",
    ];

    /// <summary>Fields /model/info leaves out altogether, as LiteLLM's does (the rest of the sensitive ones are masked).</summary>
    public static readonly IReadOnlySet<string> Omitted = new HashSet<string>(StringComparer.Ordinal)
    {
        "api_key", "client_secret", "vertex_credentials", "aws_access_key_id", "aws_secret_access_key",
    };

    /// <summary>LiteLLM's reference to an environment variable, resolved where the model is loaded: not a secret itself.</summary>
    public const string EnvironmentReference = "os.environ/";

    public static bool IsSensitive(string key)
    {
        var words = key.ToLowerInvariant().Replace('-', '_').Split('_');
        return !words.Contains("cost") && words.Any(Words.Contains);
    }

    /// <summary>LiteLLM's mask: the first and last 4 characters kept, the rest starred; a short value starred whole.</summary>
    public static string Mask(string value) =>
        value.Length <= 8 ? new string('*', value.Length) : value[..4] + new string('*', value.Length - 8) + value[^4..];
}
