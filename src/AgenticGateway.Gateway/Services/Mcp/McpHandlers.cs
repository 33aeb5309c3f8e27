using AgenticGateway.Configuration;
using System.Diagnostics;
using System.Text.Json;
using AgenticGateway.Mcp;
using AgenticGateway.Mcp.Federation;
using AgenticGateway.Mcp.Upstreams;
using AgenticGateway.Pipeline;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The MCP methods the gateway answers, the same for every transport (stateless 2026-07-28, sessions, legacy SSE):
/// lists fanned out over the federation and filtered to what the caller may call, and calls checked (permission, pin,
/// limits, loop breaker, budget), bounded (timeout, result size) and routed to the tool's server.
/// </summary>
internal sealed partial class McpHandlers(McpGateway gateway, McpCallGuard guard, McpGuardrails guardrails, McpMetrics metrics, McpOAuthExchange oauth, IHttpContextAccessor http, ILogger<McpHandlers> log)
{
    public async ValueTask<ListToolsResult> ListToolsAsync(RequestContext<ListToolsRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var federation = gateway.Federation;
        var tools = await federation.ListToolsAsync(who.Server, ct);
        var visible = new List<Tool>(tools.Count);
        foreach (var t in tools)
            if (McpAccess.MayCall(who.Caller, t.Server, t.UpstreamName, t.Name)) visible.Add(t.Definition);
        // Filtered per caller: a cache must not share it (2026-07-28's cacheScope).
        return new ListToolsResult { Tools = visible, CacheScope = CacheScope.Private, TimeToLive = federation.Options.ListTtl };
    }

