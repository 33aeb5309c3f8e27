using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// GET /v1/sandboxes/{id}/ws: an interactive session. It starts a command (default an interactive bash) on a pty and
/// relays it. Client to server: binary frames are raw stdin; text frames are JSON
/// <c>{"type":"stdin","data"}</c>, <c>{"type":"resize","cols","rows"}</c> or <c>{"type":"signal","signal"}</c>.
/// Server to client: text frames <c>{"type":"stdout"|"stderr","data"}</c>, then <c>{"type":"exit","exit_code"}</c> and a close.
/// Query: <c>cmd</c>, <c>cols</c>, <c>rows</c>, <c>pty=false</c> for plain pipes (separate stdout and stderr).
/// </summary>
internal static class SandboxSocket
{
    public static void Map(IEndpointRouteBuilder app, SandboxHttp http)
    {
        app.MapGet("/v1/sandboxes/{id}/ws", (HttpContext c, string id) => SessionAsync(c, http, id)).WithSummary("Interactive terminal session (WebSocket)");
    }

    private static async Task SessionAsync(HttpContext context, SandboxHttp http, string id)
    {
        var (_, sandbox) = await http.SandboxAsync(context, id);
        if (sandbox is null) return;
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await PipelineErrors.WriteAsync(context, ApiError.BadRequest("This endpoint speaks WebSocket: send an Upgrade request."));
            return;
        }
        var cmd = SandboxHttp.Query(context, "cmd") ?? "exec bash -i";
        var usePty = SandboxHttp.Query(context, "pty") != "false";
        var cols = int.TryParse(SandboxHttp.Query(context, "cols"), out var c) ? Math.Clamp(c, 10, 1000) : 80;
        var rows = int.TryParse(SandboxHttp.Query(context, "rows"), out var r) ? Math.Clamp(r, 5, 500) : 24;

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var call = CommandEndpoints.Start(sandbox, cmd, null, sandbox.Spec.Env, TimeSpan.Zero, 0, "ws", usePty ? (cols, rows) : null);
        var first = await CommandEndpoints.FirstAsync(call, context.RequestAborted);
        if (first.Type != "start")
        {
            await SendAsync(socket, w => { w.WriteString("type", "error"); w.WriteString("message", first.String("message") ?? "the command did not start"); }, context.RequestAborted);
            await CloseAsync(socket, WebSocketCloseStatus.InternalServerError, "command did not start");
            return;
        }
        var pid = first.Body.GetProperty("pid").GetInt64();
        await SendAsync(socket, w => { w.WriteString("type", "start"); w.WriteNumber("pid", pid); }, context.RequestAborted);

        using var session = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var input = PumpInputAsync(socket, sandbox, pid, session.Token);
        var decoder = Encoding.UTF8.GetDecoder();
        try
        {
            await foreach (var e in call.Events.ReadAllAsync(session.Token))
            {
                switch (e.Type)
                {
                    case "stdout" or "stderr":
                        var text = e.String("data") ?? (e.String("data_b64") is { } b64 ? Decode(decoder, Convert.FromBase64String(b64)) : "");
                        if (text.Length > 0) await SendAsync(socket, w => { w.WriteString("type", e.Type); w.WriteString("data", text); }, session.Token);
                        break;
                    case "done":
                        await SendAsync(socket, w =>
                        {
                            w.WriteString("type", "exit");
                            if (e.Body.TryGetProperty("exit_code", out var code)) { w.WritePropertyName("exit_code"); code.WriteTo(w); }
                            if (e.String("signal") is { } sig) w.WriteString("signal", sig);
                        }, session.Token);
                        break;
                    case "error":
                        await SendAsync(socket, w => { w.WriteString("type", "error"); w.WriteString("message", e.String("message") ?? ""); }, session.Token);
                        break;
                }
            }
            await CloseAsync(socket, WebSocketCloseStatus.NormalClosure, "process exited");
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException) { }
        finally
        {
            // The client went away: the session's process goes with it.
            if (!call.Events.Completion.IsCompleted) call.Cancel();
            await session.CancelAsync();
            try { await input; } catch (Exception ex) when (ex is OperationCanceledException or WebSocketException) { }
        }
    }

    private static string Decode(Decoder decoder, byte[] bytes)
    {
        var chars = new char[decoder.GetCharCount(bytes, flush: false)];
        var n = decoder.GetChars(bytes, chars, flush: false);
        return new string(chars, 0, n);
    }

    private static async Task PumpInputAsync(WebSocket socket, Sandbox sandbox, long pid, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (socket.State == WebSocketState.Open)
        {
            buffer.ResetWrittenCount();
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken);
                buffer.Advance(result.Count);
                if (buffer.WrittenCount > 1 << 20) { await CloseAsync(socket, WebSocketCloseStatus.MessageTooBig, "message too big"); return; }
            } while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close) { sandbox.Agent.Start(AgentOps.ProcessSignal, w => { w.WriteNumber("pid", pid); w.WriteString("signal", "SIGHUP"); }); return; }
            if (result.MessageType == WebSocketMessageType.Binary)
            {
                var data = Convert.ToBase64String(buffer.WrittenSpan);
                sandbox.Agent.Start(AgentOps.ProcessInput, w => { w.WriteNumber("pid", pid); w.WriteString("data_b64", data); });
                continue;
            }
            JsonElement message;
            try
            {
                var reader = new Utf8JsonReader(buffer.WrittenSpan);
                message = JsonElement.ParseValue(ref reader);
            }
            catch (JsonException) { continue; }
            if (message.ValueKind != JsonValueKind.Object) continue;
            switch (SandboxHttp.String(message, "type"))
            {
                case "stdin" when SandboxHttp.String(message, "data") is { } text:
                    sandbox.Agent.Start(AgentOps.ProcessInput, w => { w.WriteNumber("pid", pid); w.WriteString("data", text); });
                    break;
                case "resize" when message.TryGetProperty("cols", out var cols) && message.TryGetProperty("rows", out var rows) && cols.TryGetInt32(out var cc) && rows.TryGetInt32(out var rr):
                    sandbox.Agent.Start(AgentOps.ProcessResize, w => { w.WriteNumber("pid", pid); w.WriteNumber("cols", Math.Clamp(cc, 10, 1000)); w.WriteNumber("rows", Math.Clamp(rr, 5, 500)); });
                    break;
                case "signal" when SandboxHttp.String(message, "signal") is { } signal:
                    sandbox.Agent.Start(AgentOps.ProcessSignal, w => { w.WriteNumber("pid", pid); w.WriteString("signal", signal.StartsWith("SIG", StringComparison.Ordinal) ? signal : "SIG" + signal); });
                    break;
            }
        }
    }

    private static async Task SendAsync(WebSocket socket, Action<Utf8JsonWriter> fields, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            fields(w);
            w.WriteEndObject();
        }
        await socket.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Text, true, cancellationToken);
    }

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await socket.CloseOutputAsync(status, reason, timeout.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException) { }
        }
    }
}
