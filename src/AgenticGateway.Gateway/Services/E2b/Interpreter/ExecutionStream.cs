using System.Buffers;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Interpreter;

/// <summary>
/// A run's agent events as the code interpreter's stream: one JSON object per line, <c>stdout</c> and <c>stderr</c>
/// (<c>text</c>, <c>timestamp</c>), <c>result</c> (text, html, markdown, svg, png, jpeg, json, latex, with
/// <c>is_main_result</c>), <c>error</c> (<c>name</c>, <c>value</c>, <c>traceback</c>), then
/// <c>number_of_executions</c> (<c>execution_count</c>) and <c>end_of_execution</c>. The response starts with the
/// first event, so a refusal before it (an unknown context, a busy one) is still an HTTP error.
/// </summary>
internal static class ExecutionStream
{
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");

    /// <param name="counted">Called once the run has ended in the interpreter; returns the context's execution count.</param>
    public static async Task WriteAsync(HttpContext c, AgentCall call, TimeSpan timeout, Func<int> counted)
    {
        var response = c.Response;
        var ct = c.RequestAborted;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using var w = new Utf8JsonWriter(buffer);
        using var backstop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        backstop.CancelAfter(timeout + CodeExecution.Backstop);
        using var onAbort = ct.Register(call.Cancel);
        // ran: the interpreter finished the run (it counts); reported: the client has been told why it did not.
        bool ran = false, reported = false;
        try
        {
            await foreach (var e in call.Events.ReadAllAsync(backstop.Token))
            {
                if (e.Type == "error")
                {
                    var refusal = AgentConnection.ToException(e);
                    if (!response.HasStarted) { await E2bError.From(SandboxHttp.FromAgent(refusal), E2bErrorShape.Envd).ExecuteAsync(c); return; }
                    Error(w, "SandboxError", refusal.Message);
                    reported = true;
                }
                else if (!Event(w, e)) continue;
                else if (e.Type == "done") ran = true;
                await FlushAsync(response, buffer, w, ct);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            call.Cancel();
            Error(w, "TimeoutError", $"The sandbox did not finish the execution within {(timeout + CodeExecution.Backstop).TotalSeconds:0} s.");
            NewLine(buffer, w);
            reported = true;
        }
        catch (OperationCanceledException) { return; }
        if (!ran && !reported)
        {
            Error(w, "SandboxError", "The sandbox ended during the execution.");
            NewLine(buffer, w);
        }
        if (ran)
        {
            w.WriteStartObject();
            w.WriteString(Type, "number_of_executions");
            w.WriteNumber("execution_count", counted());
            w.WriteEndObject();
            NewLine(buffer, w);
        }
        w.WriteStartObject();
        w.WriteString(Type, "end_of_execution");
        w.WriteEndObject();
        NewLine(buffer, w);
        try { await FlushAsync(response, buffer, w, ct); }
        catch (OperationCanceledException) { }
    }

    /// <summary>Writes the line(s) an agent event becomes; false when it becomes none.</summary>
    private static bool Event(Utf8JsonWriter w, AgentEvent e)
    {
        var body = e.Body;
        switch (e.Type)
        {
            case "stdout" or "stderr":
                w.WriteStartObject();
                w.WriteString(Type, e.Type);
                w.WriteString("text", e.String("data") ?? "");
                w.WriteString("timestamp", DateTimeOffset.UtcNow);
                w.WriteEndObject();
                return true;
            case "result":
                w.WriteStartObject();
                w.WriteString(Type, "result");
                foreach (var p in body.EnumerateObject())
                {
                    if (p.NameEquals("type") || p.NameEquals("seq") || p.NameEquals("id")) continue;
                    // As E2B's server does: a string's repr loses its quotes ('abc' reads abc).
                    if (p.NameEquals("text") && p.Value.GetString() is { Length: >= 2 } text && (text[0] is '\'' or '"') && text[^1] == text[0])
                        w.WriteString("text", text.AsSpan(1, text.Length - 2));
                    else p.WriteTo(w);
                }
                w.WriteEndObject();
                return true;
            case "exception":
                Error(w, e.String("name") ?? "Error", e.String("value") ?? "", e.String("traceback") ?? "");
                return true;
            case "done":
                // A run the agent cut short says so as an error, as E2B's server reports a kernel that died mid-run.
                if (Flag(body, "timed_out")) Error(w, "TimeoutError", "The execution timed out.");
                else if (Flag(body, "context_restarted")) Error(w, "ContextRestarted", "The interpreter ended during the execution (out of memory, or killed); the context was restarted and its state is lost.");
                else return true;
                return true;
            default:
                return false;
        }
    }

    private static void Error(Utf8JsonWriter w, string name, string value, string traceback = "")
    {
        w.WriteStartObject();
        w.WriteString(Type, "error");
        w.WriteString("name", name);
        w.WriteString("value", value);
        w.WriteString("traceback", traceback);
        w.WriteEndObject();
    }

    private static bool Flag(JsonElement body, string name) => body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static void NewLine(ArrayBufferWriter<byte> buffer, Utf8JsonWriter w)
    {
        w.Flush();
        w.Reset(buffer);
        buffer.Write("\n"u8);
    }

    private static async Task FlushAsync(HttpResponse response, ArrayBufferWriter<byte> buffer, Utf8JsonWriter w, CancellationToken ct)
    {
        if (w.BytesPending > 0 || w.BytesCommitted > 0) NewLine(buffer, w);
        if (buffer.WrittenCount == 0) return;
        if (!response.HasStarted)
        {
            response.StatusCode = 200;
            response.ContentType = "application/x-ndjson";
        }
        await response.Body.WriteAsync(buffer.WrittenMemory, ct);
        await response.Body.FlushAsync(ct);
        buffer.ResetWrittenCount();
    }
}
