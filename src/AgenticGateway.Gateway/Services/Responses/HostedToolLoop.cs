using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Responses;
using AgenticGateway.Routing;
using AgenticGateway.Services.Containers;
using AgenticGateway.Services.Llm;
using AgenticGateway.Services.Mcp;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Services.Responses;

/// <summary>
/// A Responses call with tools the gateway runs itself, for any provider: the model is offered function tools in their
/// place (<c>code_interpreter</c>; each allowed tool of each <c>mcp</c> server), and each turn is a whole chat completion
/// through the LLM service (routing, retries, fallbacks, spend). The gateway runs the calls the model makes (code in the
/// caller's sandbox, MCP tools with the caller's permissions), feeds the results back and asks again, until the model
/// answers, calls a function of the client's, or a call needs the client's approval. The last allowed turn offers no
/// hosted tool, so the loop always ends with an answer. The client sees OpenAI's items (<c>code_interpreter_call</c>,
/// <c>mcp_list_tools</c>, <c>mcp_call</c>, <c>mcp_approval_request</c>) and, when it streams, their events; the model's
/// text of each turn arrives whole, as one delta, since a turn is not streamed.
/// </summary>
internal sealed partial class HostedToolLoop(LlmService llm, CodeInterpreter code, McpGateway mcp, McpHandlers mcpCalls, ResponsesSettings settings,
    ILogger<HostedToolLoop> logger)
{
    /// <summary>The function the model calls to run Python (LiteLLM offers the same tool under its own name).</summary>
    internal const string CodeFunction = ResponsesToChat.CodeInterpreterFunction;
    private const int MaxToolOutputChars = 16_000;

    /// <summary>
    /// Runs the loop for a client: a JSON answer, or the events as they happen. Returns the response object (to store),
    /// or null when the request was refused before anything was answered.
    /// </summary>
    public async Task<byte[]?> RunAsync(HttpContext context, LlmRequest request, Caller caller, ResponsesCall call, IReadOnlyList<HostedTool> hosted)
    {
        var outcome = new LoopOutcome();
        context.Features.Set<ILlmOutcome>(outcome);
        var run = new LoopRun(request, caller, call, hosted, context.Features.Get<GatewayRequest>()!.Id, context.Request, outcome, context.RequestAborted)
        {
            Events = call.Request.Stream ? new LoopEvents(context.Response) : null,
        };
        var prepared = await PrepareAsync(run);
        if (prepared is not null)
        {
            outcome.Status = prepared.Status;
            await PipelineErrors.WriteAsync(context, prepared);
            return null;
        }
        if (run.Events is { } events)
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["x-accel-buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var start = Snapshot(run, "in_progress");
            await events.ResponseAsync("response.created", start, run.Ct);
            await events.ResponseAsync("response.in_progress", start, run.Ct);
        }
        try
        {
            await LoopAsync(run);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            outcome.Status = StatusCodes.Status499ClientClosedRequest;
            return null;
        }
        if (run.Failure is { } failure && run.Events is null && run.Output.Count == 0)
        {
            // Nothing was produced: the client gets the error itself, with its status, as for a chat completion.
            outcome.Status = failure.Status;
            await PipelineErrors.WriteAsync(context, failure);
            return null;
        }
        var final = Final(run);
        outcome.Status = 200;
        if (run.Events is { } done)
        {
            await done.ResponseAsync(run.Failure is null ? (run.Status == "incomplete" ? "response.incomplete" : "response.completed") : "response.failed", final, run.Ct);
        }
        else
        {
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(final, run.Ct);
        }
        return final;
    }

    /// <summary>The loop for a background response: nothing is written; the response object and what the turns cost.</summary>
    public async Task<(byte[] Response, long CostNanos)> RunCapturedAsync(LlmRequest request, Caller caller, ResponsesCall call, IReadOnlyList<HostedTool> hosted,
        string requestId, CancellationToken ct)
    {
        var outcome = new LoopOutcome();
        var run = new LoopRun(request, caller, call, hosted, requestId, null, outcome, ct);
        if (await PrepareAsync(run) is { } refused)
            run.Failure = refused;
        else
            await LoopAsync(run);
        return (Final(run), outcome.CostNanos);
    }

    /// <summary>
    /// Resolves the MCP servers (each must be one of this gateway's, usable by the caller) and lists their tools; the
    /// function tools the model is offered. An error here is the client's (400/403), answered before anything starts.
    /// </summary>
    private async Task<ApiError?> PrepareAsync(LoopRun run)
    {
        foreach (var tool in run.Hosted)
        {
            switch (tool)
            {
                case CodeInterpreterTool:
                    run.Functions.Add(CodeFunctionDefinition());
                    break;
                case McpTool m:
                    if (await ListMcpAsync(run, m) is { } error) return error;
                    break;
            }
        }
        foreach (var name in ClientFunctionNames(run.Call.Request))
            if (name == CodeFunction && run.Hosted.OfType<CodeInterpreterTool>().Any() || run.McpFunctions.ContainsKey(name))
                return ApiError.BadRequest($"The function tool '{name}' has the name of a tool the gateway runs for this request; rename it.", "tools", "duplicate_tool_name");
        return null;
    }

    private async Task<ApiError?> ListMcpAsync(LoopRun run, McpTool m)
    {
        var federation = mcp.Federation;
        var serverName = ServerName(federation, m);
        if (serverName is null || federation.Server(serverName) is not { } server)
            return ApiError.BadRequest(m.ServerUrl is null
                ? $"server_label '{m.Label}' is not an MCP server of this gateway; name one of them, or give its server_url."
                : $"server_url '{m.ServerUrl}' is not an MCP server of this gateway: the gateway calls only the servers its operator configured.", "tools", "unknown_mcp_server");
        if (!McpAccess.MayUseServer(run.Caller, server))
            return new ApiError(403, $"This key may not use the MCP server '{serverName}'.", "permission_error", "mcp_server_not_allowed", "tools");
        var listed = new JsonArray();
        foreach (var t in await federation.ListToolsAsync(serverName, run.Ct))
        {
            if (!McpAccess.MayCall(run.Caller, t.Server, t.UpstreamName, t.Name)) continue;
            if (m.AllowedTools is { } allowed && !allowed.Contains(t.UpstreamName, StringComparer.Ordinal)) continue;
            var readOnly = t.Definition.Annotations?.ReadOnlyHint == true;
            if (m.ReadOnlyOnly && !readOnly) continue;
            var function = ResponsesToChat.McpFunctionName(m.Label, t.UpstreamName);
            run.McpFunctions[function] = new McpFunction(m, serverName, t.Name, t.UpstreamName, readOnly);
            var schema = JsonSerializer.SerializeToNode(t.Definition.InputSchema, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonElement)));
            run.Functions.Add(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = function,
                    ["description"] = t.Definition.Description ?? t.Definition.Title ?? t.UpstreamName,
                    ["parameters"] = schema,
                },
            });
            var entry = new JsonObject { ["name"] = t.UpstreamName, ["description"] = t.Definition.Description, ["input_schema"] = schema?.DeepClone() };
            entry["annotations"] = t.Definition.Annotations is { } a
                ? JsonSerializer.SerializeToNode(a, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ModelContextProtocol.Protocol.ToolAnnotations)))
                : null;
            listed.Add(entry);
        }
        // OpenAI lists a server's tools once per conversation: an earlier turn's list stands.
        if (!run.Call.History.Any(i => (string?)i["type"] == "mcp_list_tools" && (string?)i["server_label"] == m.Label))
            run.PendingLists.Add(new JsonObject { ["id"] = ResponsesIds.New("mcpl"), ["type"] = "mcp_list_tools", ["server_label"] = m.Label, ["tools"] = listed });
        return null;
    }

    private static string? ServerName(global::AgenticGateway.Mcp.Federation.McpFederation federation, McpTool m)
    {
        if (m.ServerUrl is null) return federation.Server(m.Label) is null ? null : m.Label;
        var url = new Uri(m.ServerUrl);
        // This gateway's own /mcp/{server}, or the URL a configured server is reached at.
        var path = url.AbsolutePath.TrimEnd('/');
        var at = path.LastIndexOf("/mcp/", StringComparison.Ordinal);
        if (at >= 0 && federation.Server(Uri.UnescapeDataString(path[(at + 5)..])) is { } own) return own.Name;
        return federation.Servers.FirstOrDefault(s => s.Config?.Url is { } u && Uri.Compare(u, url, UriComponents.HttpRequestUrl, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)?.Name;
    }

    private async Task LoopAsync(LoopRun run)
    {
        foreach (var list in run.PendingLists)
        {
            await AddItemAsync(run, list, "response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed");
        }
        await AnswerApprovalsAsync(run);
        var max = Math.Max(1, settings.MaxToolIterations);
        for (var turn = 0; turn < max; turn++)
        {
            run.Ct.ThrowIfCancellationRequested();
            var last = turn == max - 1;
            var (chat, invalid) = TurnBody(run, offerHosted: !last);
            if (invalid is not null)
            {
                run.Failure = invalid;
                return;
            }
            using var body = RequestBody.Of(chat);
            RequestReader.TryParse(body.Span, LlmOperation.ChatCompletions, out var parsed);
            var turnRequest = new LlmRequest(run.Request.Runtime, LlmOperation.ChatCompletions, body, parsed, run.Request.Group, TokenEstimate(run, body), default);
            var answer = await llm.CallCapturedAsync(run.Origin, turnRequest, run.Caller, run.RequestId, null, run.Ct);
            run.Outcome.Add(answer.Exchange);
            if (answer.Error is { } error)
            {
                run.Failure = error;
                return;
            }
            ResponsesOutput produced;
            try
            {
                produced = ChatToResponses.FromCompletion(answer.Body);
            }
            catch (Exception ex) when (ex is InvalidDataException or JsonException or InvalidOperationException or ArgumentException)
            {
                run.Failure = new ApiError(502, $"The model's answer could not be read: {ex.Message}", "server_error", "invalid_upstream_response");
                return;
            }
            run.AddUsage(produced.Usage);
            run.Status = produced.Status;
            run.IncompleteDetails = produced.IncompleteDetails;
            var hostedCalls = new List<JsonObject>();
            var clientCalls = false;
            foreach (var node in produced.Output)
            {
                if (node is not JsonObject item) continue;
                if ((string?)item["type"] == "function_call" && (string?)item["name"] is { } name && (name == CodeFunction && run.HasCode || run.McpFunctions.ContainsKey(name)))
                {
                    hostedCalls.Add(item);
                    continue;
                }
                clientCalls |= (string?)item["type"] == "function_call";
                await AddModelItemAsync(run, item.DeepClone().AsObject());
            }
            if (hostedCalls.Count == 0) return;
            var needsApproval = false;
            foreach (var hostedCall in hostedCalls)
                needsApproval |= await RunHostedCallAsync(run, hostedCall);
            // The client answers its own function calls and approvals; the response ends here for it to do so.
            if (needsApproval || clientCalls)
            {
                run.Status = "completed";
                return;
            }
        }
    }

    /// <summary>The chat body of the next turn: the conversation so far (hosted items as function calls and their results).</summary>
    private static (byte[] Body, ApiError? Error) TurnBody(LoopRun run, bool offerHosted)
    {
        // The converter reads the gateway's own items in the history as the function calls and results they stand for.
        var history = new List<JsonNode>(run.Call.History);
        foreach (var item in run.Call.Request.Input)
            if (item is not null) history.Add(item);
        history.AddRange(run.Conversation);
        // The last turn offers no hosted tool: the converter then sends only the client's own functions (and no tools,
        // tool_choice or parallel_tool_calls when there are none), so the model answers.
        if (ResponsesToChat.Convert(run.Call.Request.WithInput([]), history, offerHosted ? run.Functions : [], stream: false, out var chat, referencedItems: run.Call.ReferencedItems) is { } error)
            return ([], error);
        return (chat, null);
    }

    /// <summary>The client's answers to earlier approval requests: approved calls run now, refusals are told to the model.</summary>
    private async Task AnswerApprovalsAsync(LoopRun run)
    {
        foreach (var node in run.Call.Request.Input)
        {
            if (node is not JsonObject response || (string?)response["type"] != "mcp_approval_response") continue;
            var requestId = (string?)response["approval_request_id"];
            var request = run.Call.History.OfType<JsonObject>().FirstOrDefault(i => (string?)i["type"] == "mcp_approval_request" && (string?)i["id"] == requestId);
            if (request is null) continue;
            var label = (string?)request["server_label"] ?? "";
            var name = (string?)request["name"] ?? "";
            var arguments = (string?)request["arguments"] ?? "{}";
            var function = ResponsesToChat.McpFunctionName(label, name);
            if (response["approve"]?.GetValueKind() == JsonValueKind.True && run.McpFunctions.TryGetValue(function, out var target))
            {
                await CallMcpAsync(run, target, requestId!, arguments, requestId);
            }
            else
            {
                var reason = (string?)response["reason"];
                run.Conversation.Add(FunctionCall(requestId!, function, arguments));
                run.Conversation.Add(FunctionOutput(requestId!, "The user did not approve this call" + (reason is null ? "." : ": " + reason)));
            }
        }
    }

    /// <summary>Runs one hosted call; true when it waits for the client's approval instead.</summary>
    private async Task<bool> RunHostedCallAsync(LoopRun run, JsonObject call)
    {
        var name = (string)call["name"]!;
        var callId = (string?)call["call_id"] ?? ResponsesIds.New("call");
        var arguments = (string?)call["arguments"] ?? "{}";
        if (name == CodeFunction)
        {
            await RunCodeAsync(run, callId, arguments);
            return false;
        }
        var target = run.McpFunctions[name];
        if (target.Tool.Approval.Requires(target.UpstreamName, target.ReadOnly))
        {
            var request = new JsonObject
            {
                ["id"] = ResponsesIds.New("mcpr"),
                ["type"] = "mcp_approval_request",
                ["arguments"] = arguments,
                ["name"] = target.UpstreamName,
                ["server_label"] = target.Tool.Label,
            };
            await AddItemAsync(run, request, null, null);
            return true;
        }
        await CallMcpAsync(run, target, callId, arguments, null);
        return false;
    }

    private async Task RunCodeAsync(LoopRun run, string callId, string arguments)
    {
        var source = ReadCode(arguments);
        var item = new JsonObject
        {
            ["id"] = ResponsesIds.New("ci"),
            ["type"] = "code_interpreter_call",
            ["status"] = "in_progress",
            ["code"] = source,
            ["container_id"] = run.ContainerId ?? "",
            ["outputs"] = null,
        };
        var index = run.Output.Count;
        var itemId = (string)item["id"]!;
        if (run.Events is { } events)
        {
            await events.ItemAsync("response.output_item.added", index, item, run.Ct);
            await events.OfItemAsync("response.code_interpreter_call.in_progress", index, itemId, null, run.Ct);
            await events.OfItemAsync("response.code_interpreter_call_code.delta", index, itemId, new JsonObject { ["delta"] = source }, run.Ct);
            await events.OfItemAsync("response.code_interpreter_call_code.done", index, itemId, new JsonObject { ["code"] = source }, run.Ct);
            await events.OfItemAsync("response.code_interpreter_call.interpreting", index, itemId, null, run.Ct);
        }
        var (ran, resultText, container) = await ExecuteCodeAsync(run.Caller, run.ContainerId, source, run.RequestId, item, run.Ct);
        item = ran;
        run.ContainerId = container ?? run.ContainerId;
        run.Output.Add(item);
        if (run.Events is { } done)
        {
            if ((string?)item["status"] == "completed") await done.OfItemAsync("response.code_interpreter_call.completed", index, itemId, null, run.Ct);
            await done.ItemAsync("response.output_item.done", index, item, run.Ct);
        }
        run.Conversation.Add(FunctionCall(callId, CodeFunction, arguments));
        run.Conversation.Add(FunctionOutput(callId, resultText));
    }

    /// <summary>
    /// Runs code for a code_interpreter call in the caller's sandbox (a given container, else the one made for this
    /// conversation): the <c>code_interpreter_call</c> item completed with its outputs, the text the model reads back,
    /// and the container it ran in. A sandbox that cannot be had fails the item, not the response.
    /// </summary>
    internal async Task<(JsonObject Item, string ModelText, string? ContainerId)> ExecuteCodeAsync(Caller caller, string? containerId, string source, string requestId,
        JsonObject item, CancellationToken ct)
    {
        try
        {
            var result = await code.RunAsync(caller, containerId, source, requestId, ct);
            var outputs = new JsonArray();
            if (result.Logs.Length > 0 || result.Images.Count == 0) outputs.Add(new JsonObject { ["type"] = "logs", ["logs"] = result.Logs });
            foreach (var image in result.Images)
                outputs.Add(new JsonObject { ["type"] = "image", ["url"] = $"/v1/containers/{image.ContainerId}/files/{image.FileId}/content" });
            item["container_id"] = result.ContainerId;
            item["outputs"] = outputs;
            item["status"] = "completed";
            return (item, CodeOutputText(outputs, result.Error), result.ContainerId);
        }
        catch (CodeInterpreterException ex)
        {
            item["status"] = "failed";
            Log.CodeUnavailable(logger, ex.Error.Message);
            return (item, "The code could not be run: " + ex.Error.Message, null);
        }
    }

    private async Task CallMcpAsync(LoopRun run, McpFunction target, string callId, string arguments, string? approvalRequestId)
    {
        var item = new JsonObject
        {
            ["id"] = ResponsesIds.New("mcp"),
            ["type"] = "mcp_call",
            ["approval_request_id"] = approvalRequestId,
            ["arguments"] = arguments,
            ["error"] = null,
            ["name"] = target.UpstreamName,
            ["output"] = null,
            ["server_label"] = target.Tool.Label,
            ["status"] = "calling",
        };
        var index = run.Output.Count;
        var itemId = (string)item["id"]!;
        if (run.Events is { } events)
        {
            await events.ItemAsync("response.output_item.added", index, item, run.Ct);
            await events.OfItemAsync("response.mcp_call.in_progress", index, itemId, null, run.Ct);
            await events.OfItemAsync("response.mcp_call_arguments.delta", index, itemId, new JsonObject { ["delta"] = arguments }, run.Ct);
            await events.OfItemAsync("response.mcp_call_arguments.done", index, itemId, new JsonObject { ["arguments"] = arguments }, run.Ct);
        }
        string resultText;
        Dictionary<string, JsonElement>? args = null;
        try
        {
            args = JsonSerializer.Deserialize(arguments, ResponsesLoopJson.Default.DictionaryStringJsonElement);
        }
        catch (JsonException)
        {
        }
        if (args is null)
        {
            resultText = "The arguments are not a JSON object.";
            item["error"] = new JsonObject { ["type"] = "mcp_protocol_error", ["code"] = -32602, ["message"] = resultText };
            item["status"] = "failed";
        }
        else
        {
            try
            {
                var who = new McpRequestIdentity(run.Caller, target.ServerName, [.. target.Tool.Headers, .. ClientHeaders(run.Origin)]);
                var result = await mcpCalls.CallAsync(null, who, target.ExposedName, args, null, run.RequestId, run.Ct);
                resultText = McpText(result);
                if (result.IsError == true)
                {
                    item["error"] = new JsonObject
                    {
                        ["type"] = "mcp_tool_execution_error",
                        ["content"] = JsonSerializer.SerializeToNode(result.Content, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IList<ModelContextProtocol.Protocol.ContentBlock>))),
                    };
                    item["status"] = "failed";
                }
                else
                {
                    item["output"] = resultText;
                    item["status"] = "completed";
                }
            }
            catch (ModelContextProtocol.McpProtocolException ex)
            {
                resultText = ex.Message;
                item["error"] = new JsonObject { ["type"] = "mcp_protocol_error", ["code"] = (int)ex.ErrorCode, ["message"] = ex.Message };
                item["status"] = "failed";
            }
        }
        run.Output.Add(item);
        if (run.Events is { } done)
        {
            await done.OfItemAsync((string?)item["status"] == "completed" ? "response.mcp_call.completed" : "response.mcp_call.failed", index, itemId, null, run.Ct);
            await done.ItemAsync("response.output_item.done", index, item, run.Ct);
        }
        run.Conversation.Add(FunctionCall(callId, ResponsesToChat.McpFunctionName(target.Tool.Label, target.UpstreamName), arguments));
        run.Conversation.Add(FunctionOutput(callId, resultText));
    }

    /// <summary>The headers a client sent that an MCP server may be given (x-mcp-{server}-*, and what the server's config forwards).</summary>
    private static IEnumerable<KeyValuePair<string, string>> ClientHeaders(HttpRequest? origin)
    {
        if (origin is null) yield break;
        foreach (var (name, value) in origin.Headers)
            if (name.StartsWith("x-mcp-", StringComparison.OrdinalIgnoreCase)) yield return new(name, value.ToString());
    }

    /// <summary>A model item (message, reasoning, the client's function call) added to the output, with its events.</summary>
    private static async Task AddModelItemAsync(LoopRun run, JsonObject item)
    {
        var index = run.Output.Count;
        run.Output.Add(item);
        if (run.Events is { } events) await events.CompletedItemAsync(index, item, run.Ct);
    }

    /// <summary>An item the gateway made (a tool list, an approval request), with its in-progress and completed events where it has them.</summary>
    private static async Task AddItemAsync(LoopRun run, JsonObject item, string? inProgress, string? completed)
    {
        var index = run.Output.Count;
        run.Output.Add(item);
        if (run.Events is not { } events) return;
        var itemId = (string)item["id"]!;
        await events.ItemAsync("response.output_item.added", index, item, run.Ct);
        if (inProgress is not null) await events.OfItemAsync(inProgress, index, itemId, null, run.Ct);
        if (completed is not null) await events.OfItemAsync(completed, index, itemId, null, run.Ct);
        await events.ItemAsync("response.output_item.done", index, item, run.Ct);
    }

    private static byte[] Snapshot(LoopRun run, string status) =>
        ChatToResponses.Response(run.Call.Request, run.Call.Id, run.Call.CreatedAt, status, [], null, null, null);

    private static byte[] Final(LoopRun run)
    {
        var output = new JsonArray([.. run.Output.Select(i => i.DeepClone())]);
        if (run.Failure is { } failure)
            return ChatToResponses.Response(run.Call.Request, run.Call.Id, run.Call.CreatedAt, "failed", output, run.Usage,
                new JsonObject { ["code"] = failure.Code ?? failure.Type, ["message"] = failure.Message }, null);
        return ChatToResponses.Response(run.Call.Request, run.Call.Id, run.Call.CreatedAt, run.Status, output, run.Usage, null, run.Status == "incomplete" ? run.IncompleteDetails : null);
    }

    private static long TokenEstimate(LoopRun run, RequestBody body) =>
        run.Caller.Identity is null ? 0 : Pricing.TokenEstimator.EstimatePromptTokens(body.Span);

    internal static JsonObject CodeFunctionDefinition() => new()
    {
        ["type"] = "function",
        ["function"] = new JsonObject
        {
            ["name"] = CodeFunction,
            ["description"] = "Runs Python 3 code in a sandbox and returns what it printed (stdout and stderr) and any error. State (variables, files) "
                + "persists between calls of this conversation. The working directory is /home/user, where files the code writes stay available; figures are saved as images. "
                + "The sandbox has no network access.",
            ["parameters"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject { ["code"] = new JsonObject { ["type"] = "string", ["description"] = "The Python code to run." } },
                ["required"] = new JsonArray("code"),
                ["additionalProperties"] = false,
            },
        },
    };

    /// <summary>The code of a code_interpreter call: its <c>code</c> argument (a model that sends bare code is taken at its word).</summary>
    internal static string ReadCode(string arguments)
    {
        try
        {
            if (JsonNode.Parse(arguments, documentOptions: Json.JsonText.NodeOptions) is JsonObject o && o["code"] is JsonValue v && v.TryGetValue<string>(out var source)) return source;
        }
        catch (JsonException)
        {
        }
        return arguments;
    }

    /// <summary>What the model reads back from a code run: its logs, its error, and where its images are.</summary>
    internal static string CodeOutputText(JsonArray? outputs, string? error)
    {
        var text = new System.Text.StringBuilder();
        foreach (var o in outputs ?? [])
        {
            if ((string?)o?["type"] == "logs") text.Append((string?)o["logs"]);
            else if ((string?)o?["type"] == "image") text.Append("\n[image: ").Append((string?)o["url"]).Append(']');
        }
        if (error is not null) text.Append('\n').Append(error);
        if (text.Length == 0) text.Append("(no output)");
        return text.Length > MaxToolOutputChars ? text.ToString(0, MaxToolOutputChars) + "\n[output truncated]" : text.ToString();
    }

    private static string McpText(ModelContextProtocol.Protocol.CallToolResult result)
    {
        var text = new System.Text.StringBuilder();
        foreach (var block in result.Content)
        {
            if (block is ModelContextProtocol.Protocol.TextContentBlock t) text.Append(t.Text);
            else text.Append(JsonSerializer.Serialize(block, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ModelContextProtocol.Protocol.ContentBlock))));
        }
        if (text.Length == 0 && result.StructuredContent is { } structured) text.Append(structured.ToString());
        return text.Length > MaxToolOutputChars ? text.ToString(0, MaxToolOutputChars) + "\n[output truncated]" : text.ToString();
    }

    private static JsonObject FunctionCall(string callId, string name, string arguments) =>
        new() { ["type"] = "function_call", ["call_id"] = callId, ["name"] = name, ["arguments"] = arguments };

    private static JsonObject FunctionOutput(string callId, string output) =>
        new() { ["type"] = "function_call_output", ["call_id"] = callId, ["output"] = output };

    private static IEnumerable<string> ClientFunctionNames(ResponsesCreate request)
    {
        foreach (var tool in request.Tools)
            if (tool is JsonObject t && (string?)t["type"] == "function" && (string?)t["name"] is { } name) yield return name;
    }

    /// <summary>An MCP tool as offered to the model: its request tool, the gateway server it is on, its federated and own names.</summary>
    private sealed record McpFunction(McpTool Tool, string ServerName, string ExposedName, string UpstreamName, bool ReadOnly);

    /// <summary>One loop's state.</summary>
    private sealed class LoopRun(LlmRequest request, Caller caller, ResponsesCall call, IReadOnlyList<HostedTool> hosted, string requestId,
        HttpRequest? origin, LoopOutcome outcome, CancellationToken ct)
    {
        public LlmRequest Request { get; } = request;
        public Caller Caller { get; } = caller;
        public ResponsesCall Call { get; } = call;
        public IReadOnlyList<HostedTool> Hosted { get; } = hosted;
        public string RequestId { get; } = requestId;
        public HttpRequest? Origin { get; } = origin;
        public LoopOutcome Outcome { get; } = outcome;
        public CancellationToken Ct { get; } = ct;
        public LoopEvents? Events { get; init; }
        public List<JsonObject> Functions { get; } = [];
        public Dictionary<string, McpFunction> McpFunctions { get; } = new(StringComparer.Ordinal);
        public List<JsonObject> PendingLists { get; } = [];
        public List<JsonObject> Output { get; } = [];
        /// <summary>What the model has been told this response, after the request's input: hosted calls and their results.</summary>
        public List<JsonNode> Conversation { get; } = [];
        public bool HasCode { get; } = hosted.OfType<CodeInterpreterTool>().Any();
        /// <summary>The container code runs in: the request's, else the one the first run made.</summary>
        public string? ContainerId { get; set; } = hosted.OfType<CodeInterpreterTool>().FirstOrDefault()?.ContainerId;
        public string Status { get; set; } = "completed";
        public JsonObject? IncompleteDetails { get; set; }
        public ApiError? Failure { get; set; }
        public JsonObject? Usage { get; private set; }

        /// <summary>Usage summed over the turns, in the Responses shape.</summary>
        public void AddUsage(JsonObject? turn)
        {
            if (turn is null) return;
            if (Usage is null)
            {
                Usage = turn.DeepClone().AsObject();
                return;
            }
            foreach (var name in (ReadOnlySpan<string>)["input_tokens", "output_tokens", "total_tokens"])
                Usage[name] = ((long?)Usage[name] ?? 0) + ((long?)turn[name] ?? 0);
            Add("input_tokens_details", "cached_tokens");
            Add("output_tokens_details", "reasoning_tokens");

            void Add(string details, string field)
            {
                if (Usage[details] is JsonObject mine && turn[details] is JsonObject theirs)
                    mine[field] = ((long?)mine[field] ?? 0) + ((long?)theirs[field] ?? 0);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1811, Level = LogLevel.Warning, Message = "The code interpreter could not run code: {Reason}")]
        public static partial void CodeUnavailable(ILogger logger, string reason);
    }
}

