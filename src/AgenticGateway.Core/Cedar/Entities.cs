using System.Collections.Frozen;
using System.Collections.Immutable;

namespace AgenticGateway.Cedar;

/// <summary>An entity's data. The routing layer implements it with live values (latency, error rate) read on access.</summary>
internal interface ICedarEntity
{
    EntityUid Uid { get; }
    bool TryGetAttribute(string name, out CedarValue value);
    /// <summary>Direct parents; ancestors are found through the entity store.</summary>
    ReadOnlySpan<EntityUid> Parents { get; }
}

/// <summary>An entity with fixed attributes and parents.</summary>
internal sealed class CedarEntity(EntityUid uid, CedarRecord attributes, ImmutableArray<EntityUid> parents) : ICedarEntity
{
    private readonly EntityUid[] _parents = parents.IsDefault ? [] : [.. parents];

    public EntityUid Uid => uid;
    public CedarRecord Attributes => attributes;
    public bool TryGetAttribute(string name, out CedarValue value) => attributes.TryGet(name, out value);
    public ReadOnlySpan<EntityUid> Parents => _parents;
}

/// <summary>Resolves entities for <c>in</c> (transitive ancestors) and for attribute access on entity values found in data.</summary>
internal interface IEntityStore
{
    ICedarEntity? Find(in EntityUid uid);
}

/// <summary>A fixed set of entities by uid (the last of duplicates wins).</summary>
internal sealed class EntityStore : IEntityStore
{
    private readonly FrozenDictionary<EntityUid, ICedarEntity> _entities;

    public EntityStore(IEnumerable<ICedarEntity> entities)
    {
        var map = new Dictionary<EntityUid, ICedarEntity>();
        foreach (var e in entities)
            map[e.Uid] = e;
        _entities = map.ToFrozenDictionary();
    }

    public static EntityStore Empty { get; } = new([]);

    public int Count => _entities.Count;

    public ICedarEntity? Find(in EntityUid uid) => _entities.GetValueOrDefault(uid);
}

/// <summary>Several stores asked in order (the request's own entities first, then the gateway's).</summary>
internal sealed class CompositeEntityStore(params IEntityStore[] stores) : IEntityStore
{
    public ICedarEntity? Find(in EntityUid uid)
    {
        foreach (var store in stores)
            if (store.Find(uid) is { } found)
                return found;
        return null;
    }
}
