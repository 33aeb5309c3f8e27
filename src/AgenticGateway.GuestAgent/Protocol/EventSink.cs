using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AgenticGateway.GuestAgent.Protocol;

/// <summary>
/// The event stream to the gateway. Any thread builds an event (one JSON object, <see cref="Begin"/> ... <see cref="End"/>)
/// and queues it; a single writer thread drains the queue and writes every line that is waiting in one write, so a
/// burst of events (output then result then done) costs one system call and lines never interleave. The thread is the
/// agent's own, started with it (not a pool thread: see <see cref="Loop.AgentThreads"/>).
/// </summary>
internal sealed class EventSink
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    private readonly Queue<byte[]> _lines = new();
    private readonly object _lock = new();
    private readonly ManualResetEventSlim _stopped = new();
    private bool _completed;

    /// <summary>Called once when the output cannot be written (the gateway is gone).</summary>
    public Action? OnBroken { get; set; }

    public void Start(Stream output) => new Thread(() => WriteLines(output)) { IsBackground = true, Name = "agw-events" }.Start();

    public Utf8JsonWriter Begin(long id, string type)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteNumber("id", id);
        writer.WriteString("type", type);
        return writer;
    }

    public void End()
    {
        var writer = t_writer!;
        writer.WriteEndObject();
        writer.Flush();
        var buffer = t_buffer!;
        var line = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1 << 20) t_buffer = null;      // a 4 MiB fs.read answer: do not keep its buffer
        lock (_lock)
        {
            if (_completed) return;
            _lines.Enqueue(line);
            if (_lines.Count == 1) Monitor.Pulse(_lock);
        }
    }

    public void Done(long id)
    {
        Begin(id, "done");
        End();
    }

    public void Error(long id, string code, string message)
    {
        var w = Begin(id, "error");
        w.WriteString("code", code);
        w.WriteString("message", Text.Safe(message));
        End();
    }

    /// <summary>Writes what is queued, then stops (shutdown); gives up after <paramref name="timeout"/>.</summary>
    public void Flush(TimeSpan timeout)
    {
        lock (_lock)
        {
            _completed = true;
            Monitor.Pulse(_lock);
        }
        _stopped.Wait(timeout);
    }

    private void WriteLines(Stream output)
    {
        var batch = new ArrayBufferWriter<byte>(1 << 16);
        try
        {
            while (true)
            {
                batch.ResetWrittenCount();
                lock (_lock)
                {
                    while (_lines.Count == 0 && !_completed) Monitor.Wait(_lock);
                    if (_lines.Count == 0) return;
                    while (batch.WrittenCount < 4 << 20 && _lines.TryDequeue(out var line))
                    {
                        batch.Write(line);
                        batch.Write("\n"u8);
                    }
                }
                try
                {
                    output.Write(batch.WrittenSpan);
                    output.Flush();
                }
                // ErrnoException: an fd transport's write (EPIPE once the gateway has gone).
                catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or ErrnoException)
                {
                    OnBroken?.Invoke();
                    return;
                }
                if (batch.Capacity > 8 << 20) batch = new ArrayBufferWriter<byte>(1 << 16);
            }
        }
        finally
        {
            _stopped.Set();
        }
    }
}
