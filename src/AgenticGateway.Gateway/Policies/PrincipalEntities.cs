using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Cedar;

namespace AgenticGateway.Policies;

/// <summary>
/// The caller as a routing policy's principal: <c>Key::"alias"</c> in its <c>User</c>, <c>Team</c> and
/// <c>Organization</c>, with the key's attributes (docs/policies.md). Made once per identity (identities are immutable
/// records; a changed one is a new object), so a request allocates nothing for it.
/// </summary>
internal sealed class PrincipalEntity : ICedarEntity
{
    private const int MaxMetadataDepth = 8;
    private readonly EntityUid[] _parents;
    private readonly CedarRecord _attributes;

    public PrincipalEntity(EntityUid uid, ImmutableArray<EntityUid> parents, CedarRecord attributes, long? latencySlaMs, string? keyAlias, string? userId, string? teamId)
    {
        Uid = uid;
        _parents = [.. parents];
        _attributes = attributes;
        LatencySlaMs = latencySlaMs;
        KeyAlias = keyAlias;
        UserId = userId;
        TeamId = teamId;
    }

    public EntityUid Uid { get; }
    public ReadOnlySpan<EntityUid> Parents => _parents;
    public bool TryGetAttribute(string name, out CedarValue value) => _attributes.TryGet(name, out value);
    public CedarRecord Attributes => _attributes;

    /// <summary>The key's metadata latency_sla_ms, else its team's: the SLA when the request names none.</summary>
    public long? LatencySlaMs { get; }
    public string? KeyAlias { get; }
    public string? UserId { get; }
    public string? TeamId { get; }

    public static readonly PrincipalEntity Master = Fixed("master_key", isAdmin: true);
    public static readonly PrincipalEntity Anonymous = Fixed("anonymous", isAdmin: false);

    private static readonly ConditionalWeakTable<KeyIdentity, PrincipalEntity> ByIdentity = new();

    public static PrincipalEntity For(Caller caller)
    {
        if (caller.Identity is not { } id) return caller.IsAdmin ? Master : Anonymous;
        if (ByIdentity.TryGetValue(id, out var known)) return known;
        return ByIdentity.GetValue(id, i => Build(i, caller.IsAdmin));
    }

    /// <summary>For POST /route: <c>User::"u"</c> in <c>Team::"t"</c>, with attributes user_id and team_id.</summary>
    public static PrincipalEntity ForUser(string? userId, string? teamId)
    {
        var attributes = new List<KeyValuePair<string, CedarValue>>();
        var parents = ImmutableArray.CreateBuilder<EntityUid>();
        if (userId is not null) attributes.Add(new("user_id", CedarValue.String(userId)));
        if (teamId is not null)
        {
            attributes.Add(new("team_id", CedarValue.String(teamId)));
            parents.Add(new EntityUid(RoutingEntities.TeamType, teamId));
        }
        var uid = userId is not null ? new EntityUid(RoutingEntities.UserType, userId) : new EntityUid(RoutingEntities.KeyType, "anonymous");
        return new PrincipalEntity(uid, parents.ToImmutable(), new CedarRecord(attributes), null, null, userId, teamId);
    }

    private static PrincipalEntity Fixed(string id, bool isAdmin) =>
        new(new EntityUid(RoutingEntities.KeyType, id), [], new CedarRecord([new("is_admin", CedarValue.Bool(isAdmin)), new("tags", CedarValue.Set([])),
            new("metadata", CedarValue.Record(CedarRecord.Empty)), new("models", CedarValue.Set([]))]), null, null, null, null);

