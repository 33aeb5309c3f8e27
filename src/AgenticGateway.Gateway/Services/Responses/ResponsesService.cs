using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Responses;
using AgenticGateway.Services.Llm;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.Responses;

/// <summary>
/// OpenAI's Responses API: create (JSON, SSE, background), retrieve, delete, cancel and input items. A create goes
/// through the LLM service like a chat completion (routing, retries, fallbacks, limits, budgets, spend, the access log);
/// with tools the gateway runs itself it goes through <see cref="HostedToolLoop"/>. Stored responses belong to the key
/// (or user) that made them: another caller gets the same 404 as for an id that never existed.
/// </summary>
internal sealed partial class ResponsesService(LlmService llm, IResponseStore store, ResponseRegistry registry, HostedToolLoop loop, Budgets budgets,
    ResponsesSettings settings, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<ResponsesService> logger)
{
    /// <summary>How many earlier responses a <c>previous_response_id</c> chain may reach back.</summary>
    private const int MaxChain = 1000;

    public async Task CreateAsync(HttpContext context)
    {
        var request = context.Features.Get<LlmRequest>()!;
        var caller = context.Features.Get<Caller>()!;
        var ct = context.RequestAborted;
        if (ResponsesCreate.TryRead(request.Body.Span, out var create) is { } invalid)
        {
            await PipelineErrors.WriteAsync(context, invalid);
            return;
        }
        var owner = SandboxHttp.OwnerOf(caller);
        var (history, refused) = await HistoryAsync(create!, owner, ct);
        if (refused is not null)
        {
            await PipelineErrors.WriteAsync(context, refused);
            return;
        }
        var (hosted, hostedError) = HostedTools.Read(create!);
        if (hostedError is not null)
        {
            await PipelineErrors.WriteAsync(context, hostedError);
            return;
        }
        var call = new ResponsesCall(create!, ResponsesIds.New("resp"), time.GetUtcNow().ToUnixTimeSeconds(), history)
        {
            ReferencedItems = await ReferencedAsync(create!, history, owner, ct),
        };

        if (create!.Background)
        {
            await StartBackgroundAsync(context, request, caller, owner, call, hosted);
            return;
        }
        if (hosted.Count > 0)
        {
            var done = await loop.RunAsync(context, request, caller, call, hosted);
            if (create.Store && done is { } response) await SaveAsync(owner, caller, call, response, ct);
            return;
        }

        registry.Track(call.Id, owner, call);
        try
        {
            var x = await llm.CallAsync(context, call, create.Store ? e => SaveAnswerAsync(e, owner) : null);
            // A stream is stored once it ended whole (a JSON answer was stored before it was released).
            if (create.Store && x.Request.Stream && x.StreamFinished && call.Final is { } final) await SaveAsync(owner, caller, call, final, CancellationToken.None);
        }
        finally
        {
            registry.Untrack(call.Id);
        }
    }

    private ValueTask SaveAnswerAsync(LlmExchange x, string owner) =>
        x.Responses!.FinalResponse is { } final ? new ValueTask(SaveAsync(owner, x.Caller, x.Responses, final, CancellationToken.None)) : ValueTask.CompletedTask;

    /// <summary>Stores a response (and this request's input items) for retrieve, input_items and later previous_response_id.</summary>
    internal async Task SaveAsync(string owner, Caller caller, ResponsesCall call, byte[] response, CancellationToken ct)
    {
        var (id, status) = ReadIdAndStatus(response);
        var now = time.GetUtcNow();
        try
        {
            await store.SaveAsync(new StoredResponse(id ?? call.Id, owner, caller.Key?.TeamId, call.Request.Model, status ?? "completed",
                DateTimeOffset.FromUnixTimeSeconds(call.CreatedAt), now + settings.StoreTtl, call.Request.PreviousResponseId,
                InputItems.ForStore(call.Request.Input, call.ReferencedItems).ToJsonString(), System.Text.Encoding.UTF8.GetString(response)), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The client has its answer; only a later retrieve or previous_response_id will miss it.
            Log.StoreFailed(logger, id ?? call.Id, ex.Message);
        }
    }

    /// <summary>The conversation before this request: every earlier response's input items, then its output, oldest first.</summary>
    private async Task<(IReadOnlyList<JsonNode> History, ApiError? Refused)> HistoryAsync(ResponsesCreate create, string owner, CancellationToken ct)
    {
        if (create.PreviousResponseId is not { } previous) return ([], null);
        var chain = await store.GetChainAsync(previous, owner, MaxChain, ct);
        if (chain.Count == 0)
            return ([], new ApiError(404, $"Previous response with id '{Truncate(previous)}' not found.", "invalid_request_error", "previous_response_not_found", "previous_response_id"));
        if (chain[^1].Status is "queued" or "in_progress")
            return ([], ApiError.BadRequest($"Previous response with id '{Truncate(previous)}' is still {chain[^1].Status}; wait until it completes.", "previous_response_id", "previous_response_in_progress"));
        var items = new List<JsonNode>();
        foreach (var stored in chain)
        {
            if (JsonNode.Parse(stored.InputItemsJson) is JsonArray input)
                foreach (var item in input) if (item is not null) items.Add(item.DeepClone());
            if (JsonNode.Parse(stored.ResponseJson)?["output"] is JsonArray output)
                foreach (var item in output) if (item is not null) items.Add(item.DeepClone());
        }
        return (items, null);
    }

    /// <summary>
    /// The stored items the input refers to by <c>item_reference</c> that neither the history nor the input holds (the AI
    /// SDK sends earlier stored answers so); a reference found nowhere is the converter's 400.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, JsonObject>?> ReferencedAsync(ResponsesCreate create, IReadOnlyList<JsonNode> history, string owner, CancellationToken ct)
    {
        var references = create.ItemReferences;
        if (references.Count == 0) return null;
        // A reference carries the id it names: only the other items are ones the converter can resolve it to.
        var known = history.Concat(create.Input.OfType<JsonNode>()).Where(i => (string?)i["type"] != "item_reference")
            .Select(i => (string?)i["id"]).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var missing = references.Where(r => !known.Contains(r)).Distinct(StringComparer.Ordinal).ToList();
        return missing.Count == 0 ? null : await store.FindItemsAsync(missing, owner, ct);
    }

    private async Task StartBackgroundAsync(HttpContext context, LlmRequest request, Caller caller, string owner, ResponsesCall call, IReadOnlyList<HostedTool> hosted)
    {
        var create = call.Request;
        // (background without store is refused when the request is read)
        if (create.Stream)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Streaming a background response is not supported by this gateway; leave out 'stream' and poll GET /v1/responses/{id}.", "stream", "unsupported_value"));
            return;
        }
        var queued = ChatToResponses.Response(create, call.Id, call.CreatedAt, "queued", [], null, null, null);
        await SaveAsync(owner, caller, call, queued, context.RequestAborted);
        // The request's body is released when its response ends: the background run keeps its own copy.
        var body = RequestBody.Of(request.Body.Span);
        var copy = new LlmRequest(request.Runtime, request.Operation, body, request.Parsed, request.Group, request.PromptEstimate, request.Reservation);
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        var requestId = context.Features.Get<GatewayRequest>()!.Id;
        var run = registry.StartBackground(call.Id, owner, call, cancel);
        run.Task = Task.Run(() => RunBackgroundAsync(copy, caller, owner, call, hosted, requestId, cancel), CancellationToken.None);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(queued, context.RequestAborted);
    }

    private async Task RunBackgroundAsync(LlmRequest request, Caller caller, string owner, ResponsesCall call, IReadOnlyList<HostedTool> hosted, string requestId, CancellationTokenSource cancel)
    {
        var ct = cancel.Token;
        Budgets.Hold? hold = null;
        long cost = 0;
        byte[] final;
        try
        {
            // The client's request settled its limits when it was answered "queued": the run reserves on its own.
            if (caller.Identity is not null)
            {
                var (h, refusedBudget) = await budgets.ReserveAsync(caller, request.Reservation.Cost, ct);
                hold = h;
                if (refusedBudget is not null) throw new BackgroundFailure(refusedBudget);
            }
            await SaveAsync(owner, caller, call, ChatToResponses.Response(call.Request, call.Id, call.CreatedAt, "in_progress", [], null, null, null), ct);
            if (hosted.Count > 0)
            {
                var (response, spent) = await loop.RunCapturedAsync(request, caller, call, hosted, requestId, ct);
                cost = spent;
                final = response;
            }
            else
            {
                var answer = await llm.CallCapturedAsync(null, request, caller, requestId, call, ct);
                cost = answer.Exchange.CostNanos;
                if (answer.Error is { } error) throw new BackgroundFailure(error);
                final = WithId(call.Final ?? answer.Body, call.Id);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            final = ChatToResponses.Response(call.Request, call.Id, call.CreatedAt, "cancelled", [], null, null, null);
        }
        catch (BackgroundFailure ex)
        {
            final = Failed(call, ex.Error);
        }
        catch (Exception ex)
        {
            Log.BackgroundFailed(logger, call.Id, ex.Message);
            final = Failed(call, new ApiError(500, "The background response failed in the gateway.", "server_error", "server_error"));
        }
        finally
        {
            if (hold is not null) await budgets.SettleAsync(hold, cost);
            request.Body.Dispose();
        }
        await SaveAsync(owner, caller, call, final, CancellationToken.None);
        registry.Finish(call.Id);
        cancel.Dispose();
    }

    private static byte[] Failed(ResponsesCall call, ApiError error) =>
        ChatToResponses.Response(call.Request, call.Id, call.CreatedAt, "failed", [], null,
            new JsonObject { ["code"] = error.Code ?? error.Type, ["message"] = error.Message }, null);

    /// <summary>A response object under the id the client was given (a native deployment names its answers itself).</summary>
    private static byte[] WithId(byte[] response, string id)
    {
        if (JsonNode.Parse(response) is not JsonObject o || (string?)o["id"] == id) return response;
        o["id"] = id;
        return System.Text.Encoding.UTF8.GetBytes(o.ToJsonString());
    }

    private sealed class BackgroundFailure(ApiError error) : Exception(error.Message)
    {
        public ApiError Error { get; } = error;
    }

    public async Task GetAsync(HttpContext context, string id)
    {
        var owner = SandboxHttp.OwnerOf(context.Features.Get<Caller>()!);
        if (context.Request.Query["stream"] is { Count: > 0 } s && s.ToString() == "true")
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Streaming a stored response is not supported by this gateway; retrieve it without 'stream'.", "stream", "unsupported_value"));
            return;
        }
        var response = registry.Current(id, owner);
        if (response is null && await store.GetAsync(id, owner, context.RequestAborted) is { } stored) response = System.Text.Encoding.UTF8.GetBytes(stored.ResponseJson);
        if (response is null)
        {
            await PipelineErrors.WriteAsync(context, NotFound(id));
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(response, context.RequestAborted);
    }

    public async Task DeleteAsync(HttpContext context, string id)
    {
        var owner = SandboxHttp.OwnerOf(context.Features.Get<Caller>()!);
        registry.Cancel(id, owner);
        if (!await store.DeleteAsync(id, owner, context.RequestAborted))
        {
            await PipelineErrors.WriteAsync(context, NotFound(id));
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject { ["id"] = id, ["object"] = "response", ["deleted"] = true }.ToJsonString(), context.RequestAborted);
    }

    public async Task CancelAsync(HttpContext context, string id)
    {
        var owner = SandboxHttp.OwnerOf(context.Features.Get<Caller>()!);
        var stored = await store.GetAsync(id, owner, context.RequestAborted);
        if (stored is null)
        {
            await PipelineErrors.WriteAsync(context, NotFound(id));
            return;
        }
        if (JsonNode.Parse(stored.ResponseJson)?["background"]?.GetValueKind() != JsonValueKind.True)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Only responses created with background: true can be cancelled.", "response_id", "invalid_value"));
            return;
        }
        if (registry.Cancel(id, owner) is { } running)
        {
            // The run saves its cancelled state as it stops; wait for it so the answer is the final object.
            try { await running.WaitAsync(TimeSpan.FromSeconds(10), context.RequestAborted); }
            catch (TimeoutException) { }
            stored = await store.GetAsync(id, owner, context.RequestAborted) ?? stored;
        }
        else if (stored.Status is "queued" or "in_progress")
        {
            // Queued by a gateway process that no longer runs it (it restarted): nothing will finish it, so it ends here.
            var cancelled = JsonNode.Parse(stored.ResponseJson)!.AsObject();
            cancelled["status"] = "cancelled";
            stored = stored with { Status = "cancelled", ResponseJson = cancelled.ToJsonString() };
            await store.SaveAsync(stored, context.RequestAborted);
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(stored.ResponseJson, context.RequestAborted);
    }

    public async Task InputItemsAsync(HttpContext context, string id)
    {
        var owner = SandboxHttp.OwnerOf(context.Features.Get<Caller>()!);
        var q = context.Request.Query;
        var limit = 20;
        if (q["limit"] is { Count: > 0 } l && (!int.TryParse(l.ToString(), out limit) || limit is < 1 or > 100))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'limit': expected an integer from 1 to 100.", "limit", "invalid_value"));
            return;
        }
        var order = q["order"] is { Count: > 0 } o ? o.ToString() : "desc";
        if (order is not ("asc" or "desc"))
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("Invalid 'order': expected 'asc' or 'desc'.", "order", "invalid_value"));
            return;
        }
        var stored = await store.GetAsync(id, owner, context.RequestAborted);
        if (stored is null)
        {
            await PipelineErrors.WriteAsync(context, NotFound(id));
            return;
        }
        var items = (JsonNode.Parse(stored.InputItemsJson) as JsonArray ?? []).Where(i => i is not null).Select(i => i!.DeepClone()).ToList();
        if (order == "desc") items.Reverse();
        var after = q["after"] is { Count: > 0 } a ? a.ToString() : null;
        var start = after is null ? 0 : items.FindIndex(i => (string?)i["id"] == after) + 1;
        if (after is not null && start == 0)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest($"Invalid 'after': the response has no input item '{Truncate(after)}'.", "after", "invalid_value"));
            return;
        }
        var page = items.Skip(start).Take(limit).ToList();
        var list = new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. page]),
            ["first_id"] = page.Count > 0 ? (string?)page[0]["id"] : null,
            ["last_id"] = page.Count > 0 ? (string?)page[^1]["id"] : null,
            ["has_more"] = start + page.Count < items.Count,
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(list.ToJsonString(), context.RequestAborted);
    }

    private static ApiError NotFound(string id) => new(404, $"Response with id '{Truncate(id)}' not found.", "invalid_request_error", "response_not_found", "response_id");

    private static string Truncate(string id) => id.Length <= 80 ? id : id[..80] + "...";

    private static (string? Id, string? Status) ReadIdAndStatus(byte[] response)
    {
        var reader = new Utf8JsonReader(response);
        string? id = null, status = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            if (name == "id" && reader.TokenType == JsonTokenType.String) id = reader.GetString();
            else if (name == "status" && reader.TokenType == JsonTokenType.String) status = reader.GetString();
            else reader.Skip();
            if (id is not null && status is not null) break;
        }
        return (id, status);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1801, Level = LogLevel.Warning, Message = "Could not store response {ResponseId}: {Reason}")]
        public static partial void StoreFailed(ILogger logger, string responseId, string reason);

        [LoggerMessage(EventId = 1802, Level = LogLevel.Error, Message = "Background response {ResponseId} failed: {Reason}")]
        public static partial void BackgroundFailed(ILogger logger, string responseId, string reason);
    }
}
