using System.Collections.Immutable;
using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's HTTP status ranges (errors' <c>status</c> and <c>statusRewrites</c>, retry's <c>status</c>): "500",
/// "500-599", and, as its documentation allows, comma-separated combinations ("404,418,500-599"). Bounds are inclusive.
/// </summary>
internal sealed class StatusRanges
{
    private readonly ImmutableArray<(int Low, int High)> _ranges;

    private StatusRanges(ImmutableArray<(int, int)> ranges) => _ranges = ranges;

    public bool IsEmpty => _ranges.IsEmpty;

    public bool Contains(int status)
    {
        foreach (var (low, high) in _ranges)
            if (status >= low && status <= high) return true;
        return false;
    }

    /// <summary>Parses every item; a bad one is reported at <paramref name="path"/> and skipped.</summary>
    public static StatusRanges Parse(IEnumerable<string> items, EdgeOptions options, string path)
    {
        var ranges = ImmutableArray.CreateBuilder<(int, int)>();
        foreach (var item in items)
        foreach (var part in item.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryParseOne(part, out var range)) ranges.Add(range);
            else options.Error(path, $"'{part}' is not a status code or a range such as 500-599");
        }
        return new StatusRanges(ranges.ToImmutable());
    }

    private static bool TryParseOne(string text, out (int, int) range)
    {
        range = default;
        var dash = text.IndexOf('-');
        var lowText = dash < 0 ? text : text[..dash];
        var highText = dash < 0 ? text : text[(dash + 1)..];
        if (!int.TryParse(lowText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var low)
            || !int.TryParse(highText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var high)
            || low < 100 || high > 999 || low > high)
            return false;
        range = (low, high);
        return true;
    }
}
