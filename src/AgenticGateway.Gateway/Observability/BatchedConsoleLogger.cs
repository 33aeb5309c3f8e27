using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace AgenticGateway.Observability;

/// <summary>
/// The console logger the gateway runs with: the same lines as ASP.NET's console logger (its own simple or JSON
/// formatter, as logging.format says), written differently. ASP.NET's logger hands each line to one thread through a
/// locked queue (a Monitor pulse per line) and that thread makes one write(2) per line: at full load one system call
/// and one lock hand-off per request for the access log alone. Here a line is formatted on the caller's thread into a
/// thread-local buffer, encoded into a pooled array and queued without a lock; one writer thread, woken by the first
/// line after a pause and then lingering 1-2 ms for more, writes everything queued meanwhile with one write(2): a line
/// reaches stdout a couple of milliseconds after it is logged. Lines keep their order. Nothing is dropped: past <see cref="MaxPendingBytes"/>
/// queued (stdout not read fast enough), a logging thread waits for the writer, as ASP.NET's logger does when its queue
/// is full. Disposing writes what is queued.
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchedConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConsoleFormatter _formatter;
    private readonly ConsoleLineWriter _writer;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public BatchedConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters)
        : this(options, formatters, Console.OpenStandardOutput())
    {
    }

    /// <param name="output">Where lines go (stdout; a test's stream).</param>
    internal BatchedConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters, Stream output)
    {
        // As ASP.NET's provider: an unknown formatter name falls back to the simple one.
        var name = options.CurrentValue.FormatterName ?? ConsoleFormatterNames.Simple;
        _formatter = formatters.FirstOrDefault(f => f.Name == name) ?? formatters.First(f => f.Name == ConsoleFormatterNames.Simple);
        // Every line goes to stdout: a setting asking for some on stderr would silently do nothing, so it is refused.
        if (options.CurrentValue.LogToStandardErrorThreshold != LogLevel.None)
            throw new InvalidOperationException("Logging:Console:LogToStandardErrorThreshold is not supported: the gateway writes every log line to stdout.");
        _writer = new ConsoleLineWriter(output);
    }

    internal ConsoleLineWriter Writer => _writer;

    /// <summary>Puts this provider in place of ASP.NET's console logger, keeping its formatters and their options.</summary>
    public static void ReplaceConsoleLogger(ILoggingBuilder logging)
    {
        foreach (var d in logging.Services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToList())
            logging.Services.Remove(d);
        logging.Services.AddSingleton<ILoggerProvider, BatchedConsoleLoggerProvider>();
    }

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() => _writer.Dispose();

    private sealed class Logger(string category, BatchedConsoleLoggerProvider provider) : ILogger
    {
        // One per thread: a line is formatted where it is logged, and the buffer is reused for the next one.
        [ThreadStatic] private static StringWriter? t_buffer;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        // Levels are filtered by the logger factory's rules (logging.level, the per-category filters), as for ASP.NET's.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var buffer = t_buffer ??= new StringWriter(new StringBuilder(512), CultureInfo.InvariantCulture);
            var line = buffer.GetStringBuilder();
            try
            {
                provider._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), provider._scopes, buffer);
                if (line.Length > 0) provider._writer.Enqueue(line);
            }
            finally
            {
                line.Clear();
                // A huge line (an exception's stack) leaves the thread's buffer at its normal size.
                if (line.Capacity > 64 * 1024) line.Capacity = 512;
            }
        }
    }
}

/// <summary>
/// Lines in order, written in batches by one thread: producers queue UTF-8 copies without a lock and wake the writer only
/// when it sleeps; the writer gathers what is queued into one buffer and writes it with one call.
/// </summary>
internal sealed class ConsoleLineWriter : IDisposable
{
    /// <summary>How much may wait for the writer before logging threads wait for room.</summary>
    public const int MaxPendingBytes = 16 * 1024 * 1024;
    private const int BatchBytes = 64 * 1024;

    private readonly Stream _output;
    private readonly ConcurrentQueue<(byte[] Bytes, int Length)> _lines = new();
    // No spinning before it blocks (SemaphoreSlim and Monitor spin first): one request at a time, a spinning writer
    // burnt more CPU per line than writing it.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly ManualResetEventSlim _room = new(true);
    private readonly Thread _thread;
    private readonly byte[] _batch = new byte[BatchBytes];
    // The writer thread and Flush (a test, shutdown) both drain; one at a time, so lines stay in order.
    private readonly Lock _drain = new();
    private long _pendingBytes;
    // 1 while the writer sleeps (or is about to): only then does a producer pay for waking it.
    private int _sleeping;
    private volatile bool _disposed;

