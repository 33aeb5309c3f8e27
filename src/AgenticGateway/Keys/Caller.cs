namespace AgenticGateway.Keys;

/// <summary>Who is calling: the admin (master key, or anyone when auth is off) or the holder of a virtual key.</summary>
internal sealed record Caller(bool IsAdmin, VirtualKey? Key)
{
    public static readonly Caller Admin = new(true, null);
    public static readonly Caller Anonymous = new(false, null);

    public bool MayUse(string requested, string group) => Key?.Allows(requested, group) ?? true;
}
