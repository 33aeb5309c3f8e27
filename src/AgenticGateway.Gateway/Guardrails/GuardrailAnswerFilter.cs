using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The guardrails' view of a request's answer (the relay consults it before releasing anything): the during_call
/// check the answer waits for, then post_call (and logging_only, which only records) on the answer's texts. A JSON
/// answer is checked whole. A stream is checked as it passes when every post_call guardrail in effect is local (held
/// back only as much as a match can span, see <see cref="LocalTextPolicy"/>); with a remote one the whole stream is held and
/// checked at its end, then released.
/// </summary>
internal sealed class GuardrailAnswerFilter(GuardrailRunner runner, LlmOperation operation, Caller caller, string model, string requestId,
    GuardrailSelection? requested, GuardrailDecisions decisions, Task<GuardrailResult>? duringCheck, JsonElement? schema, ILogger logger) : IAnswerFilter
{
    private int _duringSettled;

    // For the stream filters below (nested classes do not see the primary constructor's parameters).
    private GuardrailRunner Runner => runner;
    private LlmOperation Operation => operation;
    private Caller Caller => caller;
    private string Model => model;
    private string RequestId => requestId;
    private GuardrailSelection? Requested => requested;
    private GuardrailDecisions Decisions => decisions;
    private ILogger Logger => logger;

    /// <summary>The during_call result, recorded once; a block is the error the answer is replaced by.</summary>
    private async ValueTask<ApiError?> DuringAsync()
    {
        if (duringCheck is null) return null;
        var result = await duringCheck;
        if (Interlocked.Exchange(ref _duringSettled, 1) == 0) decisions.Add(result.Decisions);
        return result.Blocked ? Violation(result, "request") : null;
    }

    /// <summary>Records the during_call decision of a call that ended without an answer.</summary>
    public async ValueTask SettleAsync()
    {
        if (duringCheck is null || Volatile.Read(ref _duringSettled) == 1) return;
        try { await DuringAsync(); }
        catch (OperationCanceledException) { }
    }

    private ApiError Violation(GuardrailResult result, string what)
    {
        GuardrailLog.Blocked(logger, result.BlockedBy ?? "", what, result.Reason ?? "", requestId);
        return GuardrailMiddleware.Violation(result.BlockedBy, result.Reason, what);
    }

    /// <summary>An answer (or stream event) the output guardrails could not read: refused rather than passed on unchecked.</summary>
    internal ApiError Unreadable(Exception? ex)
    {
        GuardrailLog.Blocked(logger, "post_call", "answer", "unreadable answer: " + (ex?.GetType().Name ?? "not a JSON object"), requestId);
        return new ApiError(502, "The upstream answer could not be read, so the output guardrails could not check it.", "upstream_error", "guardrail_unreadable_answer");
    }

    public async ValueTask<AnswerFiltered> FilterAsync(ReadOnlyMemory<byte> answer, CancellationToken ct)
    {
        if (await DuringAsync() is { } refused) return new AnswerFiltered(answer, refused);
        var post = runner.AnyFor(GuardrailMode.PostCall, caller, requested);
        var logging = runner.AnyFor(GuardrailMode.LoggingOnly, caller, requested);
        if (!post && !logging && schema is null) return new AnswerFiltered(answer, null);
        JsonObject? root;
        List<TextSlot> slots;
        // An answer the guardrails cannot read is not released unchecked (fail closed).
        try
        {
            root = JsonNode.Parse(answer.Span, documentOptions: Json.JsonText.NodeOptions) as JsonObject;
            slots = root is null ? [] : MessageTexts.OfAnswer(root, operation);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return new AnswerFiltered(answer, post ? Unreadable(ex) : null);
        }
        if (root is null) return new AnswerFiltered(answer, post ? Unreadable(null) : null);
        var texts = slots.ConvertAll(s => s.Text);
        var changed = false;
        if (post && texts.Count > 0)
        {
            var result = await runner.RunAsync(GuardrailMode.PostCall, texts, caller, model, requestId, requested, ct);
            decisions.Add(result.Decisions);
            if (result.Blocked) return new AnswerFiltered(answer, Violation(result, "answer"));
            for (var i = 0; i < texts.Count; i++)
            {
                if (result.Texts[i] == texts[i]) continue;
                slots[i].Set(result.Texts[i]);
                changed = true;
            }
            texts = [.. result.Texts];
        }
        if (logging && texts.Count > 0)
            decisions.Add((await runner.RunAsync(GuardrailMode.LoggingOnly, texts, caller, model, requestId, requested, ct)).Decisions);
        if (schema is { } wanted && operation == LlmOperation.ChatCompletions && SchemaViolation(wanted, texts) is { } invalid)
            return new AnswerFiltered(answer, invalid);
        if (!changed) return new AnswerFiltered(answer, null);
        var buffer = new ArrayBufferWriter<byte>(answer.Length + 64);
        using (var w = new Utf8JsonWriter(buffer, SseTexts.WriterOptions)) root.WriteTo(w);
        return new AnswerFiltered(buffer.WrittenMemory, null);
    }

    /// <summary>
    /// LiteLLM's enable_json_schema_validation: each choice's content is checked against the request's
    /// response_format.json_schema.schema. An answer that does not match is the model's failure (502); a schema that
    /// cannot be used is the request's (400).
    /// </summary>
    private ApiError? SchemaViolation(JsonElement wanted, IReadOnlyList<string> texts)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var text in texts)
        {
            var result = JsonSchemaCheck.Check(wanted, text);
            if (result.IsValid) continue;
            decisions.Add(runner.Record(SchemaGuardrail, GuardrailMode.PostCall, GuardrailAction.Block,
                new Dictionary<string, int> { ["json_schema"] = 1 }, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
            return result.Outcome == JsonSchemaOutcome.SchemaInvalid
                ? ApiError.BadRequest(result.Message ?? "response_format.json_schema.schema is not usable", "response_format", "invalid_json_schema")
                : new ApiError(502, $"The model's answer does not match response_format.json_schema: {result.Message}", "upstream_error", "json_schema_validation_failed");
        }
        decisions.Add(runner.Record(SchemaGuardrail, GuardrailMode.PostCall, GuardrailAction.Allow, new Dictionary<string, int>(), Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        return null;
    }

    /// <summary>How the JSON schema check appears in metrics and the spend log.</summary>
    private static readonly GuardrailDefinition SchemaGuardrail = new()
    {
        Name = "json_schema_validation",
        Type = "json_schema_validation",
        Modes = [GuardrailMode.PostCall],
        Settings = new SchemaCheckSettings(),
    };

    private sealed record SchemaCheckSettings : GuardrailSettings;

    public IStreamAnswerFilter? ForStream()
    {
        var post = runner.Selected(GuardrailMode.PostCall, caller, requested).Where(g => g is not LocalGuardrail l || l.Sees(GuardrailMode.PostCall)).ToList();
        var logging = runner.Selected(GuardrailMode.LoggingOnly, caller, requested);
        if (post.Count == 0 && logging.Count == 0 && duringCheck is null) return null;
        // Every guardrail local: checked as the stream passes. A remote one sees whole texts only: the stream is held.
        var allLocal = post.All(g => g is LocalGuardrail) && logging.All(g => g is LocalGuardrail);
        if (!allLocal) return new HeldStream(this, post.Count > 0, logging.Count > 0);
        var guards = post.Select(g => new StreamGuard((LocalGuardrail)g, runner.ReportsOnly(g.Definition, GuardrailMode.PostCall)))
            .Concat(logging.Select(g => new StreamGuard((LocalGuardrail)g, true))).ToList();
        return new PassingStream(this, guards, logging.Count);
    }

    /// <summary>A stream checked by local guardrails as it passes.</summary>
    private sealed class PassingStream(GuardrailAnswerFilter owner, List<StreamGuard> guards, int loggingCount) : IStreamAnswerFilter
    {
        private readonly SseTexts _texts = new(owner.Operation);
        private readonly LocalTextPolicy? _policy = guards.Count == 0 ? null : new LocalTextPolicy(guards);
        private readonly ArrayBufferWriter<byte> _scratch = new(4096);
        private bool _waited;
        private bool _recorded;

        public async ValueTask<ApiError?> FeedAsync(ReadOnlyMemory<byte> events, IBufferWriter<byte> output, CancellationToken ct)
        {
            if (!_waited)
            {
                _waited = true;
                if (await owner.DuringAsync() is { } refused) return refused;
            }
            if (_policy is null) { output.Write(events.Span); return null; }
            return Run(() => _texts.Feed(events.Span, _policy, _scratch), output);
        }

        public async ValueTask<ApiError?> CompleteAsync(IBufferWriter<byte> output, CancellationToken ct)
        {
            if (!_waited)
            {
                _waited = true;
                if (await owner.DuringAsync() is { } refused) return refused;
            }
            if (_policy is null) return null;
            var error = Run(() => _texts.Complete(_policy, _scratch), output);
            Record();
            return error;
        }

        private ApiError? Run(Action walk, IBufferWriter<byte> output)
        {
            var started = Stopwatch.GetTimestamp();
            _scratch.ResetWrittenCount();
            try { walk(); }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                // A malformed event: nothing of this batch goes out unchecked; the stream ends with the error.
                Record();
                return owner.Unreadable(ex);
            }
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds / Math.Max(1, guards.Count);
            foreach (var g in guards) g.Milliseconds += ms;
            if (_policy!.Blocked is { } blocked)
            {
                // Nothing of this batch goes out: the stream ends with the error instead.
                Record();
                var reason = blocked.Reason;
                GuardrailLog.Blocked(owner.Logger, blocked.Guard.Guardrail.Definition.Name, "answer", reason, owner.RequestId);
                return GuardrailMiddleware.Violation(blocked.Guard.Guardrail.Definition.Name, reason, "answer");
            }
            output.Write(_scratch.WrittenSpan);
            return null;
        }

        private void Record()
        {
            if (_recorded) return;
            _recorded = true;
            for (var i = 0; i < guards.Count; i++)
            {
                var mode = i >= guards.Count - loggingCount ? GuardrailMode.LoggingOnly : GuardrailMode.PostCall;
                var (action, counts) = guards[i].Outcome();
                owner.Decisions.Add(owner.Runner.Record(guards[i].Guardrail.Definition, mode, action, counts, guards[i].Milliseconds));
            }
        }
    }

    /// <summary>A stream held whole (a remote guardrail checks whole texts): checked at its end, then released, masked or refused.</summary>
    private sealed class HeldStream(GuardrailAnswerFilter owner, bool post, bool logging) : IStreamAnswerFilter
    {
        private readonly ArrayBufferWriter<byte> _held = new(16 * 1024);

        public ValueTask<ApiError?> FeedAsync(ReadOnlyMemory<byte> events, IBufferWriter<byte> output, CancellationToken ct)
        {
            _held.Write(events.Span);
            return default;
        }

        public async ValueTask<ApiError?> CompleteAsync(IBufferWriter<byte> output, CancellationToken ct)
        {
            if (await owner.DuringAsync() is { } refused) return refused;
            var collect = new CollectTextPolicy();
            var scratch = new ArrayBufferWriter<byte>(_held.WrittenCount + 256);
            var first = new SseTexts(owner.Operation);
            try
            {
                first.Feed(_held.WrittenSpan, collect, scratch);
                first.Complete(collect, scratch);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                return owner.Unreadable(ex);
            }
            var channels = collect.Texts.Keys.ToList();
            IReadOnlyList<string> texts = channels.ConvertAll(c => collect.Texts[c].ToString());
            Dictionary<string, string>? masked = null;
            if (post && texts.Count > 0)
            {
                var result = await owner.Runner.RunAsync(GuardrailMode.PostCall, texts, owner.Caller, owner.Model, owner.RequestId, owner.Requested, ct);
                owner.Decisions.Add(result.Decisions);
                if (result.Blocked) return owner.Violation(result, "answer");
                for (var i = 0; i < texts.Count; i++)
                    if (result.Texts[i] != texts[i]) (masked ??= new(StringComparer.Ordinal))[channels[i]] = result.Texts[i];
                texts = result.Texts;
            }
            if (logging && texts.Count > 0)
                owner.Decisions.Add((await owner.Runner.RunAsync(GuardrailMode.LoggingOnly, texts, owner.Caller, owner.Model, owner.RequestId, owner.Requested, ct)).Decisions);
            if (masked is null)
            {
                output.Write(_held.WrittenSpan);
                return null;
            }
            var second = new SseTexts(owner.Operation);
            var policy = new MaskedTextPolicy(masked);
            second.Feed(_held.WrittenSpan, policy, output);
            second.Complete(policy, output);
            return null;
        }
    }
}