    private static PrincipalEntity Build(KeyIdentity id, bool isAdmin)
    {
        var key = id.Key;
        var alias = key.KeyAlias ?? (key.KeyName.Length > 0 ? key.KeyName : key.Token);
        var userId = id.User?.UserId ?? key.UserId;
        var teamId = id.Team?.TeamId ?? key.TeamId;
        var orgId = id.Organization?.OrganizationId ?? id.Team?.OrganizationId;
        var parents = ImmutableArray.CreateBuilder<EntityUid>();
        var attributes = new List<KeyValuePair<string, CedarValue>>
        {
            new("is_admin", CedarValue.Bool(isAdmin)),
            new("tags", RoutingEntities.StringSet(key.Tags)),
            new("models", RoutingEntities.StringSet(key.Models)),
        };
        if (key.KeyAlias is not null) attributes.Add(new("key_alias", CedarValue.String(key.KeyAlias)));
        if (userId is not null)
        {
            attributes.Add(new("user_id", CedarValue.String(userId)));
            parents.Add(new EntityUid(RoutingEntities.UserType, userId));
        }
        if (teamId is not null)
        {
            attributes.Add(new("team_id", CedarValue.String(teamId)));
            parents.Add(new EntityUid(RoutingEntities.TeamType, teamId));
        }
        if (orgId is not null)
        {
            attributes.Add(new("organization_id", CedarValue.String(orgId)));
            parents.Add(new EntityUid(RoutingEntities.OrganizationType, orgId));
        }
        var metadata = FromJson(key.Metadata);
        attributes.Add(new("metadata", CedarValue.Record(metadata)));
        var sla = Sla(metadata) ?? (id.Team is { } team ? Sla(FromJson(team.Metadata)) : null);
        return new PrincipalEntity(new EntityUid(RoutingEntities.KeyType, alias), parents.ToImmutable(), new CedarRecord(attributes), sla, key.KeyAlias, userId, teamId);
    }

    private static long? Sla(CedarRecord metadata) =>
        metadata.TryGet("latency_sla_ms", out var v) ? v.Kind switch
        {
            CedarKind.Long when v.AsLong > 0 => v.AsLong,
            CedarKind.Decimal when v.AsDecimal > 0 => (long)Math.Ceiling(v.AsDecimal),
            _ => null,
        } : null;

    /// <summary>Stored metadata (a JSON object) as a Cedar record; what Cedar cannot hold (null) is left out.</summary>
    public static CedarRecord FromJson(string json)
    {
        if (string.IsNullOrWhiteSpace(json) || json == "{}") return CedarRecord.Empty;
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object && ToValue(doc.RootElement, 0) is { Kind: CedarKind.Record } v ? v.AsRecord : CedarRecord.Empty;
        }
        catch (JsonException)
        {
            return CedarRecord.Empty;
        }
    }

    /// <summary>A JSON value as Cedar's: integers are Long, other numbers decimal, arrays sets, objects records. Null: nothing.</summary>
    public static CedarValue? ToValue(JsonElement e, int depth)
    {
        if (depth > MaxMetadataDepth) return null;
        switch (e.ValueKind)
        {
            case JsonValueKind.String: return CedarValue.String(e.GetString()!);
            case JsonValueKind.True: return CedarValue.True;
            case JsonValueKind.False: return CedarValue.False;
            case JsonValueKind.Number:
                if (e.TryGetInt64(out var l)) return CedarValue.Long(l);
                if (e.TryGetDecimal(out var d)) return CedarValue.Decimal(d);
                return null;
            case JsonValueKind.Array:
                var items = ImmutableArray.CreateBuilder<CedarValue>();
                foreach (var item in e.EnumerateArray())
                {
                    if (ToValue(item, depth + 1) is { } v) items.Add(v);
                }
                return CedarValue.Set(items.ToImmutable());
            case JsonValueKind.Object:
                var attributes = new List<KeyValuePair<string, CedarValue>>();
                foreach (var p in e.EnumerateObject())
                {
                    if (ToValue(p.Value, depth + 1) is { } v) attributes.Add(new(p.Name, v));
                }
                return CedarValue.Record(new CedarRecord(attributes));
            default:
                return null;
        }
    }
}
