using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Usage;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Sandboxes.Usage;

/// <summary>
/// The sampler over instances whose counters the test sets: the CPU share of an interval, the limits, the 5 s cadence,
/// a paused sandbox's samples kept without new ones and continued after a resume, an ended one's dropped.
/// </summary>
[Trait("Category", "unit")]
public sealed class UsageSamplerTests
{
    private const long MiB = 1 << 20;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly HashSet<string> _paused = [];

    private sealed class Counters : ISandboxInstance, IUsageSource, IUsageProbe
    {
        private readonly TaskCompletionSource _exited = new();
        public UsageReading Now { get; set; }
        public int Opened { get; private set; }
        public AgentConnection Agent => null!;
        public Task Exited => _exited.Task;
        public string Isolation => "test";
        public string? Image => null;
        public string? EndReason => null;
        public bool TemplateInImage => false;
        public IUsageProbe? OpenUsageProbe() { Opened++; return this; }
        public bool TryRead(Span<byte> scratch, out UsageReading reading) { reading = Now; return true; }
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static Sandbox New(string id, Counters counters, double cpu = 2) =>
        new(id, "owner", new SandboxSpec { Runtime = "python", Resources = new SandboxResources { MemoryMb = 256, DiskMb = 128, Cpu = cpu } },
            counters, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1));

    private UsageSampler Sampler() => new(_clock, _paused.Contains);

    private void Tick(UsageSampler sampler, int seconds = 1)
    {
        _clock.Advance(TimeSpan.FromSeconds(seconds));
        sampler.SampleDue();
    }

    private static List<UsageSample> Samples(UsageSampler sampler, string id)
    {
        var buffer = new UsageSample[UsageSampler.Capacity];
        var ring = sampler.Samples(id);
        return ring is null ? [] : buffer[..ring.CopyTo(buffer)].ToList();
    }

    [Fact]
    public void A_sample_every_five_seconds_with_the_intervals_cpu_share_and_the_sandboxs_limits()
    {
        var sampler = Sampler();
        var counters = new Counters { Now = new(CpuNanoseconds: 1_000_000_000, MemUsed: 10 * MiB, MemCache: MiB, DiskUsed: 3 * MiB) };
        sampler.Track(New("sb-a", counters));

        Tick(sampler);      // the first reading starts the first interval
        Assert.Empty(Samples(sampler, "sb-a"));
        // 5 CPU-seconds in 5 s on 2 CPUs: half of them.
        counters.Now = counters.Now with { CpuNanoseconds = 6_000_000_000, MemUsed = 20 * MiB };
        for (var i = 0; i < 4; i++) Tick(sampler);
        Assert.Empty(Samples(sampler, "sb-a"));
        Tick(sampler);
        var sample = Assert.Single(Samples(sampler, "sb-a"));
        Assert.Equal(50, sample.CpuUsedPct);
        Assert.Equal(2, sample.CpuCount);
        Assert.Equal(20 * MiB, sample.MemUsed);
        Assert.Equal(256 * MiB, sample.MemTotal);
        Assert.Equal(MiB, sample.MemCache);
        Assert.Equal(3 * MiB, sample.DiskUsed);
        Assert.Equal(128 * MiB, sample.DiskTotal);
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds() * 1000, sample.UnixMs);

        // Idle: 0 %; more than every CPU (a counter jump) is capped at 100 %.
        for (var i = 0; i < 5; i++) Tick(sampler);
        counters.Now = counters.Now with { CpuNanoseconds = counters.Now.CpuNanoseconds + 60_000_000_000 };
        for (var i = 0; i < 5; i++) Tick(sampler);
        Assert.Equal([50f, 0f, 100f], Samples(sampler, "sb-a").Select(s => s.CpuUsedPct));
        Assert.Equal(1, counters.Opened);
    }

    [Fact]
    public void A_paused_sandbox_keeps_its_samples_takes_no_new_ones_and_goes_on_after_a_resume()
    {
        var sampler = Sampler();
        var first = New("sb-p", new Counters());
        sampler.Track(first);
        for (var i = 0; i < 11; i++) Tick(sampler);
        Assert.Equal(2, Samples(sampler, "sb-p").Count);

        Assert.True(first.TryEnd("paused"));
        _paused.Add("sb-p");
        for (var i = 0; i < 20; i++) Tick(sampler);
        Assert.Equal(2, Samples(sampler, "sb-p").Count);

        // Resumed: a new instance under the same id, the same ring.
        var resumed = new Counters();
        sampler.Track(New("sb-p", resumed));
        _paused.Remove("sb-p");
        for (var i = 0; i < 6; i++) Tick(sampler);
        Assert.Equal(3, Samples(sampler, "sb-p").Count);
        Assert.Equal(1, resumed.Opened);
    }

    [Fact]
    public void An_ended_sandbox_is_forgotten_and_a_deleted_paused_one_too()
    {
        var sampler = Sampler();
        var ended = New("sb-e", new Counters());
        var paused = New("sb-d", new Counters());
        sampler.Track(ended);
        sampler.Track(paused);
        for (var i = 0; i < 6; i++) Tick(sampler);
        Assert.Equal(2, sampler.Tracked);

        Assert.True(ended.TryEnd("deleted"));
        Assert.True(paused.TryEnd("paused"));
        _paused.Add("sb-d");
        Tick(sampler);
        Assert.Null(sampler.Samples("sb-e"));
        Assert.NotNull(sampler.Samples("sb-d"));

        _paused.Remove("sb-d");     // the paused state deleted
        Tick(sampler);
        Assert.Equal(0, sampler.Tracked);
    }
}
