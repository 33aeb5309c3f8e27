using System.Collections.Immutable;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// Reads the MCP gateway's settings: our <c>mcp:</c> section (strict) and LiteLLM's top-level <c>mcp_servers:</c>
/// (as LiteLLM's proxy_config.yaml has it; keys we do not serve are warnings, security ones errors).
/// </summary>
internal static partial class McpConfigReader
{
    /// <param name="section">Our <c>mcp:</c> section, in either schema.</param>
    /// <param name="liteLlmServers">LiteLLM's <c>mcp_servers:</c>, a mapping of server name to entry.</param>
    /// <param name="sandboxesEnabled">Whether the sandbox gateway is on (the built-in sandbox server follows it by default).</param>
    public static McpOptions Read(ConfigMap? section, ConfigMap? liteLlmServers, ConfigContext context)
    {
        var options = new McpOptions();
        var servers = new List<McpServerConfig>();
        if (section is not null)
        {
            if (section.String("tool_separator") is { } sep)
            {
                if (sep is "-" or "_" or "." or "__") options = options with { Separator = sep };
                else context.Issues.Error(section.Child("tool_separator"), $"must be one of '-', '_', '__', '.' (tool names may hold only letters, digits, '_', '-' and '.'), got '{sep}'");
            }
            if (section.String("prefix") is { } prefix)
            {
                if (prefix is "always") options = options with { PrefixMode = McpPrefixMode.Always };
                else if (prefix is "never") options = options with { PrefixMode = McpPrefixMode.Never };
                else context.Issues.Error(section.Child("prefix"), $"must be 'always' or 'never', got '{prefix}'");
            }
            if (section.Duration("list_ttl") is { } ttl) options = options with { ListTtl = ttl };
            if (section.Duration("list_timeout", positive: true) is { } lt) options = options with { ListTimeout = lt };
            if (section.Duration("call_timeout", positive: true) is { } ct) options = options with { CallTimeout = ct };
            if (section.Int("max_result_bytes", 1024) is { } max) options = options with { MaxResultBytes = max };
            if (section.Int("tool_rpm", 1) is { } rpm) options = options with { ToolRpm = rpm };
            if (section.Bool("sandbox_server") is { } sandbox) options = options with { SandboxServer = sandbox };
            if (section.StringList("scopes_supported") is { Length: > 0 } scopes)
            {
                // A scope token is printable ASCII without space, '"' or '\\' (RFC 6749 §3.3): it is quoted in the 401's challenge.
                if (scopes.FirstOrDefault(sc => sc.Length == 0 || sc.Any(ch => ch is < '!' or > '~' or '"' or '\\')) is { } bad)
                    context.Issues.Error(section.Child("scopes_supported"), $"'{bad}' is not an OAuth scope (printable ASCII without spaces, quotes or backslashes)");
                else options = options with { ScopesSupported = scopes };
            }
            if (section.Map("loop_breaker") is { } loop)
            {
                if (loop.Int("max_repeats", 0, 10_000) is { } repeats) options = options with { LoopMaxRepeats = repeats };
                if (loop.Duration("window", positive: true) is { } window) options = options with { LoopWindow = window };
                loop.ReportUnknownKeys(strict: true);
            }
            if (section.Map("pinning") is { } pin)
            {
                if (pin.Bool("enabled") is { } on) options = options with { Pinning = on };
                if (pin.Bool("approve_new_tools") is { } approve) options = options with { ApproveNewTools = approve };
                if (pin.Duration("recheck_interval", positive: true) is { } every)
                {
                    if (every > TimeSpan.FromSeconds(30)) context.Issues.Error(pin.Child("recheck_interval"), "must be at most 30s: a changed definition must not be served longer than that");
                    else options = options with { RecheckInterval = every };
                }
                pin.ReportUnknownKeys(strict: true);
            }
            if (section.Map("servers") is { } own)
            {
                foreach (var name in own.Keys.ToList())
                {
                    if (own.Map(name) is { } entry && ReadServer(name, entry, strict: true, options.Separator) is { } s) servers.Add(s);
                }
            }
            section.ReportUnknownKeys(strict: true);
        }
        if (liteLlmServers is not null)
        {
            foreach (var name in liteLlmServers.Keys.ToList())
            {
                if (liteLlmServers.Map(name) is { } entry && ReadServer(name, entry, strict: false, options.Separator) is { } s) servers.Add(s);
            }
        }
        foreach (var dup in servers.GroupBy(s => s.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            context.Issues.Error(dup.Last().Path, $"MCP server '{dup.Key}' is configured twice ({string.Join(", ", dup.Select(d => d.Path))})");
        return options with { Servers = [.. servers] };
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex NamePattern();

    private static McpServerConfig? ReadServer(string rawName, ConfigMap e, bool strict, string separator)
    {
        var issues = e.Context.Issues;
        // LiteLLM's alias replaces the name as the tools' prefix; spaces become underscores (its normalize_server_name).
        var alias = e.String("alias") ?? e.String("server_name");
        var name = (alias ?? rawName).Replace(' ', '_');
        var ok = true;
        if (!NamePattern().IsMatch(name))
        {
            issues.Error(e.Path, $"MCP server name '{name}' must be 1 to 64 letters, digits, '_', '-' or '.' (it prefixes tool names)");
            ok = false;
        }
        else if (name.Contains(separator, StringComparison.Ordinal))
        {
            issues.Error(e.Path, $"MCP server name '{name}' contains the tool separator '{separator}' (mcp.tool_separator), so its tools' names could not be split; rename it or set alias");
            ok = false;
        }
        else if (name == McpOptions.SandboxServerName)
        {
            issues.Error(e.Path, $"'{McpOptions.SandboxServerName}' is the built-in sandbox server's name; choose another");
            ok = false;
        }

        var url = e.String("url");
        var command = e.String("command");
        var spec = e.String("spec_path") ?? e.String("spec");
        var transportText = (e.String("transport") ?? e.String("type"))?.ToLowerInvariant();
        McpTransport transport;
        switch (transportText)
        {
            case "http" or "streamable_http" or "streamable-http": transport = McpTransport.Http; break;
            case "sse": transport = McpTransport.Sse; break;
            case "stdio": transport = McpTransport.Stdio; break;
            case "openapi": transport = McpTransport.OpenApi; break;
            case null:
                // LiteLLM's examples give only a url, and an /sse path is its legacy SSE transport.
                transport = spec is not null ? McpTransport.OpenApi : command is not null ? McpTransport.Stdio
                    : url is not null && url.TrimEnd('/').EndsWith("/sse", StringComparison.OrdinalIgnoreCase) ? McpTransport.Sse : McpTransport.Http;
                break;
            default:
                issues.Error(e.Child("transport"), $"unknown MCP transport '{transportText}' (http, sse, stdio, openapi)");
                return null;
        }

        Uri? uri = null;
        if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out uri) || uri.Scheme is not ("http" or "https")))
        {
            issues.Error(e.Child("url"), $"expected an http(s) URL, got '{url}'");
            ok = false;
        }
        switch (transport)
        {
            case McpTransport.Http or McpTransport.Sse when uri is null && url is null:
                issues.Error(e.Path, "an http or sse MCP server needs a url"); ok = false; break;
            case McpTransport.Stdio when string.IsNullOrWhiteSpace(command):
                issues.Error(e.Path, "a stdio MCP server needs a command"); ok = false; break;
            case McpTransport.OpenApi when spec is null:
                issues.Error(e.Path, "an openapi MCP server needs spec_path (a file or URL of the OpenAPI document)"); ok = false; break;
        }
        var args = e.StringList("args");
        var env = e.StringPairs("env").Select(p => new KeyValuePair<string, Secret>(p.Key, new Secret(p.Value))).ToImmutableArray();
        var workingDirectory = e.String("cwd") ?? e.String("working_directory");

        var headers = new List<KeyValuePair<string, Secret>>();
        var authType = e.String("auth_type")?.ToLowerInvariant();
        var authValue = e.AuthSecret("auth_value") ?? e.AuthSecret("authentication_token");
        McpTokenExchange? exchange = null;
        switch (authType)
        {
            case "oauth2_token_exchange":
                exchange = ReadTokenExchange(e, strict, transport);
                if (exchange is null) ok = false;
                break;
            case null or "none" when authValue is null: break;
            case null or "bearer_token": headers.Add(new("Authorization", new Secret("Bearer " + StripBearer(authValue!)))); break;
            case "api_key": headers.Add(new("X-API-Key", new Secret(authValue))); break;
            case "basic": headers.Add(new("Authorization", new Secret("Basic " + authValue))); break;
            case "authorization": headers.Add(new("Authorization", new Secret(authValue))); break;
            case "token": headers.Add(new("Authorization", new Secret("token " + authValue))); break;
            default:
                issues.Unsupported(e.Child("auth_type"), $"MCP auth_type '{authType}'", "use bearer_token, api_key, basic, authorization or token with a static credential, static_headers, or oauth2_token_exchange for per-user tokens");
                break;
        }
        if (authType is not (null or "none") && authValue is null && authType is "bearer_token" or "api_key" or "basic" or "authorization" or "token")
            issues.Error(e.Path, $"auth_type {authType} needs auth_value (or authentication_token)");
        // static_headers (LiteLLM) and headers (ours) win over the auth header, as LiteLLM's merge_mcp_headers has it.
        foreach (var key in new[] { "static_headers", "headers" })
        {
            foreach (var (h, v) in e.StringPairs(key))
            {
                headers.RemoveAll(x => string.Equals(x.Key, h, StringComparison.OrdinalIgnoreCase));
                headers.Add(new(h, new Secret(v)));
            }
        }
        var forward = e.StringList("extra_headers").AddRange(e.StringList("forward_headers"));
        foreach (var h in forward)
        {
            if (h.Equals("x-litellm-api-key", StringComparison.OrdinalIgnoreCase))
                issues.Error(e.Child("extra_headers"), $"'{h}' carries gateway credentials and is never forwarded upstream; name the upstream's own header");
        }

        decimal costPerCall = 0;
        var toolCosts = ImmutableDictionary.CreateBuilder<string, decimal>(StringComparer.Ordinal);
        if (e.Map("mcp_info") is { } info)
        {
            if (info.Map("mcp_server_cost_info") is { } cost)
            {
                costPerCall = cost.Decimal("default_cost_per_query") ?? 0;
                if (cost.Map("tool_name_to_cost_per_query") is { } per)
                    foreach (var t in per.Keys.ToList()) if (per.Decimal(t) is { } c) toolCosts[t] = c;
                cost.ReportUnknownKeys(strict);
            }
            info.ReportUnknownKeys(strict: false);
        }
        if (e.Decimal("cost_per_call") is { } own) costPerCall = own;
        if (e.Map("tool_costs") is { } tc)
            foreach (var t in tc.Keys.ToList()) if (tc.Decimal(t) is { } c) toolCosts[t] = c;
        var rpms = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        if (e.Map("tool_rpms") is { } tr)
            foreach (var t in tr.Keys.ToList()) if (tr.Int(t, 1) is { } r) rpms[t] = r;

        var config = new McpServerConfig
        {
            Name = name,
            Description = e.String("description"),
            Transport = transport,
            Url = uri,
            Command = command,
            Args = args,
            Env = env,
            WorkingDirectory = workingDirectory,
            SpecPath = spec,
            Headers = [.. headers],
            ForwardHeaders = forward,
            AllowedTools = e.StringList("allowed_tools"),
            DisallowedTools = e.StringList("disallowed_tools"),
            AccessGroups = e.StringList("access_groups"),
            CostPerCall = costPerCall,
            ToolCosts = toolCosts.ToImmutable(),
            ToolRpm = e.Int("tool_rpm", 1),
            ToolRpms = rpms.ToImmutable(),
            CallTimeout = e.Duration("call_timeout", positive: true),
            TokenExchange = exchange,
            Path = e.Path,
        };
        if (transport == McpTransport.OpenApi && uri is null && spec is not null && !spec.StartsWith("http", StringComparison.OrdinalIgnoreCase))
            issues.Error(e.Path, "an openapi MCP server needs url (the base URL its operations are called on) when spec_path is a file");
        // LiteLLM keys we accept without acting on them: what they describe is said elsewhere here, or is display only.
        foreach (var quiet in new[] { "allow_all_keys", "available_on_public_internet", "server_id", "mcp_aliases", "tool_name_to_display_name", "tool_name_to_description" })
            if (!strict && e.Has(quiet)) e.Context.Issues.Warning(e.Child(quiet), "accepted and ignored (not served by this gateway)");
        e.ReportUnknownKeys(strict);
        return ok ? config : null;
    }

