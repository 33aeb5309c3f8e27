using System.Collections.Immutable;
using AgenticGateway.Configuration;

namespace AgenticGateway.Configuration;

/// <summary>
/// The MCP gateway (<c>mcp:</c> in our schema, LiteLLM's top-level <c>mcp_servers:</c> in theirs): the upstream servers
/// federated behind <c>/mcp</c> and the rules every tool call passes.
/// </summary>
internal sealed record McpOptions
{
    public ImmutableArray<McpServerConfig> Servers { get; init; } = [];
    /// <summary>
    /// Between a server's name and its tool's in the names clients see. LiteLLM's "-" by default (its
    /// MCP_TOOL_PREFIX_SEPARATOR), so a LiteLLM user's agents keep their tool names; a server name may not contain it.
    /// </summary>
    public string Separator { get; init; } = "-";
    /// <summary>
    /// Whether names carry the server prefix. Always, by default: a name that depends on how many servers there are
    /// changes when one is added, and agents' prompts and allow lists name tools.
    /// </summary>
    public McpPrefixMode PrefixMode { get; init; } = McpPrefixMode.Always;
    /// <summary>How long an upstream's lists are served from cache; re-listing is also how changed definitions are caught.</summary>
    public TimeSpan ListTtl { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a fan-out waits for one upstream before it is left out of the answer.</summary>
    public TimeSpan ListTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>A tool result larger than this (serialized) is refused rather than relayed.</summary>
    public int MaxResultBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>The same call (key, tool and arguments) this many times within <see cref="LoopWindow"/> is refused. 0: off.</summary>
    public int LoopMaxRepeats { get; init; } = 5;
    public TimeSpan LoopWindow { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Calls per minute per key and tool unless a server or tool sets its own; null: no limit.</summary>
    public int? ToolRpm { get; init; }
    /// <summary>Tool pinning: definitions are hashed and a changed one is quarantined until an admin approves it.</summary>
    public bool Pinning { get; init; } = true;
    /// <summary>Whether a tool seen for the first time is approved (trust on first use) or waits for an admin.</summary>
    public bool ApproveNewTools { get; init; } = true;
    /// <summary>How often every upstream's definitions are re-listed and re-checked against their pins (at most 30 s).</summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The built-in <c>sandbox</c> server; null: on where the sandbox API is (enabled, and its driver runs here).</summary>
    public bool? SandboxServer { get; init; }
    /// <summary>
    /// The scopes a client may ask the authorization server for to call <c>/mcp</c>: the protected resource metadata's
    /// scopes_supported (RFC 9728) and the scope of a 401's challenge. Empty: none are advertised.
    /// </summary>
    public ImmutableArray<string> ScopesSupported { get; init; } = [];

    public bool Enabled => !Servers.IsDefaultOrEmpty || SandboxServer == true;

    /// <summary>The name of the built-in server (a configured server may not take it).</summary>
    public const string SandboxServerName = "sandbox";

    /// <summary>
    /// The path of a resource's RFC 9728 metadata: the well-known prefix, then the resource's path (<c>/mcp</c> or
    /// <c>/mcp/{server}</c>), where MCP clients look for it (MCP 2025-11-25, authorization, protected resource metadata discovery).
    /// </summary>
    public static string ResourceMetadataPath(string? server) => "/.well-known/oauth-protected-resource" + ResourcePath(server);

    /// <summary>The path of the MCP endpoint a caller reaches: every server's, or one's.</summary>
    public static string ResourcePath(string? server) => server is null ? "/mcp" : "/mcp/" + Uri.EscapeDataString(server);
}

internal enum McpPrefixMode { Always, Never }

internal enum McpTransport { Http, Sse, Stdio, OpenApi }

/// <summary>One upstream MCP server.</summary>
internal sealed record McpServerConfig
{
    /// <summary>The server's name: its tools' prefix, its path in <c>/mcp/{name}</c>, and what permissions list.</summary>
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required McpTransport Transport { get; init; }
    /// <summary>Streamable HTTP or SSE endpoint; for OpenAPI, the base URL operations are called on.</summary>
    public Uri? Url { get; init; }
    public string? Command { get; init; }
    public ImmutableArray<string> Args { get; init; } = [];
    /// <summary>The child's whole environment (it inherits nothing of the gateway's, so no secret leaks into it) besides PATH and HOME.</summary>
    public ImmutableArray<KeyValuePair<string, Secret>> Env { get; init; } = [];
    public string? WorkingDirectory { get; init; }
    /// <summary>OpenAPI: the spec's path or URL.</summary>
    public string? SpecPath { get; init; }
    /// <summary>Headers sent upstream on every request: the server's own credentials (auth_type/auth_value, static_headers).</summary>
    public ImmutableArray<KeyValuePair<string, Secret>> Headers { get; init; } = [];
    /// <summary>Client request headers passed on to this server (LiteLLM's extra_headers); the gateway's own credentials never are.</summary>
    public ImmutableArray<string> ForwardHeaders { get; init; } = [];
    /// <summary>Upstream tool names served (empty: all), and those never served.</summary>
    public ImmutableArray<string> AllowedTools { get; init; } = [];
    public ImmutableArray<string> DisallowedTools { get; init; } = [];
    /// <summary>LiteLLM's access_groups: a key or team listing one may use this server.</summary>
    public ImmutableArray<string> AccessGroups { get; init; } = [];
    /// <summary>Cost in USD of one call, counted against budgets (LiteLLM's mcp_info.mcp_server_cost_info).</summary>
    public decimal CostPerCall { get; init; }
    public ImmutableDictionary<string, decimal> ToolCosts { get; init; } = ImmutableDictionary<string, decimal>.Empty;
    /// <summary>Calls per minute per key and tool on this server (null: <see cref="McpOptions.ToolRpm"/>), and per tool.</summary>
    public int? ToolRpm { get; init; }
    public ImmutableDictionary<string, int> ToolRpms { get; init; } = ImmutableDictionary<string, int>.Empty;
    public TimeSpan? CallTimeout { get; init; }
    /// <summary>
    /// Per-user credentials (auth_type oauth2_token_exchange): each call carries a token the gateway got for the caller
    /// by exchanging the caller's own JWT (RFC 8693); callers without one may not call this server. Null: none.
    /// </summary>
    public McpTokenExchange? TokenExchange { get; init; }
    /// <summary>Where in the config file it came from, for messages.</summary>
    public string Path { get; init; } = "";

    public decimal CostOf(string tool) => ToolCosts.TryGetValue(tool, out var c) ? c : CostPerCall;
    public int? RpmOf(string tool, int? global) => ToolRpms.TryGetValue(tool, out var r) ? r : ToolRpm ?? global;

    /// <summary>Whether the server's allow and deny lists let its tool be served at all.</summary>
    public bool Serves(string tool) =>
        !DisallowedTools.Contains(tool, StringComparer.Ordinal) && (AllowedTools.IsDefaultOrEmpty || AllowedTools.Contains(tool, StringComparer.Ordinal));
}

/// <summary>
/// How a server's per-user tokens are got: an RFC 8693 token exchange at <see cref="Endpoint"/>, the caller's JWT as
/// the subject token, the gateway authenticating as a confidential client (LiteLLM's token_exchange_endpoint,
/// audience, subject_token_type, client_id, client_secret, scopes, token_endpoint_auth_method).
/// </summary>
internal sealed record McpTokenExchange
{
    /// <summary>RFC 8693's default subject token type: an OAuth access token (LiteLLM's default too).</summary>
    public const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    public required Uri Endpoint { get; init; }
    /// <summary>The logical name of the upstream the token is for (RFC 8693 audience); null: not sent.</summary>
    public string? Audience { get; init; }
    /// <summary>The upstream's URI (RFC 8693 resource, RFC 8707); null: not sent.</summary>
    public string? Resource { get; init; }
    public string SubjectTokenType { get; init; } = AccessTokenType;
    public ImmutableArray<string> Scopes { get; init; } = [];
    public required string ClientId { get; init; }
    public Secret ClientSecret { get; init; }
    /// <summary>
    /// HTTP Basic client authentication (client_secret_basic, which RFC 6749 §2.3.1 has every server support); false:
    /// the credentials in the form (client_secret_post, LiteLLM's default).
    /// </summary>
    public bool BasicAuth { get; init; } = true;
}
