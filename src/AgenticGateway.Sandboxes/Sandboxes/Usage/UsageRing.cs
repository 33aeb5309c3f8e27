namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// The last <see cref="Capacity"/> samples of one sandbox, oldest overwritten first. One writer (the sampler's thread)
/// and any number of readers (request threads) without a lock: the writer fills a slot and only then publishes the new
/// count; a reader copies, then reads the count again and drops whatever the writer may have overwritten meanwhile.
/// One slot more than the capacity is the one the writer fills while readers copy the others.
/// </summary>
internal sealed class UsageRing
{
    private readonly UsageSample[] _slots;
    private long _count;

    public UsageRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new UsageSample[capacity + 1];
    }

    public int Capacity => _slots.Length - 1;

    /// <summary>Samples ever added (the ring answers the last <see cref="Capacity"/> of them).</summary>
    public long Added => Volatile.Read(ref _count);

    /// <summary>Adds a sample; one thread at a time.</summary>
    public void Add(in UsageSample sample)
    {
        var count = _count;
        _slots[count % _slots.Length] = sample;
        Volatile.Write(ref _count, count + 1);
    }

    /// <summary>The newest sample, if there is one.</summary>
    public bool TryLatest(out UsageSample sample)
    {
        var count = Volatile.Read(ref _count);
        if (count == 0) { sample = default; return false; }
        sample = _slots[(count - 1) % _slots.Length];
        Interlocked.MemoryBarrier();
        // Overwritten while read only if the writer went round the whole ring meanwhile.
        return Volatile.Read(ref _count) - count < Capacity || TryLatest(out sample);
    }

    /// <summary>
    /// Copies the samples taken from <paramref name="fromMs"/> to <paramref name="toMs"/> (Unix milliseconds, both
    /// included), oldest first, into <paramref name="destination"/> (at least <see cref="Capacity"/> long); returns
    /// how many.
    /// </summary>
    public int CopyTo(Span<UsageSample> destination, long fromMs = long.MinValue, long toMs = long.MaxValue)
    {
        if (destination.Length < Capacity) throw new ArgumentException($"The destination must hold {Capacity} samples.", nameof(destination));
        var count = Volatile.Read(ref _count);
        var first = Math.Max(0, count - Capacity);
        var copied = 0;
        for (var i = first; i < count; i++) destination[copied++] = _slots[i % _slots.Length];
        Interlocked.MemoryBarrier();
        // The writer may have started on sample n while the count still read n: that overwrote sample n - slots.
        var valid = Volatile.Read(ref _count) - _slots.Length + 1;
        var skip = (int)Math.Clamp(valid - first, 0, copied);
        var kept = 0;
        for (var i = skip; i < copied; i++)
        {
            var s = destination[i];
            if (s.UnixMs >= fromMs && s.UnixMs <= toMs) destination[kept++] = s;
        }
        return kept;
    }
}
