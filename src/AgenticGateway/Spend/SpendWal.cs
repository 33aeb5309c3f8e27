using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;

namespace AgenticGateway.Spend;

/// <summary>
/// The spend write-ahead file: every spend log is appended here (one JSON line, written to the OS before the
/// response is released) so a crash or kill -9 loses nothing; the batching writer deletes a segment once all of its
/// records are in the database, and segments left by an earlier process are replayed at start. Appends are a single
/// write(2) under a short lock (no await inside it).
/// </summary>
internal sealed class SpendWal : IDisposable
{
    private readonly string _directory;
    private readonly Lock _lock = new();
    private readonly List<(string Path, long LastSeq)> _closed = [];
    private readonly List<string> _recovered;
    private FileStream? _current;
    private string? _currentPath;
    private long _currentLastSeq;
    private long _seq;
    private int _segmentNumber;
    /// <summary>The oldest record the bounded queue had no room for: segments from there on must be replayed, not dropped.</summary>
    private long _lowestDropped = long.MaxValue;
    /// <summary>The oldest dropped record of the segments being replayed now: they stay until the replay is done.</summary>
    private long _replayingFrom = long.MaxValue;
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_line;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    private readonly ChannelWriter<(SpendLog Log, long Seq)> _queue;

    public SpendWal(string dataDirectory, ChannelWriter<(SpendLog Log, long Seq)> queue)
    {
        _queue = queue;
        _directory = Path.Combine(dataDirectory, "spend-wal");
        Directory.CreateDirectory(_directory);
        _recovered = Directory.GetFiles(_directory, "*.jsonl").Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Segments an earlier process left: their records may or may not be in the database yet.</summary>
    public IReadOnlyList<string> Recovered => _recovered;

    /// <summary>The sequence number of the last record appended.</summary>
    public long LastSeq
    {
        get { lock (_lock) return _seq; }
    }

    /// <summary>Whether records were left out of the queue (it was full): they are only in the file until replayed.</summary>
    public bool HasDropped => Volatile.Read(ref _lowestDropped) != long.MaxValue;

    /// <summary>
    /// Appends a record to the file, then queues it for the database writer, in sequence order (both under the lock,
    /// so the writer sees records in the order they were numbered).
    /// </summary>
    public void Append(SpendLog log)
    {
        // Serialised outside the lock into this thread's reused buffer, then written with one write(2).
        var line = t_line ??= new ArrayBufferWriter<byte>(1024);
        line.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(line);
        writer.Reset(line);
        JsonSerializer.Serialize(writer, log, SpendJsonContext.Default.SpendLog);
        line.Write("\n"u8);
        lock (_lock)
        {
            _current ??= OpenSegment();
            _current.Write(line.WrittenSpan);
            _currentLastSeq = ++_seq;
            if (!_queue.TryWrite((log, _seq)) && _seq < _lowestDropped) _lowestDropped = _seq;
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
            if (_current is not null && _currentLastSeq <= seq)
            {
                // Everything in the current segment is stored: start afresh instead of growing it.
                _current.Dispose();
                _current = null;
                _closed.Add((_currentPath!, _currentLastSeq));
            }
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
            if (_current is not null)
            {
                _current.Dispose();
                _current = null;
                _closed.Add((_currentPath!, _currentLastSeq));
            }
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

    /// <summary>Reads a segment's records; a torn last line (the process died mid-write) is skipped.</summary>
    public static IEnumerable<SpendLog> Read(string path)
    {
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            SpendLog? log;
            try { log = JsonSerializer.Deserialize(line, SpendJsonContext.Default.SpendLog); }
            catch (JsonException) { continue; }
            if (log is not null) yield return log;
        }
    }

    private FileStream OpenSegment()
    {
        // Sortable by time; the process id is for people reading the directory. Each gateway process needs a data
        // directory of its own: at start, every segment found there is taken to be left over and replayed.
        _currentPath = Path.Combine(_directory, $"{DateTime.UtcNow:yyyyMMddHHmmssfff}-{Environment.ProcessId}-{Interlocked.Increment(ref _segmentNumber):D6}.jsonl");
        return new FileStream(_currentPath, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public void Dispose()
    {
        lock (_lock) _current?.Dispose();
    }
}
