using System.Collections.Immutable;
using System.Globalization;

namespace AgenticGateway.Edge;

/// <summary>
/// Typed reads of one Traefik map node (a middleware's options, a service, an entry point), each bad value reported as
/// an error at its path into a shared list, so that a file's every error is reported at once. Keys are matched without
/// regard to case, as Traefik's decoder does; a key that nothing read is an error (<see cref="ReportUnknown"/>),
/// because Traefik refuses unknown fields too ("field not found") and a typo must not pass silently.
/// </summary>
internal sealed class EdgeOptions
{
    private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);

    public EdgeOptions(EdgeNode node, List<string> errors)
    {
        Node = node;
        Errors = errors;
        if (!node.IsMap && !(node.IsScalar && node.Scalar is null or ""))
            Error(node.Path, $"expected a map of options, got '{Shorten(node.ToString())}'");
    }

    public EdgeNode Node { get; }
    public List<string> Errors { get; }
    public string Path => Node.Path;

    public void Error(string path, string message) => Errors.Add(path.Length == 0 ? message : $"{path}: {message}");

    /// <summary>The child node, marked read; null when absent or null-valued.</summary>
    public EdgeNode? Child(string key)
    {
        _read.Add(key);
        var child = Node[key];
        return child is { IsScalar: true, Scalar: null } ? null : child;
    }

    public bool Has(string key) => Child(key) is not null;

    public string? String(string key)
    {
        var node = Child(key);
        if (node is null) return null;
        if (!node.IsScalar) { Error(node.Path, "expected a single value"); return null; }
        return node.Scalar;
    }

    public string RequiredString(string key)
    {
        var value = String(key);
        if (string.IsNullOrEmpty(value) && Child(key) is null) Error(EdgeNode.ChildPath(Path, key), "is required");
        return value ?? "";
    }

    public bool? Bool(string key)
    {
        var text = String(key);
        if (text is null) return null;
        if (bool.TryParse(text, out var b)) return b;
        Error(EdgeNode.ChildPath(Path, key), $"expected true or false, got '{text}'");
        return null;
    }

    public long? Long(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        var text = String(key);
        if (text is null) return null;
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
        Error(EdgeNode.ChildPath(Path, key), $"expected a whole number{Range(min, max)}, got '{text}'");
        return null;
    }

    public int? Int(string key, int min = int.MinValue, int max = int.MaxValue) => (int?)Long(key, min, max);

    public double? Double(string key, double min = double.MinValue, double max = double.MaxValue)
    {
        var text = String(key);
        if (text is null) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= min && n <= max) return n;
        Error(EdgeNode.ChildPath(Path, key), $"expected a number{Range(min, max)}, got '{text}'");
        return null;
    }

    /// <summary>A Traefik duration: Go's syntax ("1m30s", "250ms", "1.5h") or a bare number of seconds.</summary>
    public TimeSpan? Duration(string key)
    {
        var text = String(key);
        if (text is null) return null;
        if (GoDuration.TryParse(text, out var d) && d >= TimeSpan.Zero) return d;
        Error(EdgeNode.ChildPath(Path, key), $"expected a duration such as 10s, 1m30s or 250ms (a bare number is seconds), got '{text}'");
        return null;
    }

    /// <summary>A list of strings; a single scalar counts as a list of one (Traefik's file provider accepts both).</summary>
    public ImmutableArray<string> Strings(string key)
    {
        var node = Child(key);
        if (node is null) return [];
        if (node.IsScalar) return node.Scalar is { Length: > 0 } s ? [s] : [];
        if (!node.IsList) { Error(node.Path, "expected a list of values"); return []; }
        var list = ImmutableArray.CreateBuilder<string>();
        foreach (var item in node.Items)
        {
            if (item.IsScalar && item.Scalar is not null) list.Add(item.Scalar);
            else Error(item.Path, "expected a single value");
        }
        return list.ToImmutable();
    }

    /// <summary>A map of strings (custom headers, for example), keys as written.</summary>
    public ImmutableArray<KeyValuePair<string, string>> StringMap(string key)
    {
        var node = Child(key);
        if (node is null) return [];
        if (!node.IsMap) { Error(node.Path, "expected a map"); return []; }
        var list = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        foreach (var (k, v) in node.Entries)
        {
            if (v.IsScalar) list.Add(new(k, v.Scalar ?? ""));
            else Error(v.Path, "expected a single value");
        }
        return list.ToImmutable();
    }

    /// <summary>A nested map's options (null when absent); its unknown keys are reported by its own <see cref="ReportUnknown"/>.</summary>
    public EdgeOptions? Map(string key)
    {
        var node = Child(key);
        return node is null ? null : new EdgeOptions(node, Errors);
    }

    /// <summary>The items of a list of maps (servers, for example).</summary>
    public IReadOnlyList<EdgeOptions> MapList(string key)
    {
        var node = Child(key);
        if (node is null) return [];
        if (!node.IsList) { Error(node.Path, "expected a list"); return []; }
        return node.Items.Select(i => new EdgeOptions(i, Errors)).ToList();
    }

    /// <summary>Reports every key of this map that nothing read, with the keys that are known.</summary>
    public void ReportUnknown()
    {
        foreach (var (k, v) in Node.Entries)
        {
            if (_read.Contains(k)) continue;
            var known = _read.Count == 0 ? "" : $" (known: {string.Join(", ", _read.Order(StringComparer.OrdinalIgnoreCase))})";
            Error(v.Path, $"unknown field '{k}'{known}");
        }
    }

    private static string Range(double min, double max) =>
        (min, max) switch
        {
            (double.MinValue or long.MinValue, double.MaxValue or long.MaxValue) => "",
            (double.MinValue or long.MinValue, _) => $" at most {max.ToString(CultureInfo.InvariantCulture)}",
            (_, double.MaxValue or long.MaxValue) => $" of at least {min.ToString(CultureInfo.InvariantCulture)}",
            _ => $" from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}",
        };

    private static string Shorten(string s) => s.Length > 60 ? s[..60] + "…" : s;
}

/// <summary>Go's duration syntax as Traefik reads it: "300ms", "1.5h", "2h45m", "-1s"; a bare number is seconds.</summary>
internal static class GoDuration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        if (s.Length == 0) return false;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!double.IsFinite(seconds) || Math.Abs(seconds) > TimeSpan.MaxValue.TotalSeconds / 2) return false;
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }
        var negative = s[0] == '-';
        if (s[0] is '-' or '+') s = s[1..];
        double totalMs = 0;
        var i = 0;
        if (s.Length == 0) return false;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start || !double.TryParse(s[start..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            double factor = s[unitStart..i] switch
            {
                "ns" => 1e-6,
                "us" or "µs" or "μs" => 1e-3,
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => double.NaN,
            };
            if (double.IsNaN(factor)) return false;
            totalMs += n * factor;
        }
        if (!double.IsFinite(totalMs) || totalMs > TimeSpan.MaxValue.TotalMilliseconds / 2) return false;
        value = TimeSpan.FromMilliseconds(negative ? -totalMs : totalMs);
        return true;
    }
}
