namespace AgenticGateway.Observability;

/// <summary>
/// The last <see cref="Capacity"/> requests, in memory, for the live log and the overview charts. Recording claims a
/// slot with one interlocked increment and stores the record: no lock, nothing allocated beyond the record itself.
/// A reader copies the slots and orders them by sequence; a slot overwritten while it reads is simply the newer record.
/// </summary>
internal sealed class RecentRequests
{
    public const int DefaultCapacity = 2000;
    private readonly RequestRecord?[] _slots;
    private long _next;

    public RecentRequests(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new RequestRecord?[capacity];
    }

    public int Capacity => _slots.Length;

    /// <summary>How many requests were ever recorded (the newest record's sequence number).</summary>
    public long Total => Interlocked.Read(ref _next);

    public void Add(RequestRecord record)
    {
        var seq = Interlocked.Increment(ref _next);
        record.Seq = seq;
        Volatile.Write(ref _slots[(int)((seq - 1) % _slots.Length)], record);
    }

    /// <summary>The records newer than <paramref name="afterSeq"/> and <paramref name="since"/>, oldest first, at most <paramref name="limit"/> (the newest kept).</summary>
    public List<RequestRecord> Snapshot(long afterSeq = 0, DateTimeOffset? since = null, int limit = int.MaxValue)
    {
        var list = new List<RequestRecord>(Math.Min(_slots.Length, 256));
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } r && r.Seq > afterSeq && (since is null || r.Time >= since)) list.Add(r);
        }
        list.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        if (list.Count > limit) list.RemoveRange(0, list.Count - limit);
        return list;
    }
}
