using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;

namespace AgenticGateway.Spend;

/// <summary>
/// The spend write-ahead file: every spend log is appended here (one JSON line, written to the OS before the
/// response is released) so a crash or kill -9 loses nothing; the batching writer deletes a segment once all of its
/// records are in the database, and segments left by an earlier process are replayed at start.
/// Appends are group-committed: a caller queues its record and awaits it; one writer loop writes every record queued
/// meanwhile with a single copy into the memory-mapped segment (<see cref="MappedSegment"/>: in the page cache at once,
/// no system call; no fsync, as before), numbers them, hands them to the database queue and only
/// then releases their callers. An append that finds the loop idle runs one batch of it on its own thread; one that
/// finds it busy only queues, and never waits behind another's write.
/// </summary>
internal sealed class SpendWal : IDisposable, IAsyncDisposable
{
    /// <summary>Appends waiting for the writer loop. Past this, callers wait for room: a record is never dropped here.</summary>
    public const int AppendQueueCapacity = 4096;
    /// <summary>The most records one batch (one copy into the segment) carries.</summary>
    private const int MaxBatch = 1024;

    private readonly string _directory;
    // Taken by the writer loop (once per batch, on whichever thread runs it) and the database writer's progress calls.
    private readonly Lock _lock = new();
    private readonly List<(string Path, long LastSeq)> _closed = [];
    private readonly List<string> _recovered;
    private IWalSegment? _current;
    private long _currentLastSeq;
    private long _seq;
    private int _segmentNumber;
    /// <summary>The oldest record the bounded queue had no room for: segments from there on must be replayed, not dropped.</summary>
    private long _lowestDropped = long.MaxValue;
    /// <summary>The oldest dropped record of the segments being replayed now: they stay until the replay is done.</summary>
    private long _replayingFrom = long.MaxValue;
    private readonly ChannelWriter<(SpendLog Log, long Seq)> _queue;

    private readonly Channel<PendingAppend> _appends;
    private readonly ObjectPool<PendingAppend> _pool;
    private readonly Task _writerLoop;
    // The writer loop's buffers: a batch's lines, and one record's line while it is serialised.
    private readonly ArrayBufferWriter<byte> _lines = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _json;