/// <summary>What a hosted-tool loop's turns came to, as the limits, budgets and the access log read it: their sums.</summary>
internal sealed class LoopOutcome : ILlmOutcome
{
    public Deployment? Deployment { get; private set; }
    public Usage? Usage { get; private set; }
    public long CostNanos { get; private set; }
    public int Attempts { get; private set; }
    public int Fallbacks { get; private set; }
    public int Status { get; set; }
    public double OverheadSeconds { get; private set; }

    public void Add(LlmExchange x)
    {
        Deployment = x.Deployment ?? Deployment;
        if (x.Usage is { } u) Usage = Usage is { } total ? new Usage(total.PromptTokens + u.PromptTokens, total.CompletionTokens + u.CompletionTokens) : u;
        CostNanos += x.CostNanos;
        Attempts += x.Attempts;
        Fallbacks += x.Fallbacks;
        OverheadSeconds += x.OverheadSeconds;
    }
}

/// <summary>The loop's Responses events (<see cref="ResponsesEvents"/>, numbered in order), each written and flushed as it happens.</summary>
internal sealed class LoopEvents(HttpResponse response)
{
    private readonly ResponsesEvents _events = new();
    private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(4096);

    public Task ResponseAsync(string type, byte[] responseJson, CancellationToken ct)
    {
        _events.Response(_buffer, type, responseJson);
        return FlushAsync(ct);
    }