    /// <summary>
    /// auth_type oauth2_token_exchange, with LiteLLM's fields: token_exchange_endpoint (or token_url), audience,
    /// subject_token_type, client_id, client_secret, scopes and token_endpoint_auth_method; resource (RFC 8693's) besides.
    /// </summary>
    private static McpTokenExchange? ReadTokenExchange(ConfigMap e, bool strict, McpTransport transport)
    {
        var issues = e.Context.Issues;
        var ok = true;
        if (transport is not (McpTransport.Http or McpTransport.Sse))
        {
            issues.Error(e.Child("auth_type"), "oauth2_token_exchange needs an http or sse MCP server (the exchanged token is sent as its Authorization header)");
            ok = false;
        }
        var endpointKey = e.Has("token_exchange_endpoint") ? "token_exchange_endpoint" : "token_url";
        var endpointText = e.String(endpointKey);
        Uri? endpoint = null;
        if (endpointText is null)
        {
            issues.Error(e.Path, "auth_type oauth2_token_exchange needs token_exchange_endpoint (the authorization server's token endpoint)");
            ok = false;
        }
        else if (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https"))
        {
            issues.Error(e.Child(endpointKey), $"expected an http(s) URL, got '{endpointText}'");
            ok = false;
        }
        var clientId = e.String("client_id");
        var clientSecret = e.AuthSecret("client_secret");
        // LiteLLM refuses the exchange without both: the gateway is a confidential client of the authorization server.
        if (string.IsNullOrEmpty(clientId) || string.IsNullOrEmpty(clientSecret))
        {
            issues.Error(e.Path, "auth_type oauth2_token_exchange needs client_id and client_secret (the gateway's own credentials at the token endpoint)");
            ok = false;
        }
        var method = e.String("token_endpoint_auth_method");
        bool basic;
        switch (method)
        {
            // LiteLLM sends the credentials in the form unless told otherwise; our schema uses the method every
            // authorization server must support (RFC 6749 §2.3.1).
            case null: basic = strict; break;
            case "client_secret_basic": basic = true; break;
            case "client_secret_post": basic = false; break;
            default:
                issues.Error(e.Child("token_endpoint_auth_method"), $"must be client_secret_basic or client_secret_post, got '{method}'");
                return null;
        }
        var subjectType = e.String("subject_token_type") ?? McpTokenExchange.AccessTokenType;
        if (!subjectType.StartsWith("urn:", StringComparison.Ordinal))
        {
            issues.Error(e.Child("subject_token_type"), $"expected a token type URI such as {McpTokenExchange.AccessTokenType} or urn:ietf:params:oauth:token-type:jwt, got '{subjectType}'");
            ok = false;
        }
        if (!ok) return null;
        return new McpTokenExchange
        {
            Endpoint = endpoint!,
            Audience = e.String("audience"),
            Resource = e.String("resource"),
            SubjectTokenType = subjectType,
            Scopes = e.StringList("scopes"),
            ClientId = clientId!,
            ClientSecret = new Secret(clientSecret),
            BasicAuth = basic,
        };
    }

    private static string StripBearer(string value) =>
        value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..] : value;
}
