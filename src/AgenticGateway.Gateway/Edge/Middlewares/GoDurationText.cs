using System.Globalization;
using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>Go's <c>time.Duration.String()</c> ("1.5s", "250ms", "2m0s"), which Traefik writes in X-Retry-In.</summary>
internal static class GoDurationText
{
    public static string Format(TimeSpan value)
    {
        var ns = value.Ticks * 100;
        if (ns == 0) return "0s";
        var sb = new StringBuilder();
        if (ns < 0) { sb.Append('-'); ns = -ns; }
        if (ns < 1_000_000_000)
        {
            // Under a second: the largest unit that keeps a whole part, with the fraction's trailing zeros cut.
            var (unit, scale) = ns < 1_000 ? ("ns", 1L) : ns < 1_000_000 ? ("µs", 1_000L) : ("ms", 1_000_000L);
            sb.Append(Fraction(ns, scale)).Append(unit);
            return sb.ToString();
        }
        var hours = ns / 3_600_000_000_000;
        ns -= hours * 3_600_000_000_000;
        var minutes = ns / 60_000_000_000;
        ns -= minutes * 60_000_000_000;
        if (hours > 0) sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        if (hours > 0 || minutes > 0) sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        sb.Append(Fraction(ns, 1_000_000_000)).Append('s');
        return sb.ToString();
    }

    private static string Fraction(long value, long scale)
    {
        var whole = (value / scale).ToString(CultureInfo.InvariantCulture);
        var rest = value % scale;
        if (rest == 0) return whole;
        var digits = scale.ToString(CultureInfo.InvariantCulture).Length - 1;
        return whole + "." + rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
    }
}