    public Task ItemAsync(string type, int outputIndex, JsonObject item, CancellationToken ct)
    {
        if (type == "response.output_item.added") _events.OutputItemAdded(_buffer, outputIndex, item);
        else _events.OutputItemDone(_buffer, outputIndex, item);
        return FlushAsync(ct);
    }

    /// <summary>A model's whole item from a non-stream turn, as its stream would have sent it.</summary>
    public Task CompletedItemAsync(int outputIndex, JsonObject item, CancellationToken ct)
    {
        _events.CompletedItem(_buffer, outputIndex, item);
        return FlushAsync(ct);
    }

    /// <summary>An event about one item (<c>item_id</c>, <c>output_index</c>, then <paramref name="fields"/>).</summary>
    public Task OfItemAsync(string type, int outputIndex, string itemId, JsonObject? fields, CancellationToken ct)
    {
        _events.Write(_buffer, type, w =>
        {
            w.WriteString("item_id", itemId);
            w.WriteNumber("output_index", outputIndex);
            foreach (var (name, value) in fields ?? [])
            {
                w.WritePropertyName(name);
                if (value is null) w.WriteNullValue();
                else value.WriteTo(w);
            }
        });
        return FlushAsync(ct);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        await response.Body.WriteAsync(_buffer.WrittenMemory, ct);
        _buffer.ResetWrittenCount();
        await response.Body.FlushAsync(ct);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, JsonElement>))]
internal sealed partial class ResponsesLoopJson : System.Text.Json.Serialization.JsonSerializerContext;
