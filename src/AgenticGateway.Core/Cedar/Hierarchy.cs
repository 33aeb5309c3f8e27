namespace AgenticGateway.Cedar;

/// <summary>
/// Cedar's <c>in</c> on entities: an entity is in itself and in each of its ancestors (parents, their parents, ...).
/// Direct parents are checked without allocating; deeper searches reuse per-thread buffers, and a visited set keeps a
/// cyclic hierarchy from looping.
/// </summary>
internal static class Hierarchy
{
    [ThreadStatic] private static HashSet<EntityUid>? t_visited;
    [ThreadStatic] private static Queue<EntityUid>? t_queue;

    public static bool IsIn(ICedarEntity entity, in EntityUid ancestor, IEntityStore store)
    {
        if (entity.Uid == ancestor)
            return true;
        var parents = entity.Parents;
        if (parents.IsEmpty)
            return false;
        foreach (var p in parents)
            if (p == ancestor)
                return true;
        return Search(entity.Uid, parents, store, ancestor, null);
    }

    public static bool IsInAny(ICedarEntity entity, EntityUid[] ancestors, IEntityStore store)
    {
        if (Array.IndexOf(ancestors, entity.Uid) >= 0)
            return true;
        var parents = entity.Parents;
        if (parents.IsEmpty)
            return false;
        foreach (var p in parents)
            if (Array.IndexOf(ancestors, p) >= 0)
                return true;
        return Search(entity.Uid, parents, store, default, ancestors);
    }

    /// <summary><c>uid in ancestor</c> for an entity value: the request's entity when it is one, else the store's.</summary>
    public static bool IsIn(in CedarValue entity, in EntityUid ancestor, IEntityStore store)
    {
        if (entity.RequestEntity is { } e)
            return IsIn(e, ancestor, store);
        var uid = entity.AsEntity;
        if (uid == ancestor)
            return true;
        return store.Find(uid) is { } found && IsIn(found, ancestor, store);
    }

    // Breadth first from the direct parents (already checked) through the store.
    private static bool Search(EntityUid start, ReadOnlySpan<EntityUid> parents, IEntityStore store, EntityUid ancestor, EntityUid[]? ancestors)
    {
        var visited = t_visited ??= [];
        var queue = t_queue ??= new Queue<EntityUid>();
        visited.Clear();
        queue.Clear();
        try
        {
            visited.Add(start);
            foreach (var p in parents)
                if (visited.Add(p))
                    queue.Enqueue(p);
            while (queue.TryDequeue(out var next))
            {
                if (store.Find(next) is not { } e)
                    continue;
                foreach (var p in e.Parents)
                {
                    if (ancestors is null ? p == ancestor : Array.IndexOf(ancestors, p) >= 0)
                        return true;
                    if (visited.Add(p))
                        queue.Enqueue(p);
                }
            }
            return false;
        }
        finally
        {
            visited.Clear();
            queue.Clear();
        }
    }
}