    public ConsoleLineWriter(Stream output)
    {
        _output = output;
        _thread = new Thread(Run) { IsBackground = true, Name = "console log writer" };
        _thread.Start();
    }

    // One per logging thread: a surrogate pair split across two of the line's chunks is encoded whole.
    [ThreadStatic] private static Encoder? t_encoder;

    public void Enqueue(StringBuilder line)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(line.Length));
        var encoder = t_encoder ??= Encoding.UTF8.GetEncoder();
        encoder.Reset();
        var written = 0;
        foreach (var chunk in line.GetChunks()) written += encoder.GetBytes(chunk.Span, bytes.AsSpan(written), flush: false);
        written += encoder.GetBytes([], bytes.AsSpan(written), flush: true);
        if (_disposed)
        {
            // After shutdown (a last message from a disposing service): written at once, in the caller's thread.
            Write(bytes.AsSpan(0, written));
            ArrayPool<byte>.Shared.Return(bytes);
            return;
        }
        // stdout is not keeping up: wait for the writer rather than lose the line or grow without bound.
        while (Volatile.Read(ref _pendingBytes) > MaxPendingBytes && !_disposed)
        {
            _room.Reset();
            if (Volatile.Read(ref _pendingBytes) > MaxPendingBytes) _room.Wait(TimeSpan.FromMilliseconds(100));
        }
        Interlocked.Add(ref _pendingBytes, written);
        _lines.Enqueue((bytes, written));
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Set();
        // Queued while shutting down, perhaps after the writer's last look: written here rather than left in the queue.
        if (_disposed) Flush();
    }

    private void Run()
    {
        while (true)
        {
            if (_lines.IsEmpty)
            {
                Volatile.Write(ref _sleeping, 1);
                Interlocked.MemoryBarrier();
                // A line queued between the check and the flag would find the flag unset: look once more before sleeping.
                if (_lines.IsEmpty)
                {
                    if (_disposed) return;
                    // Woken by a line: wait two milliseconds for the ones behind it. One request at a time (a line every few
                    // hundred microseconds), a wake-up, a write and a sleep per line cost a third of the request's CPU.
                    if (_wake.Wait(TimeSpan.FromMilliseconds(500)) && !_disposed) Thread.Sleep(2);
                }
                // A signal that comes after this reset finds the flag set again or the queue not empty: nothing is missed.
                _wake.Reset();
                Interlocked.Exchange(ref _sleeping, 0);
                continue;
            }
            WriteQueued();
            // Under load lines keep coming: a millisecond's wait lets the next write carry dozens of them instead of the
            // one or two that arrived during this write.
            if (!_lines.IsEmpty && Volatile.Read(ref _pendingBytes) < BatchBytes / 2) Thread.Sleep(1);
        }
    }

    private void WriteQueued()
    {
        // Bounded: a drain stuck in write(2) on a stdout nobody reads must not hold a logging thread forever.
        if (!_drain.TryEnter(TimeSpan.FromSeconds(5))) return;
        try { WriteQueuedLocked(); }
        finally { _drain.Exit(); }
    }

    private void WriteQueuedLocked()
    {
        var used = 0;
        long taken = 0;
        while (_lines.TryPeek(out var line))
        {
            if (used > 0 && used + line.Length > _batch.Length) break;
            _lines.TryDequeue(out _);
            taken += line.Length;
            if (line.Length > _batch.Length)
            {
                // Longer than a batch (a long stack trace): written on its own.
                Write(line.Bytes.AsSpan(0, line.Length));
            }
            else
            {
                line.Bytes.AsSpan(0, line.Length).CopyTo(_batch.AsSpan(used));
                used += line.Length;
            }
            ArrayPool<byte>.Shared.Return(line.Bytes);
        }
        if (used > 0) Write(_batch.AsSpan(0, used));
        if (Interlocked.Add(ref _pendingBytes, -taken) <= MaxPendingBytes) _room.Set();
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        // A closed or broken stdout (EPIPE, EBADF...) loses the log, never the request that logged it, nor the process.
        try { lock (_output) { _output.Write(bytes); _output.Flush(); } }
        catch (Exception) { }
    }

    /// <summary>Writes everything queued so far (tests; shutdown).</summary>
    public void Flush() => WriteQueued();

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _wake.Set();
        // A writer stuck in write(2) on a stdout nobody reads keeps the drain: shutdown does not wait for it forever.
        if (_thread.Join(TimeSpan.FromSeconds(5))) Flush();
        _room.Set();
    }
}
