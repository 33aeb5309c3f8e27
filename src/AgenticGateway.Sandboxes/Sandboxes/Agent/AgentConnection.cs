using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using System.Threading.Channels;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Agent;

/// <summary>One event from the agent: its type and the whole JSON object (docs/sandbox-agent-protocol.md).</summary>
internal readonly record struct AgentEvent(string Type, JsonElement Body)
{
    public bool IsTerminal => Type is "done" or "error";

    public string? String(string name) => Body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>An op the agent refused or failed, with its protocol error code (invalid, not_found, denied, ...).</summary>
internal sealed class AgentException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>
/// The gateway's end of the agent protocol: JSON lines out (requests), JSON lines in (events), many requests in
/// flight at once. A single reader loop routes events to their request by id; a single writer loop sends requests, so
/// nothing holds a lock across an await.
/// <para>
/// Both hand-offs run their continuations inline: the writer loop writes a request on the thread that queued it, and
/// a caller reading its events resumes on the reader loop's thread. An execute's round trip thus takes no thread-pool
/// hop of its own besides the pipe's read completion; each hop cost 0.1-0.5 ms on a busy 2-core host, several times
/// what the agent and the interpreter take (bench/README.md, "Sandboxes"). Callers' continuations are short (they
/// copy the event to the response and await its write), so they hold the reader up no longer than a hop would.
/// </para>
/// </summary>
internal sealed class AgentConnection : IAsyncDisposable
{
    private readonly Stream _toAgent;
    private readonly Stream _fromAgent;
    private readonly ConcurrentDictionary<long, Channel<AgentEvent>> _calls = new();
    private readonly Channel<byte[]> _outbox = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly TaskCompletionSource<JsonElement> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;
    private readonly Task _writer;
    private static readonly AgentEvent Gone = new("error", JsonDocument.Parse("""{"type":"error","code":"sandbox_gone","message":"the sandbox ended"}""").RootElement.Clone());
    private long _nextId;
    private volatile bool _closed;

    /// <param name="firstId">Request ids start after it: a microVM resumed from a saved state still runs requests of its
    /// earlier connection, and new ones must not take their ids.</param>
    public AgentConnection(Stream toAgent, Stream fromAgent, long firstId = 0)
    {
        _nextId = firstId;
        _toAgent = toAgent;
        _fromAgent = fromAgent;
        _reader = Task.Run(ReadLoopAsync);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The agent's unsolicited hello (id 0, type "ready").</summary>
    public Task<JsonElement> Ready => _ready.Task;

    /// <summary>Completes when the agent's output has ended: the agent exited.</summary>
    public Task Closed => _reader;

    /// <summary>Sends a request and returns its stream of events, which ends with "done" or "error".</summary>
    public AgentCall Start(string op, Action<Utf8JsonWriter>? args = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var events = Channel.CreateUnbounded<AgentEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
        _calls[id] = events;
        if (_closed) Fail(id, events);
        else _outbox.Writer.TryWrite(Serialize(id, op, args));
        return new AgentCall(this, id, events.Reader);
    }

    /// <summary>A request with one answer: the "done" event, or an <see cref="AgentException"/>.</summary>
    public async Task<JsonElement> CallAsync(string op, Action<Utf8JsonWriter>? args, CancellationToken cancellationToken)
    {
        var call = Start(op, args);
        await foreach (var e in call.Events.ReadAllAsync(cancellationToken))
        {
            if (e.Type == "done") return e.Body;
            if (e.Type == "error") throw ToException(e);
        }
        throw new AgentException("sandbox_gone", "the sandbox ended");
    }

    public static AgentException ToException(AgentEvent e) =>
        new(e.String("code") ?? AgentErrors.Internal, e.String("message") ?? "the sandbox agent failed");

    /// <summary>Asks the agent to end a running request early (kill its process or interrupt its execution).</summary>
    public void Cancel(long id)
    {
        if (_calls.ContainsKey(id)) Start(AgentOps.Cancel, w => w.WriteNumber("target", id));
    }

    private static byte[] Serialize(long id, string op, Action<Utf8JsonWriter>? args)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("op", op);
            args?.Invoke(w);
            w.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var line in _outbox.Reader.ReadAllAsync())
            {
                // Unbuffered pipe (or socket) streams: nothing to flush, and a pipe's FlushAsync throws NotSupported.
                await _toAgent.WriteAsync(line);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException)
        {
            // The agent is unreachable: end its stdin so it exits, which fails every pending request.
            try { _toAgent.Dispose(); } catch (IOException) { }
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_fromAgent, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    Dispatch(buffer.Slice(0, end));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException) { }
        finally
        {
            await reader.CompleteAsync();
            _closed = true;
            _ready.TrySetException(new AgentException("sandbox_gone", "the sandbox agent exited before it was ready"));
            foreach (var (id, events) in _calls) Fail(id, events);
        }
    }

    private void Dispatch(ReadOnlySequence<byte> line)
    {
        JsonElement body;
        try
        {
            var reader = new Utf8JsonReader(line);
            body = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException) { return; }
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("id", out var idProp) || !idProp.TryGetInt64(out var id)) return;
        var type = body.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (id == 0)
        {
            if (type == "ready") _ready.TrySetResult(body);
            return;
        }
        if (!_calls.TryGetValue(id, out var events)) return;
        var e = new AgentEvent(type, body);
        events.Writer.TryWrite(e);
        if (e.IsTerminal)
        {
            events.Writer.TryComplete();
            _calls.TryRemove(id, out _);
        }
    }

    private void Fail(long id, Channel<AgentEvent> events)
    {
        if (!_calls.TryRemove(id, out _)) return;
        events.Writer.TryWrite(Gone);
        events.Writer.TryComplete();
    }

    public async ValueTask DisposeAsync()
    {
        _outbox.Writer.TryComplete();
        try { _toAgent.Dispose(); } catch (IOException) { }
        await Task.WhenAny(_writer, Task.Delay(1000));
    }
}

/// <summary>A request in flight: its id (for cancel) and its events.</summary>
internal sealed class AgentCall(AgentConnection connection, long id, ChannelReader<AgentEvent> events)
{
    public long Id { get; } = id;
    public ChannelReader<AgentEvent> Events { get; } = events;

    public void Cancel() => connection.Cancel(Id);
}
