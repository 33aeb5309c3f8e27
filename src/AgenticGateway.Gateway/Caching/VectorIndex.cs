using System.Numerics;
using System.Runtime.InteropServices;

namespace AgenticGateway.Caching;

/// <summary>One indexed prompt: the entry it leads to, its unit vector, its text (for the guard) and when it expires.</summary>
internal sealed record IndexedPrompt(string Partition, string ModelGroup, string Key, string PromptText, float[] Vector, DateTimeOffset ExpiresAt)
{
    /// <summary>The part of the prompt that must be identical for a match (see <see cref="SemanticText.Context"/>).</summary>
    public string Context { get; } = SemanticText.Split(PromptText).Context;
    public string Question { get; } = SemanticText.Split(PromptText).Question;
}

/// <summary>A candidate above the threshold, best first.</summary>
internal readonly record struct VectorHit(IndexedPrompt Prompt, double Similarity);

/// <summary>
/// The in-process vector index: brute-force cosine over unit vectors (a dot product, SIMD through
/// <see cref="Vector{T}"/>), one list per (partition, model group) so a search never even sees another tenant's prompts.
/// Bounded: past <see cref="Capacity"/> prompts the oldest go first. Brute force is exact and, at the sizes a cache
/// holds per partition and model (thousands), a few milliseconds at most: cheaper than the upstream call it saves.
/// </summary>
internal sealed class VectorIndex(int capacity = 100_000)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Partition, string Model), List<IndexedPrompt>> _lists = [];
    private readonly Dictionary<string, IndexedPrompt> _byKey = new(StringComparer.Ordinal);
    // Insertion order for eviction; stale nodes (replaced or removed prompts) are skipped when they come up.
    private readonly Queue<IndexedPrompt> _order = new();

    public int Capacity { get; } = capacity;

    public int Count
    {
        get { lock (_gate) return _byKey.Count; }
    }

    /// <summary>Adds or replaces the prompt of an entry key.</summary>
    public void Add(IndexedPrompt prompt)
    {
        lock (_gate)
        {
            RemoveLocked(prompt.Key);
            var slot = (prompt.Partition, prompt.ModelGroup);
            if (!_lists.TryGetValue(slot, out var list)) _lists[slot] = list = [];
            list.Add(prompt);
            _byKey[prompt.Key] = prompt;
            _order.Enqueue(prompt);
            while (_byKey.Count > Capacity && _order.TryDequeue(out var oldest))
                if (_byKey.TryGetValue(oldest.Key, out var current) && ReferenceEquals(current, oldest)) RemoveLocked(oldest.Key);
            // The queue also holds replaced prompts; compact it when they outnumber the live ones.
            if (_order.Count > 2 * Math.Max(_byKey.Count, 1024))
            {
                var live = _order.Where(p => _byKey.TryGetValue(p.Key, out var c) && ReferenceEquals(c, p)).ToList();
                _order.Clear();
                foreach (var p in live) _order.Enqueue(p);
            }
        }
    }

    public bool Remove(string key)
    {
        lock (_gate) return RemoveLocked(key);
    }

    /// <summary>Removes every prompt of a model group (any partition); returns the keys removed.</summary>
    public List<string> RemoveModel(string modelGroup)
    {
        lock (_gate)
        {
            var keys = _byKey.Values.Where(p => p.ModelGroup == modelGroup).Select(p => p.Key).ToList();
            foreach (var k in keys) RemoveLocked(k);
            return keys;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _lists.Clear();
            _byKey.Clear();
            _order.Clear();
        }
    }

    /// <summary>
    /// The prompts of this partition and model group whose similarity is at least <paramref name="threshold"/> and
    /// whose context is <paramref name="context"/>, best first, at most <paramref name="max"/>. Expired ones are dropped on the way.
    /// </summary>
    public List<VectorHit> Search(string partition, string modelGroup, string context, ReadOnlySpan<float> query, double threshold, int max, DateTimeOffset now)
    {
        var hits = new List<VectorHit>();
        lock (_gate)
        {
            if (!_lists.TryGetValue((partition, modelGroup), out var list)) return hits;
            List<string>? expired = null;
            foreach (var p in list)
            {
                if (p.ExpiresAt <= now)
                {
                    (expired ??= []).Add(p.Key);
                    continue;
                }
                if (p.Vector.Length != query.Length || !string.Equals(p.Context, context, StringComparison.Ordinal)) continue;
                var similarity = Dot(p.Vector, query);
                if (similarity >= threshold) hits.Add(new VectorHit(p, similarity));
            }
            if (expired is not null) foreach (var k in expired) RemoveLocked(k);
        }
        hits.Sort((a, b) => b.Similarity.CompareTo(a.Similarity));
        if (hits.Count > max) hits.RemoveRange(max, hits.Count - max);
        return hits;
    }

    private bool RemoveLocked(string key)
    {
        if (!_byKey.Remove(key, out var old)) return false;
        var slot = (old.Partition, old.ModelGroup);
        if (_lists.TryGetValue(slot, out var list))
        {
            list.Remove(old);
            if (list.Count == 0) _lists.Remove(slot);
        }
        return true;
    }

    /// <summary>The dot product (cosine, for unit vectors), a SIMD register at a time.</summary>
    internal static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            for (var k = 0; k < va.Length; k++) sum += va[k] * vb[k];
            i = va.Length * Vector<float>.Count;
        }
        double total = Vector.Sum(sum);
        for (; i < a.Length; i++) total += a[i] * b[i];
        return total;
    }

    /// <summary>Scales a vector to unit length in place (a zero vector stays zero and matches nothing).</summary>
    internal static void Normalize(Span<float> v)
    {
        double norm = Dot(v, v);
        if (norm <= 0) return;
        var scale = (float)(1 / Math.Sqrt(norm));
        for (var i = 0; i < v.Length; i++) v[i] *= scale;
    }
}
