using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Responses;
using AgenticGateway.Routing;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Services.Responses;

/// <summary>
/// <c>tools: [{"type": "code_interpreter"}]</c> on chat completions, as LiteLLM offers it: the tool becomes a function
/// the model may call, the gateway runs the code in the caller's sandbox, appends the result as a <c>tool</c> message
/// and asks again, until the model answers (the last allowed turn offers no tool). The answer is the model's last
/// chat completion with the runs in <c>message.provider_specific_fields.code_interpreter_results</c> (LiteLLM's field,
/// OpenAI's <c>code_interpreter_call</c> items) and the usage of every turn; a stream is that answer as chunks.
/// Every other chat request goes straight to the LLM service: the check is one scan of the body for the tool's name.
/// </summary>
internal sealed class ChatCodeInterpreter(LlmService llm, HostedToolLoop loop, ResponsesSettings settings)
{
    private static ReadOnlySpan<byte> Marker => "\"code_interpreter\""u8;

    public Task CallAsync(HttpContext context)
    {
        var request = context.Features.Get<LlmRequest>();
        if (request is null || request.Operation != LlmOperation.ChatCompletions || request.Body.Span.IndexOf(Marker) < 0) return llm.CallAsync(context);
        return CallWithToolAsync(context, request);
    }

    private async Task CallWithToolAsync(HttpContext context, LlmRequest request)
    {
        JsonNode? parsedBody;
        try
        {
            parsedBody = JsonNode.Parse(request.Body.Span, documentOptions: Json.JsonText.NodeOptions);
        }
        catch (JsonException ex)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"We could not parse the JSON body of your request: {Json.JsonText.Describe(ex)}", code: "invalid_json"));
            return;
        }
        if (parsedBody is not JsonObject root || root["tools"] is not JsonArray tools
            || !tools.Any(t => t is JsonObject o && (string?)o["type"] == "code_interpreter"))
        {
            await llm.CallAsync(context);
            return;
        }
        var caller = context.Features.Get<Caller>()!;
        var requestId = context.Features.Get<GatewayRequest>()!.Id;
        var outcome = new LoopOutcome();
        context.Features.Set<ILlmOutcome>(outcome);
        var (hosted, invalid) = HostedTools.Read(tools, "tools");
        if (invalid is not null)
        {
            outcome.Status = invalid.Status;
            await PipelineErrors.WriteAsync(context, invalid);
            return;
        }
        string? container = hosted.OfType<CodeInterpreterTool>().First().ContainerId;
        var offered = new JsonArray();
        foreach (var tool in tools)
        {
            if (tool is JsonObject o && (string?)o["type"] == "code_interpreter") offered.Add(HostedToolLoop.CodeFunctionDefinition());
            else if (tool is not null) offered.Add(tool.DeepClone());
        }
        var stream = root["stream"]?.GetValueKind() == JsonValueKind.True;
        var includeUsage = root["stream_options"]?["include_usage"]?.GetValueKind() == JsonValueKind.True;
        root.Remove("stream");
        root.Remove("stream_options");
        var messages = root["messages"] as JsonArray ?? [];
        var results = new JsonArray();
        JsonObject? last = null;
        long prompt = 0, completion = 0;
        var max = Math.Max(1, settings.MaxToolIterations);
        for (var turn = 0; turn < max; turn++)
        {
            var final = turn == max - 1;
            if (final)
            {
                root.Remove("tools");
                root.Remove("tool_choice");
                root.Remove("parallel_tool_calls");
            }
            else root["tools"] = offered.DeepClone();
            var bytes = System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
            using var body = RequestBody.Of(bytes);
            RequestReader.TryParse(body.Span, LlmOperation.ChatCompletions, out var parsed);
            var turnRequest = new LlmRequest(request.Runtime, LlmOperation.ChatCompletions, body, parsed, request.Group,
                caller.Identity is null ? 0 : Pricing.TokenEstimator.EstimatePromptTokens(body.Span), default);
            var answer = await llm.CallCapturedAsync(context.Request, turnRequest, caller, requestId, null, context.RequestAborted);
            outcome.Add(answer.Exchange);
            if (answer.Error is { } error)
            {
                outcome.Status = error.Status;
                await PipelineErrors.WriteAsync(context, error);
                return;
            }
            try
            {
                last = JsonNode.Parse(answer.Body, documentOptions: Json.JsonText.NodeOptions) as JsonObject;
            }
            catch (JsonException ex)
            {
                var unreadable = new ApiError(502, $"The model's answer could not be read: {ex.Message}", "server_error", "invalid_upstream_response");
                outcome.Status = unreadable.Status;
                await PipelineErrors.WriteAsync(context, unreadable);
                return;
            }
            prompt += (long?)last?["usage"]?["prompt_tokens"] ?? 0;
            completion += (long?)last?["usage"]?["completion_tokens"] ?? 0;
            var message = last?["choices"]?[0]?["message"] as JsonObject;
            var calls = message?["tool_calls"] as JsonArray;
            var codeCalls = calls?.OfType<JsonObject>().Where(c => (string?)c["function"]?["name"] == HostedToolLoop.CodeFunction).ToList() ?? [];
            // Done when the model answered, or also called a function of the client's (which the client runs).
            if (codeCalls.Count == 0 || codeCalls.Count != calls!.Count) break;
            messages.Add(message!.DeepClone());
            foreach (var call in codeCalls)
            {
                var source = HostedToolLoop.ReadCode((string?)call["function"]?["arguments"] ?? "");
                var item = new JsonObject
                {
                    ["id"] = ResponsesIds.New("ci"),
                    ["type"] = "code_interpreter_call",
                    ["status"] = "in_progress",
                    ["code"] = source,
                    ["container_id"] = container ?? "",
                    ["outputs"] = null,
                };
                var (ran, text, used) = await loop.ExecuteCodeAsync(caller, container, source, requestId, item, context.RequestAborted);
                container = used ?? container;
                results.Add(ran);
                messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = (string?)call["id"], ["content"] = text });
            }
        }
        if (last?["choices"]?[0]?["message"] is JsonObject answerMessage)
        {
            var fields = answerMessage["provider_specific_fields"] as JsonObject ?? new JsonObject();
            fields["code_interpreter_results"] = results;
            answerMessage["provider_specific_fields"] = fields;
        }
        if (last is not null) last["usage"] = new JsonObject { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion };
        outcome.Status = 200;
        if (!stream)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(last!.ToJsonString(), context.RequestAborted);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        foreach (var chunk in Chunks(last!, includeUsage)) await context.Response.WriteAsync("data: " + chunk + "\n\n", context.RequestAborted);
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    /// <summary>A whole chat completion as the chunks a stream of it would have been: role and content, tool calls, finish, usage.</summary>
    internal static IEnumerable<string> Chunks(JsonObject completion, bool includeUsage)
    {
        JsonObject Chunk(JsonObject delta, string? finish) => new()
        {
            ["id"] = completion["id"]?.DeepClone(),
            ["object"] = "chat.completion.chunk",
            ["created"] = completion["created"]?.DeepClone(),
            ["model"] = completion["model"]?.DeepClone(),
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
        var message = completion["choices"]?[0]?["message"] as JsonObject ?? [];
        var first = new JsonObject { ["role"] = "assistant", ["content"] = message["content"]?.DeepClone() ?? "" };
        if (message["provider_specific_fields"] is { } fields) first["provider_specific_fields"] = fields.DeepClone();
        yield return Chunk(first, null).ToJsonString();
        if (message["tool_calls"] is JsonArray calls)
        {
            var withIndex = new JsonArray();
            for (var i = 0; i < calls.Count; i++)
            {
                var c = calls[i]!.DeepClone().AsObject();
                c["index"] = i;
                withIndex.Add(c);
            }
            yield return Chunk(new JsonObject { ["tool_calls"] = withIndex }, null).ToJsonString();
        }
        yield return Chunk(new JsonObject(), (string?)completion["choices"]?[0]?["finish_reason"] ?? "stop").ToJsonString();
        if (includeUsage)
        {
            var usage = Chunk(new JsonObject(), null);
            usage["choices"] = new JsonArray();
            usage["usage"] = completion["usage"]?.DeepClone();
            yield return usage.ToJsonString();
        }
    }
}
