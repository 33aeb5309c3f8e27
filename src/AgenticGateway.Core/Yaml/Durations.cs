using System.Globalization;

namespace AgenticGateway.Yaml;

/// <summary>Parses durations: a bare number is seconds; suffixes ms, s, m, h, d are accepted ("250ms", "30s", "5m").</summary>
internal static class Durations
{
    public static readonly TimeSpan Max = TimeSpan.FromDays(30);

    public static bool TryParse(string text, out TimeSpan value) => TryParse(text, Max, out value);

    public static bool TryParse(string text, TimeSpan max, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        double factorMs = 1000;
        if (s.EndsWith("ms", StringComparison.OrdinalIgnoreCase)) { factorMs = 1; s = s[..^2]; }
        else if (s.EndsWith('s') || s.EndsWith('S')) { s = s[..^1]; }
        else if (s.EndsWith('m') || s.EndsWith('M')) { factorMs = 60_000; s = s[..^1]; }
        else if (s.EndsWith('h') || s.EndsWith('H')) { factorMs = 3_600_000; s = s[..^1]; }
        else if (s.EndsWith('d') || s.EndsWith('D')) { factorMs = 86_400_000; s = s[..^1]; }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0 || !double.IsFinite(n)) return false;
        var ms = n * factorMs;
        // Timers cannot wait longer than about 49 days; nothing here needs more than 30.
        if (ms > max.TotalMilliseconds) return false;
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }
}
