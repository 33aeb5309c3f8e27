using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

namespace AgenticGateway.Keys;

/// <summary>
/// Budget reset periods (LiteLLM's budget_duration: "30s", "30m", "24h", "30d", "1mo"). Periods are anchored at the
/// holder's creation time, so "30d" resets every 30 days after the key was made. Without a duration there is one
/// period: all time.
/// </summary>
internal static class BudgetPeriod
{
    public static bool TryParse(string text, out TimeSpan length)
    {
        var s = text.Trim();
        if (s.EndsWith("mo", StringComparison.OrdinalIgnoreCase) && int.TryParse(s[..^2], out var months) && months is > 0 and <= 120)
        {
            length = TimeSpan.FromDays(30 * months);
            return true;
        }
        return Durations.TryParse(s, TimeSpan.FromDays(3660), out length) && length >= TimeSpan.FromSeconds(1);
    }

    /// <summary>The start of the current period (DateTimeOffset.MinValue when the budget never resets) and when it ends.</summary>
    public static (DateTimeOffset Start, DateTimeOffset? End) Current(string? duration, DateTimeOffset anchor, DateTimeOffset now)
    {
        if (duration is null || !TryParse(duration, out var length)) return (DateTimeOffset.MinValue, null);
        var elapsed = Math.Max(0, (now - anchor).Ticks);
        var start = anchor.AddTicks(elapsed / length.Ticks * length.Ticks);
        return (start, start + length);
    }
}
