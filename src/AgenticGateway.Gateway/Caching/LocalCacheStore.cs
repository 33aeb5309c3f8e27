namespace AgenticGateway.Caching;

/// <summary>
/// The cache in this process (<c>type: local</c>): least recently used entries go first once the entry count or the
/// byte total is over its bound; an expired entry is dropped when it is next read (and counts as a miss). One lock:
/// every operation is a few dictionary and list steps.
/// </summary>
internal sealed class LocalCacheStore(int maxEntries, long maxBytes, TimeProvider time) : ICacheStore
{
    private readonly Dictionary<string, LinkedListNode<CacheEntry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<CacheEntry> _lru = new();
    private readonly Lock _lock = new();
    private long _bytes;

    public int Count { get { lock (_lock) return _entries.Count; } }
    public long Bytes { get { lock (_lock) return _bytes; } }

    public ValueTask<CacheEntry?> GetAsync(string key, CancellationToken ct)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node)) return ValueTask.FromResult<CacheEntry?>(null);
            if (node.Value.ExpiresAt <= time.GetUtcNow())
            {
                Remove(node);
                return ValueTask.FromResult<CacheEntry?>(null);
            }
            _lru.Remove(node);
            _lru.AddFirst(node);
            return ValueTask.FromResult<CacheEntry?>(node.Value);
        }
    }

    public ValueTask SetAsync(CacheEntry entry, CancellationToken ct)
    {
        // One entry larger than the whole cache would evict everything and still not fit.
        if (SizeOf(entry) > maxBytes) return ValueTask.CompletedTask;
        lock (_lock)
        {
            if (_entries.TryGetValue(entry.Key, out var old)) Remove(old);
            var node = _lru.AddFirst(entry);
            _entries[entry.Key] = node;
            _bytes += SizeOf(entry);
            while (_entries.Count > maxEntries || _bytes > maxBytes) Remove(_lru.Last!);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> DeleteAsync(string key, CancellationToken ct)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node)) return ValueTask.FromResult(false);
            Remove(node);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<long> InvalidateModelAsync(string modelGroup, CancellationToken ct) => RemoveWhere(e => e.ModelGroup == modelGroup);

    public ValueTask<long> InvalidateUserAsync(string userId, CancellationToken ct) => RemoveWhere(e => e.UserId == userId);

    public ValueTask FlushAllAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            _entries.Clear();
            _lru.Clear();
            _bytes = 0;
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> PingAsync(CancellationToken ct) => ValueTask.FromResult(true);

    private ValueTask<long> RemoveWhere(Func<CacheEntry, bool> match)
    {
        long removed = 0;
        lock (_lock)
        {
            for (var node = _lru.First; node is not null;)
            {
                var next = node.Next;
                if (match(node.Value)) { Remove(node); removed++; }
                node = next;
            }
        }
        return ValueTask.FromResult(removed);
    }

    private void Remove(LinkedListNode<CacheEntry> node)
    {
        _lru.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= SizeOf(node.Value);
    }

    /// <summary>The body plus a fixed allowance for the rest of the entry.</summary>
    private static long SizeOf(CacheEntry e) => e.Body.Length + (e.PromptText?.Length ?? 0) * 2 + 512;
}
