using System.Buffers;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Interpreter;

/// <summary>
/// A run's agent events as the code interpreter's stream: one JSON object per line, <c>stdout</c> and <c>stderr</c>
/// (<c>text</c>, <c>timestamp</c>), <c>result</c> (text, html, markdown, svg, png, jpeg, json, latex, with
/// <c>is_main_result</c>), <c>error</c> (<c>name</c>, <c>value</c>, <c>traceback</c>), then
/// <c>number_of_executions</c> (<c>execution_count</c>) and <c>end_of_execution</c>.
/// <para>
/// The response starts with the first event, or after <see cref="StartWindow"/> when the run is silent: the agent
/// refuses a run at once (an unknown context), so a refusal is still an HTTP error, while a cell that prints nothing
/// for a minute still gets its headers. The SDK times a run (<c>timeoutMs</c>) only from the headers on, and ends a
/// request without them after <c>requestTimeoutMs</c>.
/// </para>
/// </summary>
internal static class ExecutionStream
{
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");

    /// <summary>How long a silent run may go before the response starts without an event.</summary>
    public static readonly TimeSpan StartWindow = TimeSpan.FromMilliseconds(250);

    /// <summary>Sends the headers of the stream (when not sent yet), so the client's run timer starts.</summary>
    public static Task StartAsync(HttpResponse response, CancellationToken ct)
    {
        if (response.HasStarted) return Task.CompletedTask;
        response.StatusCode = 200;
        response.ContentType = "application/x-ndjson";
        return response.Body.FlushAsync(ct);
    }

    /// <summary>
    /// Streams the run. False when the agent refused it because the context is still running another execution (one
    /// whose client went away is interrupted, which takes a moment): nothing was written for it, the caller retries.
    /// </summary>
    /// <param name="counted">Called once the run has ended in the interpreter; returns the context's execution count.</param>
    public static async Task<bool> WriteAsync(HttpContext c, AgentCall call, TimeSpan timeout, Func<int> counted)
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
            var reader = call.Events;
            var first = reader.WaitToReadAsync(backstop.Token).AsTask();
            if (!response.HasStarted && await Task.WhenAny(first, Task.Delay(StartWindow, backstop.Token)) != first) await StartAsync(response, ct);
            var more = await first;
            while (more)
            {
                while (reader.TryRead(out var e))
                {
                    if (e.Type == "error")
                    {
                        var refusal = AgentConnection.ToException(e);
                        if (refusal.Code == AgentErrors.Busy && !ran) return false;
                        if (!response.HasStarted) { await E2bError.From(SandboxHttp.FromAgent(refusal), E2bErrorShape.Envd).ExecuteAsync(c); return true; }
                        Error(w, "SandboxError", refusal.Message);
                        reported = true;
                    }
                    else if (!Event(w, e)) continue;
                    else if (e.Type == "done") ran = true;
                    await FlushAsync(response, buffer, w, ct);
                }
                more = await reader.WaitToReadAsync(backstop.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            call.Cancel();
            Error(w, "TimeoutError", $"The sandbox did not finish the execution within {(timeout + CodeExecution.Backstop).TotalSeconds:0} s.");
            NewLine(buffer, w);
            reported = true;
        }
        catch (OperationCanceledException) { return true; }
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
        return true;
    }

    /// <summary>A run refused without running: an HTTP error, or the stream's error and end once the headers are out.</summary>
    public static async Task RefuseAsync(HttpContext c, int status, string name, string message)
    {
        if (!c.Response.HasStarted) { await new E2bError(status, message, E2bErrorShape.Envd).ExecuteAsync(c); return; }
        var buffer = new ArrayBufferWriter<byte>(256);
        using var w = new Utf8JsonWriter(buffer);
        Error(w, name, message);
        NewLine(buffer, w);
        w.WriteStartObject();
        w.WriteString(Type, "end_of_execution");
        w.WriteEndObject();
        try { await FlushAsync(c.Response, buffer, w, c.RequestAborted); }
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