    /// <param name="appendQueueCapacity">Appends that may wait for the writer loop before callers wait for room.</param>
    public SpendWal(string dataDirectory, ChannelWriter<(SpendLog Log, long Seq)> queue, int appendQueueCapacity = AppendQueueCapacity)
    {
        // Synchronous continuations: an append that finds the writer loop idle runs one batch of it on its own thread
        // (leader and follower group commit). Alone it writes its record itself, with no hand-off to another thread and
        // back (at one request at a time the hand-offs cost more CPU than the write); under load the loop is already
        // busy, so appends only queue and are written in batches. The loop passes the rest on to the thread pool after
        // one batch (WriteLoopAsync), so no caller carries others' writes for long.
        _appends = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(appendQueueCapacity)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait, AllowSynchronousContinuations = true,
        });
        _queue = queue;
        _directory = Path.Combine(dataDirectory, "spend-wal");
        // Spend logs name keys, users and teams: the gateway's user's alone, even in a data directory an operator made
        // readable to others (a volume keeps its own mode).
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(_directory);
        else Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _recovered = Directory.GetFiles(_directory, "*.jsonl").Order(StringComparer.Ordinal).ToList();
        _json = new Utf8JsonWriter(_line);
        _pool = new DefaultObjectPool<PendingAppend>(new PendingPolicy(this), AppendQueueCapacity);
        // The loop must not carry the context (the request, its span) of whoever first resolved this.
        using (ExecutionContext.SuppressFlow()) _writerLoop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Segments an earlier process left: their records may or may not be in the database yet.</summary>
    public IReadOnlyList<string> Recovered => _recovered;

    /// <summary>The sequence number of the last record appended.</summary>
    public long LastSeq => Volatile.Read(ref _seq);

    /// <summary>Whether records were left out of the queue (it was full): they are only in the file until replayed.</summary>
    public bool HasDropped => Volatile.Read(ref _lowestDropped) != long.MaxValue;

    /// <summary>
    /// Appends a record: completes once it is written to the file and queued for the database writer (records are
    /// numbered and queued in file order). Throws what the write threw if it failed. Not cancellable: a request whose
    /// client left is still charged.
    /// </summary>
    public ValueTask AppendAsync(SpendLog log)
    {
        var pending = _pool.Get();
        var written = pending.Arm(log);
        return _appends.Writer.TryWrite(pending) ? written : WaitForRoomAsync(pending, written);
    }

    private async ValueTask WaitForRoomAsync(PendingAppend pending, ValueTask written)
    {
        await _appends.Writer.WriteAsync(pending);
        await written;
    }

    private async Task WriteLoopAsync()
    {
        var reader = _appends.Reader;
        var batch = new List<PendingAppend>(MaxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            _lines.ResetWrittenCount();
            while (batch.Count < MaxBatch && reader.TryRead(out var pending))
            {
                if (TrySerialize(pending)) batch.Add(pending);
            }
            Exception? failure = null;
            // Anything thrown goes to this batch's callers: the loop itself never stops while the gateway runs.
            try { if (batch.Count > 0) Commit(batch); }
            catch (Exception ex) { failure = ex; }
            // A released caller may reuse its entry at once: nothing of it is touched after Complete.
            foreach (var pending in batch) pending.Complete(failure);
            batch.Clear();
            // More already waiting: the caller whose append woke the loop has had its batch; the rest go on a pool thread.
            if (reader.Count > 0) await Task.Yield();
        }
        // Disposed and drained: the open segment stays on disk until its records are known to be stored.
        lock (_lock)
        {
            _current?.Dispose();
            _current = null;
        }
        _json.Dispose();
    }

    /// <summary>Adds the record's line to the batch; a record that cannot be serialised fails alone.</summary>
    private bool TrySerialize(PendingAppend pending)
    {
        try
        {
            _line.ResetWrittenCount();
            _json.Reset(_line);
            JsonSerializer.Serialize(_json, pending.Log, SpendJsonContext.Default.SpendLog);
            _line.Write("\n"u8);
            _lines.Write(_line.WrittenSpan);
            return true;
        }
        catch (Exception ex)
        {
            pending.Complete(ex);
            return false;
        }
    }

    /// <summary>One copy of the batch into the segment, then numbers and queues its records, in order, under the lock.</summary>
    private void Commit(List<PendingAppend> batch)
    {
        lock (_lock)
        {
            var lines = _lines.WrittenSpan;
            try
            {
                if (_current is not null && !_current.TryAppend(lines)) CloseCurrent();
                if (_current is null)
                {
                    _current = OpenSegment(Math.Max(MappedSegment.DefaultCapacity, lines.Length));
                    _current.TryAppend(lines);
                }
            }
            catch
            {
                // A partly written batch ends its segment: the torn tail cannot run into the next batch's first line.
                if (_current is not null) CloseCurrent();
                throw;
            }
            var seq = _seq;
            foreach (var pending in batch)
            {
                seq++;
                if (!_queue.TryWrite((pending.Log, seq)) && seq < _lowestDropped) _lowestDropped = seq;
            }
            _currentLastSeq = seq;
            Volatile.Write(ref _seq, seq);
        }
    }

    /// <summary>Records up to <paramref name="seq"/> are in the database: drop the segments that hold nothing newer.</summary>
    public void Committed(long seq)
    {
        List<string> done;
        lock (_lock)
        {
            // A record the queue dropped is not covered by the writer's progress.
            seq = Math.Min(seq, Math.Min(_lowestDropped, _replayingFrom) - 1);
            // Everything in the current segment is stored: start afresh instead of growing it.
            if (_current is not null && _currentLastSeq <= seq) CloseCurrent();
            done = _closed.Where(c => c.LastSeq <= seq).Select(c => c.Path).ToList();
            _closed.RemoveAll(c => c.LastSeq <= seq);
        }
        foreach (var path in done) TryDelete(path);
    }

    /// <summary>Closes the current segment and returns every closed one: to re-read after the in-memory queue overflowed.</summary>
    public IReadOnlyList<string> SealForReplay()
    {
        lock (_lock)
        {
            if (_current is not null) CloseCurrent();
            // Drops from here on are new; the ones before stay protected until ReplayDone.
            _replayingFrom = Math.Min(_replayingFrom, _lowestDropped);
            _lowestDropped = long.MaxValue;
            return _closed.Select(c => c.Path).ToList();
        }
    }

    /// <summary>Every segment sealed for replay is in the database.</summary>
    public void ReplayDone()
    {
        lock (_lock) _replayingFrom = long.MaxValue;
    }

    /// <summary>A replayed segment is in the database: forget and delete it.</summary>
    public void Replayed(string path)
    {
        lock (_lock)
        {
            _closed.RemoveAll(c => c.Path == path);
            _recovered.Remove(path);
        }
        TryDelete(path);
    }

    /// <summary>Reads a segment's records; a torn last line (the process died mid-write) is skipped, and so is the zeroed tail
    /// a killed process leaves in its mapped segment.</summary>
    public static IEnumerable<SpendLog> Read(string path)
    {
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            // The zeroed, never written tail of a mapped segment whose process was killed (a line cut short runs into it):
            // nothing follows.
            if (line.Contains('\0')) break;
            if (line.Length == 0) continue;
            SpendLog? log;
            try { log = JsonSerializer.Deserialize(line, SpendJsonContext.Default.SpendLog); }
            catch (JsonException) { continue; }
            if (log is not null) yield return log;
        }
    }

    private IWalSegment OpenSegment(int capacity)
    {
        // Sortable by time; the process id is for people reading the directory. Each gateway process needs a data
        // directory of its own: at start, every segment found there is taken to be left over and replayed.
        var path = Path.Combine(_directory, $"{DateTime.UtcNow:yyyyMMddHHmmssfff}-{Environment.ProcessId}-{Interlocked.Increment(ref _segmentNumber):D6}.jsonl");
        return (IWalSegment?)MappedSegment.TryCreate(path, capacity) ?? new WrittenSegment(path);
    }

    private void CloseCurrent()
    {
        var current = _current!;
        _current = null;
        _closed.Add((current.Path, _currentLastSeq));
        current.Dispose();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Lets the writer loop write what is queued and close the file; appends after this fail.</summary>
    public void Dispose() => _appends.Writer.TryComplete();

    /// <summary>As <see cref="Dispose"/>, and completes once the file is closed.</summary>
    public async ValueTask DisposeAsync()
    {
        _appends.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
    }

    /// <summary>One queued record and what its caller awaits; pooled, so an append allocates nothing of its own.</summary>
    private sealed class PendingAppend(SpendWal owner) : IValueTaskSource
    {
        // Continuations go to the thread pool: the writer loop never runs a caller's code.
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public SpendLog Log { get; private set; } = null!;

        public ValueTask Arm(SpendLog log)
        {
            Log = log;
            return new ValueTask(this, _core.Version);
        }

        public void Complete(Exception? failure)
        {
            if (failure is null) _core.SetResult(true);
            // Each caller gets its own exception: one object rethrown on many threads would share a stack trace.
            else _core.SetException(new IOException($"the spend log could not be appended to the write-ahead file: {failure.Message}", failure));
        }

        public void GetResult(short token)
        {
            try { _core.GetResult(token); }
            finally
            {
                Log = null!;
                _core.Reset();
                owner._pool.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private sealed class PendingPolicy(SpendWal owner) : PooledObjectPolicy<PendingAppend>
    {
        public override PendingAppend Create() => new(owner);

        public override bool Return(PendingAppend obj) => true;
    }
}
