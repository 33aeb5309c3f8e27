using System.Collections.Immutable;
using AgenticGateway.Configuration;
using AgenticGateway.Cedar;

namespace AgenticGateway.Policies;

/// <summary>
/// The Cedar entities routing policies see (docs/policies.md): the action <c>Action::"routing:select_model"</c>, a
/// <c>Deployment::"id"</c> resource per candidate (in <c>ModelGroup::"name"</c>) and the caller as principal.
/// </summary>
internal static class RoutingEntities
{
    public const string ActionType = "Action";
    public const string SelectModelId = "routing:select_model";
    public const string DeploymentType = "Deployment";
    public const string ModelGroupType = "ModelGroup";
    public const string KeyType = "Key";
    public const string UserType = "User";
    public const string TeamType = "Team";
    public const string OrganizationType = "Organization";

    public static readonly EntityUid SelectModelUid = new(ActionType, SelectModelId);

    /// <summary>The one action routing asks about.</summary>
    public static readonly ICedarEntity SelectModel = new CedarEntity(SelectModelUid, CedarRecord.Empty, []);

    public static CedarValue StringSet(IEnumerable<string> values) =>
        CedarValue.Set([.. values.Distinct(StringComparer.Ordinal).Select(CedarValue.String)]);

    /// <summary>A decimal from a measurement: three fractional digits are plenty for milliseconds and error rates.</summary>
    public static decimal ToDecimal(double value) =>
        double.IsFinite(value) ? (decimal)Math.Round(Math.Clamp(value, -1e15, 1e15), 3) : 0m;

    /// <summary>
    /// An error rate as policies see it: six fractional digits, so a threshold such as <c>decimal("0.05")</c> fires on
    /// 0.0504 (three digits would round it down to 0.05). Display may keep <see cref="ToDecimal"/>.
    /// </summary>
    public static decimal ToRate(double value) =>
        double.IsFinite(value) ? (decimal)Math.Round(Math.Clamp(value, 0, 1), 6) : 0m;
}

/// <summary>A deployment's run-time measurements, read when a policy reads the attribute (never copied per request).</summary>
internal interface ILiveDeploymentMetrics
{
    /// <summary>Smoothed full-response latency in milliseconds; NaN until measured.</summary>
    double AverageLatencyMs { get; }
    /// <summary>Smoothed time to first token of streams in milliseconds; NaN until measured.</summary>
    double TimeToFirstTokenMs { get; }
    /// <summary>Failed share of the requests in the sliding window (0 with no traffic).</summary>
    double ErrorRate(long nowTicks);
    int InFlight { get; }
    bool IsCoolingDown(long nowTicks);
}

/// <summary>
/// <c>Deployment::"id"</c>, child of <c>ModelGroup::"group"</c>: configured attributes computed once, live ones read
/// from <see cref="ILiveDeploymentMetrics"/> on access. <paramref name="overrides"/> win over both (fixed values for
/// <c>agw policies test</c> and <c>/evaluate</c>).
/// </summary>
internal sealed class DeploymentEntity : ICedarEntity
{
    private readonly EntityUid[] _parents;
    private readonly CedarRecord _fixed;
    private readonly ILiveDeploymentMetrics? _live;
    private readonly CedarRecord? _overrides;
    private readonly TimeProvider _time;

    public DeploymentEntity(DeploymentOptions options, ILiveDeploymentMetrics? live, TimeProvider? time = null, CedarRecord? overrides = null)
    {
        Id = options.Id;
        ModelGroup = options.ModelName;
        Provider = options.Provider;
        Uid = new EntityUid(RoutingEntities.DeploymentType, options.Id);
        _parents = [new EntityUid(RoutingEntities.ModelGroupType, options.ModelName)];
        _live = live;
        _overrides = overrides;
        _time = time ?? TimeProvider.System;
        var attributes = new List<KeyValuePair<string, CedarValue>>
        {
            new("deployment", CedarValue.String(options.Id)),
            new("model_group", CedarValue.String(options.ModelName)),
            new("provider", CedarValue.String(options.Provider)),
            new("model", CedarValue.String(options.Model)),
            new("tags", RoutingEntities.StringSet(options.Tags)),
        };
        if ((options.Cloud.AwsRegion ?? options.Cloud.VertexLocation) is { } region) attributes.Add(new("region", CedarValue.String(region)));
        if ((options.IsWildcard ? options.Price : options.ResolvedPrice) is { } price)
        {
            attributes.Add(new("input_cost_per_token", CedarValue.Decimal(price.InputPerToken)));
            attributes.Add(new("output_cost_per_token", CedarValue.Decimal(price.OutputPerToken)));
        }
        if (options.MaxInputTokens is { } maxIn) attributes.Add(new("max_input_tokens", CedarValue.Long(maxIn)));
        if ((options.IsWildcard ? options.MaxOutputTokens : options.ResolvedMaxOutputTokens) is { } maxOut) attributes.Add(new("max_output_tokens", CedarValue.Long(maxOut)));
        if (options.Rpm is { } rpm) attributes.Add(new("rpm", CedarValue.Long(rpm)));
        if (options.Tpm is { } tpm) attributes.Add(new("tpm", CedarValue.Long(tpm)));
        _fixed = new CedarRecord(attributes);
    }

    public string Id { get; }
    public string ModelGroup { get; }
    public string Provider { get; }
    public EntityUid Uid { get; }
    public ReadOnlySpan<EntityUid> Parents => _parents;

    public bool TryGetAttribute(string name, out CedarValue value)
    {
        if (_overrides is not null && _overrides.TryGet(name, out value)) return true;
        if (_fixed.TryGet(name, out value)) return true;
        if (_live is null)
        {
            value = default;
            return false;
        }
        switch (name)
        {
            case "average_latency_ms":
                return Measured(_live.AverageLatencyMs, out value);
            case "time_to_first_token_ms":
                return Measured(_live.TimeToFirstTokenMs, out value);
            case "current_error_rate":
                value = CedarValue.Decimal(RoutingEntities.ToRate(_live.ErrorRate(_time.GetUtcNow().UtcTicks)));
                return true;
            case "in_flight":
                value = CedarValue.Long(_live.InFlight);
                return true;
            case "cooling_down":
                value = CedarValue.Bool(_live.IsCoolingDown(_time.GetUtcNow().UtcTicks));
                return true;
            default:
                value = default;
                return false;
        }
    }

    /// <summary>The configured attributes and the live ones as they are now (for /evaluate's and the explain view's output).</summary>
    public IEnumerable<KeyValuePair<string, CedarValue>> Snapshot()
    {
        foreach (var a in _overrides?.Attributes ?? []) yield return a;
        foreach (var a in _fixed.Attributes)
        {
            if (_overrides is null || !_overrides.TryGet(a.Key, out _)) yield return a;
        }
        foreach (var name in LiveNames)
        {
            if ((_overrides is null || !_overrides.TryGet(name, out _)) && TryGetAttribute(name, out var v)) yield return new(name, v);
        }
    }

    public static readonly string[] LiveNames = ["average_latency_ms", "time_to_first_token_ms", "current_error_rate", "in_flight", "cooling_down"];

    // Absent until measured: a policy comparing it must ask `has` first, or it errors and is skipped (Cedar's rule).
    private static bool Measured(double ms, out CedarValue value)
    {
        if (double.IsNaN(ms))
        {
            value = default;
            return false;
        }
        value = CedarValue.Decimal(RoutingEntities.ToDecimal(ms));
        return true;
    }
}
