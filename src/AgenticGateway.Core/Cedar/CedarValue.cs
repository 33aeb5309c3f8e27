using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;

namespace AgenticGateway.Cedar;

/// <summary>Cedar's value types (decimal and ip are its extension types).</summary>
internal enum CedarKind : byte { Bool, Long, String, Decimal, Ip, Entity, Set, Record }

/// <summary>
/// A Cedar value. A struct so that bools, longs and decimals cost no allocation; strings, sets, records, ip values and
/// entities hold a reference. An entity is held either as the request's <see cref="ICedarEntity"/> (so attribute access
/// on <c>principal</c>, <c>resource</c>... needs no store lookup and no allocation) or as a boxed <see cref="EntityUid"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal readonly struct CedarValue : IEquatable<CedarValue>
{
    [FieldOffset(0)] private readonly object? _ref;
    [FieldOffset(8)] private readonly decimal _decimal;
    [FieldOffset(8)] private readonly long _long;
    [FieldOffset(24)] private readonly CedarKind _kind;

    private CedarValue(CedarKind kind, object? reference, long number)
    {
        _kind = kind;
        _ref = reference;
        _long = number;
    }

    private CedarValue(decimal value)
    {
        _kind = CedarKind.Decimal;
        _decimal = value;
    }

    public CedarKind Kind => _kind;

    public static CedarValue True { get; } = new(CedarKind.Bool, null, 1);
    public static CedarValue False { get; } = new(CedarKind.Bool, null, 0);

    public static CedarValue Bool(bool value) => value ? True : False;
    public static CedarValue Long(long value) => new(CedarKind.Long, null, value);
    public static CedarValue String(string value) => new(CedarKind.String, value ?? throw new ArgumentNullException(nameof(value)), 0);
    public static CedarValue Decimal(decimal value) => new(value);
    public static CedarValue Entity(EntityUid uid) => new(CedarKind.Entity, uid, 0);
    /// <summary>An entity value that is the request's own entity: attribute access reads it directly.</summary>
    public static CedarValue Entity(ICedarEntity entity) => new(CedarKind.Entity, entity ?? throw new ArgumentNullException(nameof(entity)), 0);
    public static CedarValue Set(ImmutableArray<CedarValue> values) => new(CedarKind.Set, ImmutableCollectionsMarshal.AsArray(values.IsDefault ? [] : values), 0);
    public static CedarValue Record(CedarRecord record) => new(CedarKind.Record, record ?? throw new ArgumentNullException(nameof(record)), 0);
    public static CedarValue Ip(IpValue ip) => new(CedarKind.Ip, ip ?? throw new ArgumentNullException(nameof(ip)), 0);

    public bool AsBool => _kind == CedarKind.Bool ? _long != 0 : throw WrongKind(CedarKind.Bool);
    public long AsLong => _kind == CedarKind.Long ? _long : throw WrongKind(CedarKind.Long);
    public string AsString => _kind == CedarKind.String ? (string)_ref! : throw WrongKind(CedarKind.String);
    public decimal AsDecimal => _kind == CedarKind.Decimal ? _decimal : throw WrongKind(CedarKind.Decimal);
    public EntityUid AsEntity => _kind == CedarKind.Entity ? (_ref is ICedarEntity e ? e.Uid : (EntityUid)_ref!) : throw WrongKind(CedarKind.Entity);
    public ImmutableArray<CedarValue> AsSet => _kind == CedarKind.Set ? ImmutableCollectionsMarshal.AsImmutableArray((CedarValue[])_ref!) : throw WrongKind(CedarKind.Set);
    public CedarRecord AsRecord => _kind == CedarKind.Record ? (CedarRecord)_ref! : throw WrongKind(CedarKind.Record);
    public IpValue AsIp => _kind == CedarKind.Ip ? (IpValue)_ref! : throw WrongKind(CedarKind.Ip);

    // Unchecked accessors for the evaluator, which has checked Kind already.
    internal long RawLong => _long;
    internal decimal RawDecimal => _decimal;
    internal string RawString => (string)_ref!;
    internal CedarValue[] RawSet => (CedarValue[])_ref!;
    /// <summary>The request's entity behind an entity value, when it is one (no store lookup needed).</summary>
    internal ICedarEntity? RequestEntity => _ref as ICedarEntity;

    /// <summary>Whether this is a number (Long or, in our dialect, decimal), and its value as a decimal.</summary>
    internal bool TryNumber(out decimal value)
    {
        value = _kind == CedarKind.Long ? _long : _decimal;
        return _kind is CedarKind.Long or CedarKind.Decimal;
    }

    private InvalidOperationException WrongKind(CedarKind wanted) => new($"a Cedar {_kind} value is not a {wanted}");

    /// <summary>
    /// Cedar's equality: values of different types are unequal (no error); sets are equal when each holds every element
    /// of the other (order and duplicates do not matter); records by their attributes. Dialect: a Long and a decimal
    /// compare numerically.
    /// </summary>
    public bool Equals(CedarValue other)
    {
        if (_kind != other._kind)
        {
            return (_kind, other._kind) switch
            {
                (CedarKind.Long, CedarKind.Decimal) => _long == other._decimal,
                (CedarKind.Decimal, CedarKind.Long) => _decimal == other._long,
                _ => false,
            };
        }
        switch (_kind)
        {
            case CedarKind.Bool:
            case CedarKind.Long:
                return _long == other._long;
            case CedarKind.Decimal:
                return _decimal == other._decimal;
            case CedarKind.String:
                return string.Equals((string)_ref!, (string)other._ref!, StringComparison.Ordinal);
            case CedarKind.Entity:
                return ReferenceEquals(_ref, other._ref) || AsEntity == other.AsEntity;
            case CedarKind.Ip:
                return ((IpValue)_ref!).Equals((IpValue)other._ref!);
            case CedarKind.Record:
                return ((CedarRecord)_ref!).Equals((CedarRecord)other._ref!);
            case CedarKind.Set:
                var a = (CedarValue[])_ref!;
                var b = (CedarValue[])other._ref!;
                return ReferenceEquals(a, b) || (ContainsAll(a, b) && ContainsAll(b, a));
            default:
                return false;
        }
    }

    /// <summary>Whether <paramref name="set"/> holds every element of <paramref name="items"/>.</summary>
    internal static bool ContainsAll(CedarValue[] set, CedarValue[] items)
    {
        foreach (var item in items)
            if (!Contains(set, item))
                return false;
        return true;
    }

    internal static bool Contains(CedarValue[] set, in CedarValue item)
    {
        foreach (var element in set)
            if (element.Equals(item))
                return true;
        return false;
    }

    public override bool Equals(object? obj) => obj is CedarValue other && Equals(other);

    public override int GetHashCode()
    {
        switch (_kind)
        {
            case CedarKind.Long: return ((decimal)_long).GetHashCode();
            case CedarKind.Decimal: return _decimal.GetHashCode();
            case CedarKind.Bool: return _long.GetHashCode();
            case CedarKind.String: return StringComparer.Ordinal.GetHashCode((string)_ref!);
            case CedarKind.Entity: return AsEntity.GetHashCode();
            case CedarKind.Set:
                // Order-independent, as set equality is.
                var hash = 0;
                foreach (var v in (CedarValue[])_ref!)
                    hash ^= v.GetHashCode();
                return hash;
            default: return _ref!.GetHashCode();
        }
    }

    public static bool operator ==(CedarValue left, CedarValue right) => left.Equals(right);
    public static bool operator !=(CedarValue left, CedarValue right) => !left.Equals(right);

    /// <summary>Cedar's spelling of the value (for messages and the explain view).</summary>
    public override string ToString() => _kind switch
    {
        CedarKind.Bool => _long != 0 ? "true" : "false",
        CedarKind.Long => _long.ToString(CultureInfo.InvariantCulture),
        CedarKind.Decimal => $"decimal(\"{FormatDecimal(_decimal)}\")",
        CedarKind.String => CedarText.Quote((string)_ref!),
        CedarKind.Entity => AsEntity.ToString(),
        CedarKind.Ip => $"ip(\"{_ref}\")",
        CedarKind.Set => "[" + string.Join(", ", ((CedarValue[])_ref!).Select(v => v.ToString())) + "]",
        CedarKind.Record => _ref!.ToString()!,
        _ => "?",
    };

    /// <summary>A decimal in Cedar's literal form: always with a fractional part.</summary>
    internal static string FormatDecimal(decimal d)
    {
        var s = d.ToString(CultureInfo.InvariantCulture);
        return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
    }
}
