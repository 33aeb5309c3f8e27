using System.Globalization;
using System.Text.Json;
using AgenticGateway.Spend;
using AgenticGateway.Pricing;

namespace AgenticGateway.Keys;

/// <summary>How identity fields are stored: lists as JSON text, times as ISO-8601 text, money as nano-dollars.</summary>
internal static class Columns
{
    public static string Json(IReadOnlyList<string> list) => JsonSerializer.Serialize(list, KeyJsonContext.Default.IReadOnlyListString);
    public static IReadOnlyList<string> List(string json) => JsonSerializer.Deserialize(json, KeyJsonContext.Default.IReadOnlyListString) ?? [];
    public static string Map(IReadOnlyDictionary<string, string> map) =>
        map.Count == 0 ? "{}" : JsonSerializer.Serialize(new Dictionary<string, string>(map, StringComparer.Ordinal), KeyJsonContext.Default.DictionaryStringString);
    public static IReadOnlyDictionary<string, string> Map(string json) =>
        json is "{}" or "" ? EmptyAliases.Instance : (IReadOnlyDictionary<string, string>?)JsonSerializer.Deserialize(json, KeyJsonContext.Default.DictionaryStringString) ?? EmptyAliases.Instance;
    public static string Time(DateTimeOffset t) => t.ToString("O");
    public static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);
}

/// <summary>The budget and limit columns the keys, users and teams tables share; their row classes derive from it.</summary>
#pragma warning disable IDE1006 // names match the columns
internal abstract class LimitColumns
{
    public string? max_budget { get; set; }
    public string? budget_duration { get; set; }
    public long spend_nanos { get; set; }
    public long? rpm_limit { get; set; }
    public long? tpm_limit { get; set; }
    public long? tpd_limit { get; set; }
    public long? max_parallel_requests { get; set; }

    protected void SetLimits(LimitSettings l, decimal spend)
    {
        max_budget = l.MaxBudget?.ToString(CultureInfo.InvariantCulture);
        budget_duration = l.BudgetDuration;
        spend_nanos = Money.ToNanos(spend);
        rpm_limit = l.RpmLimit;
        tpm_limit = l.TpmLimit;
        tpd_limit = l.TpdLimit;
        max_parallel_requests = l.MaxParallelRequests;
    }

    protected LimitSettings ToLimits() => new()
    {
        MaxBudget = max_budget is null ? null : decimal.Parse(max_budget, CultureInfo.InvariantCulture),
        BudgetDuration = budget_duration,
        RpmLimit = rpm_limit,
        TpmLimit = tpm_limit,
        TpdLimit = tpd_limit,
        MaxParallelRequests = (int?)max_parallel_requests,
    };

    protected decimal Spend => Money.FromNanos(spend_nanos);
}
#pragma warning restore IDE1006
