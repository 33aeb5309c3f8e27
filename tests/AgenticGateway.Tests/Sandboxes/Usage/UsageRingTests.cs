using AgenticGateway.Sandboxes.Usage;

namespace AgenticGateway.Tests.Sandboxes.Usage;

/// <summary>The per-sandbox ring of metric samples: order, wrap-around, the start/end filter, and a reader racing the writer.</summary>
[Trait("Category", "unit")]
public sealed class UsageRingTests
{
    /// <summary>A sample whose every field says which it is, so a torn copy shows.</summary>
    private static UsageSample Sample(long n) => new(n * 1000, n % 100, (int)(n % 7) + 1, n, n, n, n, n);

    private static List<UsageSample> All(UsageRing ring, long from = long.MinValue, long to = long.MaxValue)
    {
        var buffer = new UsageSample[ring.Capacity];
        return buffer[..ring.CopyTo(buffer, from, to)].ToList();
    }

    [Fact]
    public void An_empty_ring_has_no_samples_and_no_latest()
    {
        var ring = new UsageRing(4);
        Assert.Empty(All(ring));
        Assert.False(ring.TryLatest(out _));
    }

    [Fact]
    public void Samples_come_oldest_first_and_the_latest_is_the_last_added()
    {
        var ring = new UsageRing(4);
        for (var i = 1; i <= 3; i++) ring.Add(Sample(i));
        Assert.Equal([Sample(1), Sample(2), Sample(3)], All(ring));
        Assert.True(ring.TryLatest(out var latest));
        Assert.Equal(Sample(3), latest);
    }

    [Fact]
    public void A_full_ring_keeps_the_newest_capacity_samples()
    {
        var ring = new UsageRing(4);
        for (var i = 1; i <= 10; i++) ring.Add(Sample(i));
        Assert.Equal([Sample(7), Sample(8), Sample(9), Sample(10)], All(ring));
        Assert.Equal(10, ring.Added);
    }

    [Fact]
    public void Start_and_end_are_both_included()
    {
        var ring = new UsageRing(8);
        for (var i = 1; i <= 6; i++) ring.Add(Sample(i));
        Assert.Equal([Sample(2), Sample(3), Sample(4)], All(ring, 2000, 4000));
        Assert.Equal([Sample(5), Sample(6)], All(ring, from: 5000));
        Assert.Equal([Sample(1)], All(ring, to: 1999));
        Assert.Empty(All(ring, 7000, 9000));
    }

    [Fact]
    public void A_destination_smaller_than_the_ring_is_refused()
    {
        var ring = new UsageRing(4);
        Assert.Throws<ArgumentException>(() => ring.CopyTo(new UsageSample[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UsageRing(0));
    }

    [Fact]
    public async Task A_reader_racing_the_writer_sees_only_whole_samples_in_order()
    {
        // A small ring the writer laps constantly: every copy must still be consecutive, untorn samples.
        var ring = new UsageRing(2);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var writer = Task.Run(() =>
        {
            for (long n = 1; !stop.IsCancellationRequested; n++) ring.Add(Sample(n));
        });
        var buffer = new UsageSample[ring.Capacity];
        var reads = 0;
        while (!stop.IsCancellationRequested)
        {
            var count = ring.CopyTo(buffer);
            for (var i = 0; i < count; i++)
            {
                Assert.Equal(Sample(buffer[i].MemUsed), buffer[i]);
                if (i > 0) Assert.Equal(buffer[i - 1].MemUsed + 1, buffer[i].MemUsed);
            }
            if (ring.TryLatest(out var latest)) Assert.Equal(Sample(latest.MemUsed), latest);
            reads++;
        }
        await writer;
        Assert.True(reads > 100);
    }

    [Fact]
    public void Kernel_files_are_parsed_without_strings()
    {
        var stat = "cache 18825216\nrss 1839104\ntotal_cache 20000\ntotal_rss 4096\ntotal_shmem 1024\n"u8;
        Assert.Equal(4096, KernelFile.Value(stat, "total_rss"u8));
        Assert.Equal(1839104, KernelFile.Value(stat, "rss"u8));
        Assert.Null(KernelFile.Value(stat, "total"u8));
        Assert.Equal(123456789, KernelFile.Number("123456789\n"u8));
        Assert.Null(KernelFile.Number("12a"u8));
        Assert.Null(KernelFile.Number("99999999999999999999"u8));
        Assert.Equal(1234567890123456789, KernelFile.Number("1234567890123456789"u8));
        // /proc/<pid>/stat after the command name: utime and stime are the 12th and 13th fields from the state.
        var fields = "S 1 2 3 4 5 6 7 8 9 10 250 50 0 0"u8;
        Assert.Equal(250, KernelFile.Field(fields, 11));
        Assert.Equal(50, KernelFile.Field(fields, 12));
    }
}
