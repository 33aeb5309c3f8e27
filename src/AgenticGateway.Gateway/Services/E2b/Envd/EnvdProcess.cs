using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// A process started through envd's Start: what it was started with (for List), and its output relayed to every
/// stream attached to it (Start's own, then any Connect). Output nobody is attached to is dropped, as envd drops it;
/// the process lives on when its streams go (envd does not kill a command whose request ended), until it exits or
/// the sandbox ends.
/// </summary>
internal sealed class EnvdProcess(string sandboxId, long pid, string cmd, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> envs,
    string? cwd, string? tag, AgentCall call)
{
    private readonly Lock _gate = new();
    private readonly List<Channel<RelayMessage>> _subscribers = [];
    private bool _ended;

    public string SandboxId { get; } = sandboxId;
    public long Pid { get; } = pid;
    public string Cmd { get; } = cmd;
    public IReadOnlyList<string> Args { get; } = args;
    public IReadOnlyDictionary<string, string> Envs { get; } = envs;
    public string? Cwd { get; } = cwd;
    public string? Tag { get; } = tag;

    /// <summary>A new stream's queue, starting with the start event (the SDK's first read); null once the process has ended.</summary>
    public ChannelReader<RelayMessage>? Subscribe()
    {
        var queue = StreamRelay.NewQueue();
        queue.Writer.TryWrite(new RelayMessage(StartEvent(Pid)));
        lock (_gate)
        {
            if (_ended) return null;
            _subscribers.Add(queue);
        }
        return queue.Reader;
    }

    /// <summary>Relays the agent's events until the process ends, then leaves the table.</summary>
    public async Task PumpAsync(ConcurrentDictionary<(string, long), EnvdProcess> table)
    {
        try
        {
            await foreach (var e in call.Events.ReadAllAsync())
            {
                switch (e.Type)
                {
                    case "stdout" or "stderr":
                        Broadcast(new RelayMessage(DataEvent(e)));
                        break;
                    case "done":
                        Broadcast(new RelayMessage(EndEvent(e.Body)));
                        End(e.Body.TryGetProperty("timed_out", out var t) && t.ValueKind == JsonValueKind.True
                            ? new ConnectError(ConnectError.DeadlineExceeded, "the command's timeout (timeoutMs) passed: it was killed")
                            : null);
                        break;
                    case "error":
                        End(ConnectError.FromAgent(AgentConnection.ToException(e)));
                        break;
                }
            }
        }
        finally
        {
            End(new ConnectError(ConnectError.Unavailable, "the sandbox has ended"));
            table.TryRemove((SandboxId, Pid), out _);
        }
    }

    private void Broadcast(RelayMessage message)
    {
        lock (_gate)
        {
            for (var i = _subscribers.Count - 1; i >= 0; i--)
            {
                var queue = _subscribers[i];
                StreamRelay.Offer(queue, message);
                if (queue.Reader.Completion.IsCompleted) _subscribers.RemoveAt(i);
            }
        }
    }

    private void End(ConnectError? error)
    {
        lock (_gate)
        {
            if (_ended) return;
            _ended = true;
            foreach (var queue in _subscribers)
            {
                if (error is not null) queue.Writer.TryWrite(new RelayMessage(null, error));
                queue.Writer.TryComplete();
            }
            _subscribers.Clear();
        }
    }

    /// <summary>Ends a stream's subscription (its client left); the process runs on.</summary>
    public void Unsubscribe(ChannelReader<RelayMessage> reader)
    {
        lock (_gate) _subscribers.RemoveAll(q => q.Reader == reader);
    }

    public static byte[] StartEvent(long pid) => Json(w =>
    {
        w.WriteStartObject("start");
        w.WriteNumber("pid", pid);
        w.WriteEndObject();
    });

    public static readonly byte[] Keepalive = Json(w => { w.WriteStartObject("keepalive"); w.WriteEndObject(); });

    /// <summary>Output as envd's DataEvent: the bytes (base64) under stdout, stderr, or pty for a terminal.</summary>
    private static byte[] DataEvent(AgentEvent e) => Json(w =>
    {
        w.WriteStartObject("data");
        if (e.String("data_b64") is { } raw) w.WriteString("pty", raw);        // a pty's bytes, already base64
        else w.WriteBase64String(e.Type, Encoding.UTF8.GetBytes(e.String("data") ?? ""));
        w.WriteEndObject();
    });

    /// <summary>
    /// The end as envd reports it from Go's ProcessState: exited with its status ("exit status 3", the error of a
    /// non-zero one), or killed by a signal (exitCode -1, exited false, "signal: killed").
    /// </summary>
    private static byte[] EndEvent(JsonElement done) => Json(w =>
    {
        w.WriteStartObject("end");
        var signal = done.TryGetProperty("signal", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        if (signal is not null)
        {
            var status = "signal: " + SignalText(signal);
            w.WriteNumber("exitCode", -1);
            w.WriteBoolean("exited", false);
            w.WriteString("status", status);
            w.WriteString("error", status);
        }
        else
        {
            var code = done.TryGetProperty("exit_code", out var c) && c.TryGetInt32(out var n) ? n : 0;
            var status = $"exit status {code}";
            w.WriteNumber("exitCode", code);
            w.WriteBoolean("exited", true);
            w.WriteString("status", status);
            if (code != 0) w.WriteString("error", status);
        }
        w.WriteEndObject();
    });

    /// <summary>Go's names for the signals (syscall.Signal.String()).</summary>
    private static string SignalText(string name) => name switch
    {
        "SIGKILL" => "killed",
        "SIGTERM" => "terminated",
        "SIGINT" => "interrupt",
        "SIGHUP" => "hangup",
        "SIGQUIT" => "quit",
        "SIGSEGV" => "segmentation fault",
        "SIGABRT" => "aborted",
        "SIGPIPE" => "broken pipe",
        "SIGUSR1" => "user defined signal 1",
        "SIGUSR2" => "user defined signal 2",
        _ => name,
    };

    /// <summary>A process.StartResponse / ConnectResponse: <c>{"event": {...}}</c>.</summary>
    private static byte[] Json(Action<Utf8JsonWriter> inner)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("event");
            inner(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
