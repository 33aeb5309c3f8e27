namespace AgenticGateway.Cedar;

internal enum ScopeKind : byte { Any, Equal, In, InSet, Is, IsIn }

/// <summary>One of a policy's three scope constraints: <c>== E</c>, <c>in E</c>, <c>in [E, ...]</c> (action), <c>is T</c>, <c>is T in E</c>.</summary>
internal sealed class ScopeConstraint
{
    public static ScopeConstraint Any { get; } = new(ScopeKind.Any, default, [], null);

    public ScopeConstraint(ScopeKind kind, EntityUid target, EntityUid[] targets, string? type)
    {
        Kind = kind;
        Target = target;
        Targets = targets;
        Type = type;
    }

    public ScopeKind Kind { get; }
    public EntityUid Target { get; }
    /// <summary>The entities of <c>in [...]</c>.</summary>
    public EntityUid[] Targets { get; }
    /// <summary>The entity type of <c>is</c>.</summary>
    public string? Type { get; }

    public bool Matches(ICedarEntity entity, IEntityStore store) => Kind switch
    {
        ScopeKind.Any => true,
        ScopeKind.Equal => entity.Uid == Target,
        ScopeKind.In => Hierarchy.IsIn(entity, Target, store),
        ScopeKind.InSet => Hierarchy.IsInAny(entity, Targets, store),
        ScopeKind.Is => string.Equals(entity.Uid.Type, Type, StringComparison.Ordinal),
        ScopeKind.IsIn => string.Equals(entity.Uid.Type, Type, StringComparison.Ordinal) && Hierarchy.IsIn(entity, Target, store),
        _ => false,
    };

    /// <summary>Whether the constraint can hold for <paramref name="action"/> given some hierarchy (for PoliciesFor).</summary>
    public bool CanMatch(in EntityUid action) => Kind switch
    {
        ScopeKind.Equal => action == Target,
        // An `in` constraint on another entity may hold through the store's action hierarchy: kept, evaluated per request.
        _ => true,
    };
}
