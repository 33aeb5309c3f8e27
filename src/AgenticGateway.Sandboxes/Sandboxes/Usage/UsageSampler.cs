using System.Collections.Concurrent;

namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// Samples every running sandbox's CPU, memory and disk every <see cref="Interval"/> (E2B's 5 s) into a ring of the
/// last <see cref="Retention"/> per sandbox, for E2B's metrics and <c>GET /v1/sandboxes/{id}/metrics</c>. One timer
/// for all sandboxes, off the request path; a probe per sandbox holds its counter files open, so a sample reads a few
/// files and allocates nothing. A paused sandbox is not sampled and keeps its samples until it is resumed (the ring
/// goes on) or deleted; a sandbox that ended is forgotten at the next tick.
/// </summary>
internal sealed class UsageSampler
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(15);
    /// <summary>Often enough that a new sandbox's first interval starts within a second of it going live.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private const int ScratchBytes = 16 * 1024;

    private readonly ConcurrentDictionary<string, Tracker> _trackers = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly Func<string, bool> _isPaused;
    private readonly byte[] _scratch = new byte[ScratchBytes];

    private readonly ILogger? _logger;

    /// <param name="isPaused">Whether a sandbox id is paused (its samples are kept).</param>
    public UsageSampler(TimeProvider time, Func<string, bool> isPaused, ILogger? logger = null)
    {
        _time = time;
        _isPaused = isPaused;
        _logger = logger;
    }

    /// <summary>Samples kept per sandbox.</summary>
    public static int Capacity => (int)(Retention / Interval);

    /// <summary>Starts sampling a sandbox that has gone live (created, resumed, forked). Cheap: the probe is opened by the sampler.</summary>
    public void Track(Sandbox sandbox) =>
        _trackers.AddOrUpdate(sandbox.Id, static (_, s) => new Tracker(s), static (_, t, s) => { t.Attach(s); return t; }, sandbox);

    /// <summary>The samples of a sandbox (running or paused), or null before its first one. Callers check the owner first.</summary>
    public UsageRing? Samples(string id) => _trackers.TryGetValue(id, out var t) ? t.Ring : null;

    /// <summary>How many sandboxes are tracked (running or paused with samples).</summary>
    public int Tracked => _trackers.Count;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) SampleDue();
        }
        catch (OperationCanceledException) { }
        finally
        {
            foreach (var t in _trackers.Values) t.Close();
        }
    }

    /// <summary>One tick: every running sandbox whose interval is over gets a sample. Called by one thread at a time.</summary>
    internal void SampleDue()
    {
        var now = _time.GetTimestamp();
        foreach (var (id, t) in _trackers)
        {
            var sandbox = t.Current();
            if (sandbox is not null && !sandbox.HasEnded)
            {
                // Being paused or snapshotted: a microVM stands still meanwhile, so the interval resumes after it.
                if (sandbox.IsSaving) continue;
                // A probe the host refuses (a /proc entry gone odd) costs this sandbox its samples, never the loop.
                try { t.Sample(sandbox, now, _time, _scratch); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { t.Close(); }
                // Anything else is a bug in a probe: that sandbox stops being sampled, said once; the others go on.
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    t.Close();
                    if (_logger is not null) SandboxLog.SamplingFailed(_logger, id, ex);
                }
                continue;
            }
            if (sandbox is not null) t.Detach(sandbox);
            // Paused: the samples stay for the owner to read (and go on after a resume); otherwise they go.
            if (sandbox?.EndReason == "paused" || _isPaused(id)) continue;
            if (_trackers.TryRemove(new KeyValuePair<string, Tracker>(id, t)) && t.IsAttached)
                _trackers.TryAdd(id, t);    // resumed between the check and the removal
        }
    }

    /// <summary>One sandbox id's probe and ring. Its fields are the sampler thread's, except the sandbox to attach.</summary>
    private sealed class Tracker(Sandbox sandbox)
    {
        private Sandbox? _attached = sandbox;   // set by Track (any thread), taken by the sampler
        private Sandbox? _current;
        private IUsageProbe? _probe;
        private bool _opened;
        private bool _hasBaseline;
        private long _lastTimestamp;
        private long _lastCpu;
        private volatile UsageRing? _ring;

        public UsageRing? Ring => _ring;

        public void Attach(Sandbox sandbox) => Volatile.Write(ref _attached, sandbox);

        public bool IsAttached => Volatile.Read(ref _attached) is not null;

        /// <summary>The sandbox to sample now: a newly attached one (a resume) replaces the previous, with a fresh probe.</summary>
        public Sandbox? Current()
        {
            var attached = Volatile.Read(ref _attached);
            if (!ReferenceEquals(attached, _current))
            {
                Close();
                _current = attached;
            }
            return attached;
        }

        /// <summary>Lets go of a sandbox that ended, unless another has been attached meanwhile.</summary>
        public void Detach(Sandbox ended)
        {
            Interlocked.CompareExchange(ref _attached, null, ended);
            Close();
        }

        public void Sample(Sandbox sandbox, long now, TimeProvider time, byte[] scratch)
        {
            if (!_opened)
            {
                _opened = true;
                _probe = sandbox.Instance is IUsageSource source ? source.OpenUsageProbe() : null;
            }
            if (_probe is null) return;
            // Half a tick early rather than a whole tick late: samples 5 s apart, not 6 (the CPU share uses the real interval).
            if (_hasBaseline && time.GetElapsedTime(_lastTimestamp, now) < Interval - Tick / 2) return;
            // Read, then checked: an instance that ended meanwhile may have freed a pid the probe's paths name.
            if (!_probe.TryRead(scratch, out var reading) || sandbox.Instance.Exited.IsCompleted) return;
            if (_hasBaseline)
            {
                var r = sandbox.Spec.Resources;
                var cpus = Math.Max(1, (int)Math.Ceiling(r.Cpu));
                var elapsed = time.GetElapsedTime(_lastTimestamp, now).TotalNanoseconds;
                var pct = Math.Clamp((reading.CpuNanoseconds - _lastCpu) / (elapsed * cpus) * 100, 0, 100);
                var ring = _ring ??= new UsageRing(Capacity);
                // Whole seconds, as E2B's timestamps are: a start or end the SDK rounds to seconds then matches exactly.
                var second = time.GetUtcNow().ToUnixTimeSeconds() * 1000;
                ring.Add(new UsageSample(second, (float)Math.Round(pct, 2), cpus,
                    reading.MemUsed, (long)r.MemoryMb << 20, reading.MemCache, reading.DiskUsed, (long)r.DiskMb << 20));
            }
            _hasBaseline = true;
            _lastTimestamp = now;
            _lastCpu = reading.CpuNanoseconds;
        }

        /// <summary>Closes the probe (the instance ended, or another took its place); the ring stays.</summary>
        public void Close()
        {
            _probe?.Dispose();
            _probe = null;
            _opened = false;
            _hasBaseline = false;
            _current = null;
        }
    }
}