    public ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var name = request.Params?.Name ?? throw new McpProtocolException("tools/call needs params.name", McpErrorCode.InvalidParams);
        var args = request.Params.Arguments is { } a ? (IReadOnlyDictionary<string, JsonElement>)a.AsReadOnly() : null;
        return CallAsync(request.User, who, name, args, request.Server.SessionId, RequestId(), ct);
    }

    /// <summary>
    /// One tool call by its federated name, for an MCP client or for a tool the gateway runs inside a Responses call:
    /// permission, pin, limits, loop breaker and budget checked, bounded in time and size, charged and logged.
    /// Throws <see cref="McpProtocolException"/> for a tool that is unknown, held or not allowed for the caller.
    /// </summary>
    public async ValueTask<CallToolResult> CallAsync(System.Security.Claims.ClaimsPrincipal? user, McpRequestIdentity who, string name,
        IReadOnlyDictionary<string, JsonElement>? args, string? sessionId, string requestId, CancellationToken ct)
    {
        var federation = gateway.Federation;
        var tool = await federation.FindToolAsync(name, who.Server, ct);
        if (tool is null)
        {
            var held = federation.HeldReason(name, who.Server);
            throw new McpProtocolException(held is null ? $"Unknown tool: {name}"
                : $"Tool {name} is quarantined ({held}); an admin must approve its current definition before it can be called", McpErrorCode.InvalidParams);
        }
        if (!McpAccess.MayCall(who.Caller, tool.Server, tool.UpstreamName, tool.Name))
            throw new McpProtocolException($"Tool {name} is not allowed for this key", McpErrorCode.InvalidParams);

        // pre_mcp_call: the arguments are checked (and masked) before anything is counted, reserved or sent.
        var (checkedArgs, before) = await guardrails.ArgumentsAsync(GuardrailMode.PreMcpCall, args, who.Caller, requestId, tool.Name, ct);
        if (before is { Blocked: true })
        {
            metrics.Call(tool.Server.Name, tool.Name, "guardrail_blocked", 0);
            LogRefused(log, tool.Name, "guardrail " + before.BlockedBy);
            await guard.ChargeAsync(who.Caller, tool, null, requestId, 400, 0, McpGuardrails.Information(before));
            return McpGuardrails.Blocked(before, "the arguments of " + tool.Name);
        }
        args = checkedArgs;

        var owner = McpRequestIdentity.OwnerOf(who.Caller);
        var options = federation.Options;
        List<KeyValuePair<string, string>>? headers = null;
        string? refusal = null;
        Limits.Budgets.Hold? hold = null;
        try
        {
            headers = await ForwardedAsync(user, who, tool.Server, ct);
        }
        catch (McpTokenExchangeException ex)
        {
            refusal = ex.Message;
        }
        if (refusal is null) (refusal, hold) = await guard.AdmitAsync(who.Caller, owner, tool, args, options, ct);
        if (refusal is not null)
        {
            metrics.Call(tool.Server.Name, tool.Name, "refused", 0);
            LogRefused(log, tool.Name, refusal);
            return Failure(refusal);
        }

        var started = Stopwatch.GetTimestamp();
        var context = new McpCallContext(owner, sessionId, headers!);
        var timeout = tool.Server.Config?.CallTimeout ?? options.CallTimeout;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        using var span = Observability.GatewayTracing.Source.StartActivity("mcp " + tool.Name);
        span?.SetTag("mcp.server", tool.Server.Name);
        span?.SetTag("mcp.tool", tool.UpstreamName);
        CallToolResult result;
        string outcome;
        var status = 200;
        // during_mcp_call: checked while the call runs; its result waits for the verdict.
        var during = guardrails.Any(who.Caller, GuardrailMode.DuringMcpCall)
            ? guardrails.ArgumentsAsync(GuardrailMode.DuringMcpCall, args, who.Caller, requestId, tool.Name, ct).AsTask()
            : null;
        ContentCheck? duringCheck = null, after = null, output = null;
        try
        {
            result = await tool.Server.Upstream.CallToolAsync(tool.UpstreamName, args, context, limit.Token);
            tool.Server.Succeeded();
            outcome = result.IsError == true ? "tool_error" : "ok";
            var size = JsonSerializer.SerializeToUtf8Bytes(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))).Length;
            if (size > options.MaxResultBytes)
            {
                outcome = "too_large";
                status = 413;
                result = Failure($"The result of {tool.Name} is {size} bytes, over the gateway's limit of {options.MaxResultBytes} bytes (mcp.max_result_bytes); ask for less.");
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            outcome = "timeout";
            status = 504;
            result = Failure($"{tool.Name} did not answer within {timeout.TotalSeconds:0.###} s and was cancelled.");
        }
        catch (McpProtocolException)
        {
            // The upstream's own protocol error (unknown tool, bad arguments) goes to the client as it is.
            var failedAfter = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            metrics.Call(tool.Server.Name, tool.Name, "protocol_error", failedAfter);
            await guard.ChargeAsync(who.Caller, tool, hold, requestId, 400, failedAfter);
            throw;
        }
        catch (Exception ex) when (ex is McpUpstreamUnavailableException or IOException or HttpRequestException or McpException or InvalidOperationException)
        {
            tool.Server.Failed(ex);
            // Its tools leave the lists until it answers again (the next list asks it, after its client's backoff).
            tool.Server.Tools = null;
            outcome = "unavailable";
            status = 502;
            LogUpstreamFailed(log, tool.Server.Name, tool.Name, ex.Message);
            result = Failure($"The MCP server '{tool.Server.Name}' could not run {tool.Name}: it is unavailable. Other tools are not affected.");
        }
        if (during is not null)
        {
            duringCheck = (await during).Check;
            if (duringCheck is { Blocked: true })
            {
                outcome = "guardrail_blocked";
                status = 400;
                result = McpGuardrails.Blocked(duringCheck, "the arguments of " + tool.Name);
            }
        }
        if (status == 200)
        {
            // post_mcp_call on every result; the sandbox server's are sandbox output as well.
            (result, after) = await guardrails.ResultAsync(GuardrailMode.PostMcpCall, result, who.Caller, requestId, tool.Name, ct);
            if (after is not { Blocked: true } && tool.Server.Upstream is SandboxToolServer)
                (result, output) = await guardrails.ResultAsync(GuardrailMode.SandboxOutput, result, who.Caller, requestId, tool.Name, ct);
            if (after is { Blocked: true } || output is { Blocked: true }) outcome = "guardrail_blocked";
        }
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        span?.SetTag("mcp.outcome", outcome);
        metrics.Call(tool.Server.Name, tool.Name, outcome, elapsed);
        await guard.ChargeAsync(who.Caller, tool, hold, requestId, status, elapsed, McpGuardrails.Information(before, duringCheck, after, output));
        LogCall(log, tool.Name, outcome, elapsed, requestId);
        return result;
    }

    public async ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var federation = gateway.Federation;
        var prompts = new List<Prompt>();
        foreach (var (server, prompt) in await federation.ListPromptsAsync(who.Server, ct))
        {
            if (!McpAccess.MayUseServer(who.Caller, server)) continue;
            prompts.Add(new Prompt { Name = federation.Expose(server.Name, prompt.Name), Title = prompt.Title, Description = prompt.Description, Arguments = prompt.Arguments, Icons = prompt.Icons, Meta = prompt.Meta });
        }
        return new ListPromptsResult { Prompts = prompts, CacheScope = CacheScope.Private, TimeToLive = federation.Options.ListTtl };
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var name = request.Params?.Name ?? throw new McpProtocolException("prompts/get needs params.name", McpErrorCode.InvalidParams);
        var federation = gateway.Federation;
        if (federation.ResolvePrompt(name, who.Server) is not { } target || !McpAccess.MayUseServer(who.Caller, target.Server))
            throw new McpProtocolException($"Unknown prompt: {name}", McpErrorCode.InvalidParams);
        var args = request.Params.Arguments is { } a ? (IReadOnlyDictionary<string, JsonElement>)a.AsReadOnly() : null;
        return await RelayAsync(request, who, target.Server, federation.Options, (context, c) => target.Server.Upstream.GetPromptAsync(target.Name, args, context, c), ct);
    }

    public async ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var federation = gateway.Federation;
        var resources = new List<Resource>();
        foreach (var (server, resource) in await federation.ListResourcesAsync(who.Server, ct))
            if (McpAccess.MayUseServer(who.Caller, server)) resources.Add(resource);
        return new ListResourcesResult { Resources = resources, CacheScope = CacheScope.Private, TimeToLive = federation.Options.ListTtl };
    }

    public async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken ct)
    {
        var who = Identity(request);
        var uri = request.Params?.Uri ?? throw new McpProtocolException("resources/read needs params.uri", McpErrorCode.InvalidParams);
        var federation = gateway.Federation;
        var server = await federation.ResourceServerAsync(uri, who.Server, ct);
        if (server is null || !McpAccess.MayUseServer(who.Caller, server))
            throw new McpProtocolException($"Resource not found: {uri}", McpErrorCode.ResourceNotFound);
        return await RelayAsync(request, who, server, federation.Options, (context, c) => server.Upstream.ReadResourceAsync(uri, context, c), ct);
    }

    /// <summary>
    /// A prompt or resource read on its server, with the caller's headers (or exchanged token) and the call timeout.
    /// Refusals and an unavailable server are JSON-RPC errors: unlike a tool's, these results have no isError.
    /// </summary>
    private async Task<T> RelayAsync<TParams, T>(RequestContext<TParams> request, McpRequestIdentity who, ServerState server, McpOptions options,
        Func<McpCallContext, CancellationToken, ValueTask<T>> call, CancellationToken ct)
    {
        List<KeyValuePair<string, string>> headers;
        try
        {
            headers = await ForwardedAsync(request.User, who, server, ct);
        }
        catch (McpTokenExchangeException ex)
        {
            throw new McpProtocolException(ex.Message, McpErrorCode.InvalidRequest);
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(options.CallTimeout);
        try
        {
            return await call(new McpCallContext(McpRequestIdentity.OwnerOf(who.Caller), request.Server.SessionId, headers), limit.Token);
        }
        catch (Exception ex) when (ex is McpUpstreamUnavailableException or IOException or HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            throw new McpProtocolException($"The MCP server '{server.Name}' is unavailable: {ex.Message}", McpErrorCode.InternalError);
        }
    }

    private static McpRequestIdentity Identity<T>(RequestContext<T> request) =>
        request.User?.Identities.OfType<McpRequestIdentity>().FirstOrDefault()
        ?? throw new McpProtocolException("The request carries no gateway identity", McpErrorCode.InvalidRequest);

    /// <summary>
    /// The client headers a server may receive: those its config lists (LiteLLM's extra_headers) and
    /// x-mcp-{server}-{header} (LiteLLM's per-server credentials, sent as {header}). Never the gateway's own credential.
    /// </summary>
    private static List<KeyValuePair<string, string>> Forwarded(McpRequestIdentity who, ServerState server)
    {
        var result = new List<KeyValuePair<string, string>>();
        var prefix = "x-mcp-" + server.Name + "-";
        foreach (var (name, value) in who.Headers)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && name.Length > prefix.Length)
                result.Add(new(name[prefix.Length..], value));
            else if (server.Config is { } config && config.ForwardHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
                result.Add(new(name, value));
        }
        return result;
    }

    /// <summary>
    /// The headers of a call to <paramref name="server"/>: <see cref="Forwarded"/>'s, and for a server with per-user
    /// tokens (oauth2_token_exchange) the token exchanged for the caller's JWT as its Authorization, in place of any
    /// the client forwarded. A caller without a JWT (a virtual key, the master key) has no identity to exchange.
    /// </summary>
    /// <exception cref="McpTokenExchangeException">No token could be had; the message says why, for the caller.</exception>
    private async ValueTask<List<KeyValuePair<string, string>>> ForwardedAsync(System.Security.Claims.ClaimsPrincipal? user, McpRequestIdentity who, ServerState server, CancellationToken ct)
    {
        var headers = Forwarded(who, server);
        if (server.Config?.TokenExchange is not { } exchange) return headers;
        var subject = user?.Identities.OfType<McpOAuthSubject>().FirstOrDefault()
            ?? throw new McpTokenExchangeException($"The MCP server '{server.Name}' is called with each user's own token, exchanged for the JWT "
                + "the user authenticates with: call it with such a JWT (Authorization: Bearer <jwt>), not an API key.");
        var token = await oauth.AccessTokenAsync(server.Name, exchange, subject, ct);
        headers.RemoveAll(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
        headers.Add(new("Authorization", "Bearer " + token));
        return headers;
    }

    private string RequestId() => http.HttpContext?.Features.Get<GatewayRequest>()?.Id ?? "";

    private static CallToolResult Failure(string text) => new() { IsError = true, Content = [new TextContentBlock { Text = text }] };

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP call {Tool} {Outcome} in {ElapsedMs:0.###} ms (request {RequestId})")]
    private static partial void LogCall(ILogger logger, string tool, string outcome, double elapsedMs, string requestId);

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP call {Tool} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string tool, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server} failed a call of {Tool}: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string server, string tool, string reason);
}
