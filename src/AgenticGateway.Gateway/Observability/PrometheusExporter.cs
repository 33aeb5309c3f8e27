using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Observability;

/// <summary>
/// Aggregates measurements from our meter and ASP.NET Core's request-duration histogram and renders them in the
/// Prometheus text exposition format.
/// </summary>
// Kept over the libraries, measured by bench/exposition-diff (docs/deployment.md): on the same traffic ours leaves 0 of the dashboards' and alerts' queries unanswered, OpenTelemetry.Exporter.Prometheus 1.20.1-beta.1 17 (no http_requests_total, ASP.NET's http_* labels, llm_cost_usd_USD_total, otel_scope_name on every series), prometheus-net 8.2.1 68 (every name prefixed with its meter, no _total).
internal sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private const string AspNetHosting = "Microsoft.AspNetCore.Hosting";
    private const string AspNetRequestDuration = "http.server.request.duration";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();
    private readonly List<Func<IEnumerable<GaugeSample>>> _gauges = [];

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this host's meters: several hosts in one process (tests) must not mix their series.
            if (!ReferenceEquals(instrument.Meter.Scope, meterFactory)) return;
            if (instrument.Meter.Name == GatewayMetrics.MeterName || (instrument.Meter.Name == AspNetHosting && instrument.Name == AspNetRequestDuration))
            {
                _families.TryAdd(instrument, new Family(instrument));
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>A gauge computed at scrape time (deployment state, for instance).</summary>
    public readonly record struct GaugeSample(string Name, string Help, double Value, (string Key, string Value)[] Labels);

    public void AddGauges(Func<IEnumerable<GaugeSample>> gauges)
    {
        lock (_gauges) _gauges.Add(gauges);
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_families.TryGetValue(instrument, out var family)) family.Record(value, tags);
    }

    public string Render()
    {
        var sb = new StringBuilder(8192);
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal)) family.Render(sb);
        Func<IEnumerable<GaugeSample>>[] gauges;
        lock (_gauges) gauges = [.. _gauges];
        foreach (var group in gauges.SelectMany(g => g()).GroupBy(s => s.Name))
        {
            sb.Append("# HELP ").Append(group.Key).Append(' ').Append(group.First().Help).Append('\n');
            sb.Append("# TYPE ").Append(group.Key).Append(" gauge\n");
            foreach (var s in group) AppendSample(sb, group.Key, s.Labels.Select(l => (l.Key, l.Value)), s.Value);
        }
        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private static void AppendSample(StringBuilder sb, string name, IEnumerable<(string Key, string Value)> labels, double value)
    {
        sb.Append(name);
        var first = true;
        foreach (var (k, v) in labels)
        {
            sb.Append(first ? '{' : ',');
            first = false;
            sb.Append(k).Append("=\"");
            foreach (var c in v)
            {
                if (c is '\\' or '"') sb.Append('\\').Append(c);
                else if (c == '\n') sb.Append("\\n");
                else sb.Append(c);
            }
            sb.Append('"');
        }
        if (!first) sb.Append('}');
        sb.Append(' ').Append(Format(value)).Append('\n');
    }

    private static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One metric family: its series keyed by label values, looked up without allocating.</summary>
    private sealed class Family
    {
        private static readonly string[] AspNetKept = ["http.route", "http.request.method", "http.response.status_code"];
        private readonly ConcurrentDictionary<SeriesKey, Series> _series;
        private readonly ConcurrentDictionary<SeriesKey, Series>.AlternateLookup<TagSpan> _lookup;
        private readonly bool _histogram;
        private readonly double[] _bounds;
        private readonly bool _aspNet;
        private readonly string _help;

        public Family(Instrument instrument)
        {
            _aspNet = instrument.Meter.Name == AspNetHosting;
            _series = new(new SeriesKeyComparer(_aspNet ? AspNetKept : null));
            _lookup = _series.GetAlternateLookup<TagSpan>();
            _histogram = instrument is Histogram<double> or Histogram<long>;
            // An instrument may advise its own buckets (the edge's Traefik histograms: metrics.prometheus.buckets).
            _bounds = (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries is { Count: > 0 } advised ? [.. advised] : SecondsBuckets;
            _help = instrument.Description ?? instrument.Name;
            Name = _aspNet ? "http_request_duration_seconds" : PrometheusName(instrument);
        }

        public string Name { get; }

        private static string PrometheusName(Instrument instrument)
        {
            var baseName = instrument.Name.Replace('.', '_');
            if (instrument is Counter<long> or Counter<double> or Counter<int>) return baseName + "_total";
            if (instrument.Unit == "s" && !baseName.EndsWith("_seconds", StringComparison.Ordinal)) return baseName + "_seconds";
            return baseName;
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _lookup.TryGetValue(new TagSpan(tags), out var found) ? found : _series.GetOrAdd(SeriesKey.From(tags, _aspNet), _ => new Series(_histogram ? _bounds.Length : 0));
            series.Add(value, _histogram ? _bounds : null);
        }

        public void Render(StringBuilder sb)
        {
            if (_series.IsEmpty) return;
            var entries = _series.OrderBy(e => string.Join(",", e.Key.Values), StringComparer.Ordinal).ToArray();
            if (_aspNet)
            {
                // The request counter is derived from the duration histogram's counts.
                sb.Append("# HELP http_requests_total HTTP requests by route, method and status.\n# TYPE http_requests_total counter\n");
                foreach (var (key, s) in entries) AppendSample(sb, "http_requests_total", key.Labels, s.Count);
            }
            sb.Append("# HELP ").Append(Name).Append(' ').Append(_help).Append('\n');
            sb.Append("# TYPE ").Append(Name).Append(_histogram ? " histogram\n" : " counter\n");
            foreach (var (key, s) in entries)
            {
                if (!_histogram)
                {
                    AppendSample(sb, Name, key.Labels, s.Sum);
                    continue;
                }
                long cumulative = 0;
                for (var i = 0; i < _bounds.Length; i++)
                {
                    cumulative += s.BucketCount(i);
                    AppendSample(sb, Name + "_bucket", key.Labels.Append(("le", Format(_bounds[i]))), cumulative);
                }
                AppendSample(sb, Name + "_bucket", key.Labels.Append(("le", "+Inf")), s.Count);
                AppendSample(sb, Name + "_sum", key.Labels, s.Sum);
                AppendSample(sb, Name + "_count", key.Labels, s.Count);
            }
        }
    }

    private sealed class Series(int buckets)
    {
        private readonly long[] _buckets = new long[buckets];
        private long _count;
        private long _sumBits;

        public long Count => Interlocked.Read(ref _count);
        public double Sum => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _sumBits));
        public long BucketCount(int i) => Interlocked.Read(ref _buckets[i]);

        public void Add(double value, double[]? bounds)
        {
            Interlocked.Increment(ref _count);
            while (true)
            {
                var old = Interlocked.Read(ref _sumBits);
                var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(old) + value);
                if (Interlocked.CompareExchange(ref _sumBits, next, old) == old) break;
            }
            if (bounds is null) return;
            for (var i = 0; i < bounds.Length; i++)
            {
                if (value <= bounds[i]) { Interlocked.Increment(ref _buckets[i]); return; }
            }
        }
    }

    /// <summary>The label values of a series. ASP.NET's tags are renamed to route, method and status.</summary>
    private sealed class SeriesKey(string[] names, string[] values)
    {
        public string[] Names { get; } = names;
        public string[] Values { get; } = values;
        public IEnumerable<(string, string)> Labels => Names.Zip(Values);

        public static SeriesKey From(ReadOnlySpan<KeyValuePair<string, object?>> tags, bool aspNet)
        {
            var names = new List<string>();
            var values = new List<string>();
            var kept = new List<KeyValuePair<string, object?>>();
            foreach (var tag in tags)
            {
                var name = tag.Key;
                if (aspNet)
                {
                    name = name switch
                    {
                        "http.route" => "route",
                        "http.request.method" => "method",
                        "http.response.status_code" => "status",
                        _ => "",
                    };
                    if (name.Length == 0) continue;
                }
                names.Add(name.Replace('.', '_'));
                values.Add(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "");
                kept.Add(tag);
            }
            if (aspNet)
            {
                // Display order route, method, status; the raw tags keep ASP.NET's order for matching.
                var order = new[] { "route", "method", "status" };
                var pairs = names.Zip(values).OrderBy(p => Array.IndexOf(order, p.First)).ToList();
                names = [.. pairs.Select(p => p.First)];
                values = [.. pairs.Select(p => p.Second)];
            }
            return new SeriesKey([.. names], [.. values]) { RawTags = [.. kept] };
        }

        /// <summary>The tags as first seen, compared against incoming measurements.</summary>
        public KeyValuePair<string, object?>[] RawTags { get; private init; } = [];
    }

    private readonly ref struct TagSpan(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        public ReadOnlySpan<KeyValuePair<string, object?>> Tags { get; } = tags;
    }

    /// <summary>Compares tag lists, looking only at the kept keys when a family keeps a subset (ASP.NET's).</summary>
    private sealed class SeriesKeyComparer(string[]? kept) : IEqualityComparer<SeriesKey>, IAlternateEqualityComparer<TagSpan, SeriesKey>
    {
        public bool Equals(SeriesKey? x, SeriesKey? y) => x is not null && y is not null && Same(x.RawTags, y.RawTags);
        public int GetHashCode(SeriesKey obj) => Hash(obj.RawTags);
        public bool Equals(TagSpan alternate, SeriesKey other) => Same(alternate.Tags, other.RawTags);
        public int GetHashCode(TagSpan alternate) => Hash(alternate.Tags);
        public SeriesKey Create(TagSpan alternate) => throw new NotSupportedException("series are created with GetOrAdd");

        private bool Keep(string key) => kept is null || Array.IndexOf(kept, key) >= 0;

        private bool Same(ReadOnlySpan<KeyValuePair<string, object?>> incoming, ReadOnlySpan<KeyValuePair<string, object?>> stored)
        {
            var j = 0;
            foreach (var tag in incoming)
            {
                if (!Keep(tag.Key)) continue;
                if (j >= stored.Length || !string.Equals(tag.Key, stored[j].Key, StringComparison.Ordinal) || !Equals(tag.Value, stored[j].Value)) return false;
                j++;
            }
            return j == stored.Length;
        }

        /// <summary>
        /// A cheap hash (length and a few characters of each string): this runs for every measurement, and equality
        /// still compares whole values, so a collision costs a comparison, never a wrong series.
        /// </summary>
        private int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var h = 17;
            foreach (var t in tags)
            {
                if (!Keep(t.Key)) continue;
                h = h * 31 + Cheap(t.Key);
                h = h * 31 + (t.Value is string s ? Cheap(s) : t.Value?.GetHashCode() ?? 0);
            }
            return h;
        }

        private static int Cheap(string s) => s.Length == 0 ? 0 : (s.Length * 397) ^ s[0] ^ (s[s.Length / 2] << 8) ^ (s[^1] << 16);
    }
}
