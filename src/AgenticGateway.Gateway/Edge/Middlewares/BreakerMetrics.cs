using System.Numerics;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// What a circuit breaker watches, over oxy's windows: counts of requests, network errors (502 and 504) and each
/// status over the last 10 seconds (ten one-second slots), and latencies over the last minute (six ten-second
/// histograms with about 1% precision, as oxy's HDR histograms).
/// </summary>
internal sealed class BreakerMetrics(TimeProvider time)
{
    private const int CounterSlots = 10;
    private const int HistogramSlots = 6;
    private const long HistogramPeriodSeconds = 10;

    private readonly Lock _lock = new();
    private readonly RollingCounter _total = new();
    private readonly RollingCounter _networkErrors = new();
    private readonly Dictionary<int, RollingCounter> _statuses = [];
    private readonly LatencyHistogram[] _latencies = Enumerable.Range(0, HistogramSlots).Select(_ => new LatencyHistogram()).ToArray();

    private long NowSeconds => (long)(time.GetTimestamp() / (double)time.TimestampFrequency);

    public void Record(int status, TimeSpan latency)
    {
        var now = NowSeconds;
        lock (_lock)
        {
            _total.Add(now);
            if (status is StatusCodes.Status502BadGateway or StatusCodes.Status504GatewayTimeout) _networkErrors.Add(now);
            if (!_statuses.TryGetValue(status, out var counter)) _statuses[status] = counter = new RollingCounter();
            counter.Add(now);
            var period = now / HistogramPeriodSeconds;
            var slot = _latencies[period % HistogramSlots];
            slot.Use(period);
            slot.Add((long)Math.Max(1, latency.TotalMicroseconds));
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            _total.Clear();
            _networkErrors.Clear();
            _statuses.Clear();
            foreach (var h in _latencies) h.Clear();
        }
    }

    public long TotalCount()
    {
        lock (_lock) return _total.Count(NowSeconds);
    }

    public double NetworkErrorRatio()
    {
        var now = NowSeconds;
        lock (_lock)
        {
            var total = _total.Count(now);
            return total == 0 ? 0 : (double)_networkErrors.Count(now) / total;
        }
    }

    /// <summary>Requests with a status in [from, to) over those in [dividedByFrom, dividedByTo); 0 when there are none of the latter.</summary>
    public double ResponseCodeRatio(long from, long to, long dividedByFrom, long dividedByTo)
    {
        var now = NowSeconds;
        long a = 0, b = 0;
        lock (_lock)
        {
            foreach (var (code, counter) in _statuses)
            {
                var count = counter.Count(now);
                if (code >= from && code < to) a += count;
                if (code >= dividedByFrom && code < dividedByTo) b += count;
            }
        }
        return b == 0 ? 0 : (double)a / b;
    }

    /// <summary>The latency in whole milliseconds at a quantile given in percent (50.0 is the median), over the last minute.</summary>
    public long LatencyAtQuantileMs(double quantile)
    {
        var period = NowSeconds / HistogramPeriodSeconds;
        lock (_lock)
        {
            var live = _latencies.Where(h => h.Period > period - HistogramSlots && h.Period <= period).ToList();
            return LatencyHistogram.ValueAtQuantile(live, quantile) / 1000;
        }
    }

    /// <summary>Counts per second in a ring of ten; a slot holding an older second counts as empty.</summary>
    private sealed class RollingCounter
    {
        private readonly long[] _counts = new long[CounterSlots];
        private readonly long[] _seconds = Enumerable.Repeat(long.MinValue, CounterSlots).ToArray();

        public void Add(long second)
        {
            var i = (int)(second % CounterSlots);
            if (_seconds[i] != second)
            {
                _seconds[i] = second;
                _counts[i] = 0;
            }
            _counts[i]++;
        }

        public long Count(long now)
        {
            long sum = 0;
            for (var i = 0; i < CounterSlots; i++)
                if (_seconds[i] > now - CounterSlots && _seconds[i] <= now) sum += _counts[i];
            return sum;
        }

        public void Clear()
        {
            Array.Clear(_counts);
            Array.Fill(_seconds, long.MinValue);
        }
    }

    /// <summary>
    /// Latencies in microseconds, in log-linear buckets (128 sub-buckets per power of two: under 1% error), as HDR
    /// histograms do; values are capped at an hour, oxy's maximum.
    /// </summary>
    private sealed class LatencyHistogram
    {
        private const int SubBuckets = 128;
        private const long Max = 3_600_000_000;
        private static readonly int Buckets = Index(Max) + 1;

        private readonly int[] _counts = new int[Buckets];

        public long Period { get; private set; } = long.MinValue;

        public void Use(long period)
        {
            if (Period == period) return;
            Period = period;
            Array.Clear(_counts);
        }

        public void Add(long micros) => _counts[Index(Math.Min(micros, Max))]++;

        public void Clear()
        {
            Array.Clear(_counts);
            Period = long.MinValue;
        }

        private static int Index(long value)
        {
            if (value < SubBuckets) return (int)value;
            var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - 6;
            return SubBuckets + (shift - 1) * (SubBuckets / 2) + (int)((value >> shift) - SubBuckets / 2);
        }

        private static long HighestOf(int index)
        {
            if (index < SubBuckets) return index;
            var shift = (index - SubBuckets) / (SubBuckets / 2) + 1;
            var sub = (index - SubBuckets) % (SubBuckets / 2) + SubBuckets / 2;
            return ((long)(sub + 1) << shift) - 1;
        }

        public static long ValueAtQuantile(List<LatencyHistogram> histograms, double quantile)
        {
            long total = 0;
            foreach (var h in histograms) foreach (var c in h._counts) total += c;
            if (total == 0) return 0;
            var target = Math.Max(1, (long)Math.Ceiling(Math.Clamp(quantile, 0, 100) / 100 * total));
            long seen = 0;
            for (var i = 0; i < Buckets; i++)
            {
                foreach (var h in histograms) seen += h._counts[i];
                if (seen >= target) return HighestOf(i);
            }
            return Max;
        }
    }
}
