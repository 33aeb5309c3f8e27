using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Json;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Spend;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// <c>sandbox_output</c> guardrails on a run's events. The guardrails see the whole stdout as one text and the whole
/// stderr as another (so a secret printed across two writes is still found), then every string of the result and
/// exception events. A mask releases the masked stdout (and stderr) as one event where the first was, and rewrites the
/// other strings in place; a block refuses the whole output.
/// </summary>
internal static class SandboxOutputGuard
{
    public static bool Applies(IContentGuardrails? guardrails, Caller? caller) =>
        caller is not null && guardrails?.AnyFor(GuardrailMode.SandboxOutput, caller) == true;

    /// <summary>The events to release (masked where needed) and the check (null when there was nothing to check).</summary>
    public static async ValueTask<(List<AgentEvent> Events, ContentCheck? Check)> CheckAsync(IContentGuardrails guardrails, List<AgentEvent> events,
        Caller caller, string requestId, CancellationToken ct)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var texts = new List<string> { "", "" };
        foreach (var e in events)
        {
            if (e.Type == "stdout") stdout.Append(e.String("data"));
            else if (e.Type == "stderr") stderr.Append(e.String("data"));
            else if (e.Type is "result" or "exception") CollectOwn(e.Body, texts);
        }
        texts[0] = stdout.ToString();
        texts[1] = stderr.ToString();
        if (texts.All(t => t.Length == 0)) return (events, null);
        var check = await guardrails.CheckAsync(GuardrailMode.SandboxOutput, texts, caller, requestId, "sandbox", ct);
        if (check.Blocked) return (events, check);

        var released = new List<AgentEvent>(events.Count);
        bool stdoutDone = false, stderrDone = false;
        var index = 2;
        foreach (var e in events)
        {
            switch (e.Type)
            {
                case "stdout":
                    if (!stdoutDone) released.Add(e with { Body = WithData(e.Body, check.Texts[0]) });
                    stdoutDone = true;
                    break;
                case "stderr":
                    if (!stderrDone) released.Add(e with { Body = WithData(e.Body, check.Texts[1]) });
                    stderrDone = true;
                    break;
                case "result" or "exception":
                    var own = Replacements(e.Body, check.Texts, ref index);
                    var at = 0;
                    released.Add(e with { Body = JsonStrings.Rewrite(e.Body, own, ref at) });
                    break;
                default:
                    released.Add(e);
                    break;
            }
        }
        return (released, check);
    }

    /// <summary>
    /// A run's events as they come, through <paramref name="scan"/>: stdout and stderr pieces go out masked as soon as
    /// no match can still span them (masks apply across event boundaries), the held rest of both before the next
    /// result, exception or done event; a result's or exception's strings are checked each whole. A block ends the
    /// stream with an error event (code guardrail_violation) and cancels the run; nothing after it is released.
    /// </summary>
    public static async IAsyncEnumerable<AgentEvent> Streamed(IAsyncEnumerable<AgentEvent> events, IContentStream scan, Action cancel)
    {
        await foreach (var e in events)
        {
            var pending = new List<AgentEvent>(2);
            switch (e.Type)
            {
                case "stdout" or "stderr":
                    var piece = scan.Piece(e.Type, e.String("data") ?? "");
                    if (piece.Length > 0) pending.Add(e with { Body = WithData(e.Body, piece) });
                    break;
                case "result" or "exception" or "done":
                    foreach (var channel in new[] { "stdout", "stderr" })
                    {
                        var rest = scan.End(channel);
                        if (rest.Length > 0) pending.Add(new AgentEvent(channel, Data(channel, rest)));
                    }
                    if (e.Type == "done") { pending.Add(e); break; }
                    var strings = new List<string>();
                    CollectOwn(e.Body, strings);
                    var checkedStrings = new List<string>(strings.Count);
                    foreach (var text in strings) checkedStrings.Add(scan.Piece("value", text) + scan.End("value"));
                    var index = 0;
                    var own = Replacements(e.Body, checkedStrings, ref index);
                    var at = 0;
                    pending.Add(e with { Body = JsonStrings.Rewrite(e.Body, own, ref at) });
                    break;
                default:
                    pending.Add(e);
                    break;
            }
            if (scan.BlockedBy is not null)
            {
                cancel();
                yield return new AgentEvent("error", Error(new ContentCheck([], scan.BlockedBy, scan.Reason, null).BlockMessage("the output of this run")));
                yield break;
            }
            foreach (var p in pending) yield return p;
        }
    }

    private static JsonElement Data(string type, string data) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("data", data);
        w.WriteEndObject();
    });

    private static JsonElement Error(string message) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteString("code", "guardrail_violation");
        w.WriteString("message", message);
        w.WriteEndObject();
    });

    private static JsonElement Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) write(w);
        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// Records a REST run's guardrail decisions as a spend log row at cost 0 (call type <c>sandbox_execute</c>; the
    /// sandbox API has no spend rows of its own), as the MCP path records a free tool call's decisions, so
    /// /spend/logs shows them under <c>metadata.guardrail_information</c>. Nothing is written when no guardrail ran.
    /// </summary>
    public static async ValueTask RecordAsync(HttpContext context, Caller caller, string requestId, ContentCheck? check, string sandboxId, int status, long started)
    {
        if (check?.InformationJson is not { } information) return;
        var wal = context.RequestServices.GetRequiredService<SpendWal>();
        var time = context.RequestServices.GetRequiredService<TimeProvider>();
        await wal.AppendAsync(SpendLog.ForCaller(caller, requestId, "sandbox", CallType, time.GetUtcNow(), System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds) with
        {
            ModelGroup = "sandbox",
            Deployment = sandboxId,
            Provider = "sandbox",
            CostNanos = 0,
            Status = status,
            GuardrailInformation = information,
        });
    }

    /// <summary>The call type of a sandbox REST run's spend row.</summary>
    public const string CallType = "sandbox_execute";

    /// <summary>The strings of an event's own fields (the protocol's id and type aside).</summary>
    private static void CollectOwn(JsonElement body, List<string> into)
    {
        foreach (var p in body.EnumerateObject())
            if (!p.NameEquals("id") && !p.NameEquals("type")) JsonStrings.Collect(p.Value, into);
    }

    /// <summary>An event's strings in <see cref="JsonStrings.Rewrite"/>'s order: id and type as they are, the others from <paramref name="texts"/>.</summary>
    private static List<string> Replacements(JsonElement body, IReadOnlyList<string> texts, ref int index)
    {
        var own = new List<string>();
        foreach (var p in body.EnumerateObject())
        {
            var strings = new List<string>();
            JsonStrings.Collect(p.Value, strings);
            if (p.NameEquals("id") || p.NameEquals("type")) own.AddRange(strings);
            else for (var i = 0; i < strings.Count; i++) own.Add(texts[index++]);
        }
        return own;
    }

    /// <summary>The event with its <c>data</c> replaced.</summary>
    private static JsonElement WithData(JsonElement body, string data)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var p in body.EnumerateObject())
                if (!p.NameEquals("data")) p.WriteTo(w);
            w.WriteString("data", data);
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }
}
