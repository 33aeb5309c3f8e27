using System.Threading.Channels;
using AgenticGateway.Spend;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Spend;

/// <summary>The write-ahead file keeps what the bounded queue could not take until it has been replayed.</summary>
[Trait("Category", "unit")]
public class SpendWalTests
{
    private static SpendLog Log(int n) => new()
    {
        LogId = $"log-{n}", RequestId = $"req-{n}", ApiKey = "anonymous", Model = "gpt-4o", CallType = "chat", Status = 200,
        StartTime = DateTimeOffset.UnixEpoch, EndTime = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public async Task Records_the_full_queue_dropped_survive_the_writers_progress_until_replayed()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateBounded<(SpendLog Log, long Seq)>(2);
        await using var wal = new SpendWal(dir, queue.Writer);
        for (var i = 1; i <= 5; i++) await wal.AppendAsync(Log(i));
        Assert.True(wal.HasDropped);

        // The writer stores the two queued records: the segment still holds three that only the file has.
        wal.Committed(2);
        var sealedSegments = wal.SealForReplay();
        var segment = Assert.Single(sealedSegments);
        Assert.Equal(["log-1", "log-2", "log-3", "log-4", "log-5"], SpendWal.Read(segment).Select(l => l.LogId).ToList());

        // Progress reported during the replay must not delete it either.
        await wal.AppendAsync(Log(6));
        wal.Committed(6);
        Assert.True(File.Exists(segment));
        wal.Replayed(segment);
        wal.ReplayDone();
        Assert.False(File.Exists(segment));
    }

    [Fact]
    public async Task A_torn_last_line_is_skipped_on_replay()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        string segment;
        await using (var wal = new SpendWal(dir, queue.Writer))
        {
            await wal.AppendAsync(Log(1));
            await wal.AppendAsync(Log(2));
            segment = Assert.Single(wal.SealForReplay());
        }
        File.AppendAllText(segment, "{\"log_id\":\"log-3\",\"requ");
        Assert.Equal(["log-1", "log-2"], SpendWal.Read(segment).Select(l => l.LogId).ToList());
        // A new process finds it and replays it.
        await using var next = new SpendWal(dir, queue.Writer);
        Assert.Equal([segment], next.Recovered);
    }

    [Fact]
    public async Task Concurrent_appends_are_each_written_once_numbered_in_file_order_and_queued_in_that_order()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        string segment;
        await using (var wal = new SpendWal(dir, queue.Writer))
        {
            // Many callers at once: the writer loop batches whatever is queued meanwhile into one write.
            await Task.WhenAll(Enumerable.Range(0, 32).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 100; i++) await wal.AppendAsync(Log(t * 1000 + i));
            })));
            Assert.Equal(3200, wal.LastSeq);
            segment = Assert.Single(wal.SealForReplay());
        }
        var inFile = SpendWal.Read(segment).Select(l => l.LogId).ToList();
        Assert.Equal(3200, inFile.Distinct().Count());
        Assert.Equal(3200, inFile.Count);
        var queued = new List<(SpendLog Log, long Seq)>();
        while (queue.Reader.TryRead(out var item)) queued.Add(item);
        Assert.Equal(Enumerable.Range(1, 3200).Select(i => (long)i), queued.Select(q => q.Seq));
        Assert.Equal(inFile, queued.Select(q => q.Log.LogId));
    }

    [Fact]
    public async Task An_append_to_an_idle_log_is_written_by_its_caller_without_a_hand_off()
    {
        // One request at a time, a hand-off to the writer loop's thread and back cost more CPU than the write itself
        // (bench/run.sh, c=1): an append that finds the loop waiting writes its batch on its own thread and is done
        // when AppendAsync returns. Only the first may find the loop not yet waiting.
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        await using var wal = new SpendWal(dir, queue.Writer);
        var doneOnReturn = 0;
        for (var i = 0; i < 50; i++)
        {
            var append = wal.AppendAsync(Log(i));
            if (append.IsCompletedSuccessfully) doneOnReturn++;
            await append;
        }
        Assert.True(doneOnReturn >= 45, $"{doneOnReturn} of 50 appends were written by their callers");
        Assert.Equal(50, wal.LastSeq);
    }

    [Fact]
    public async Task A_full_append_queue_makes_callers_wait_and_loses_nothing()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        string segment;
        // Room for one waiting append: issued all at once, nearly all of them have to wait for room.
        await using (var wal = new SpendWal(dir, queue.Writer, appendQueueCapacity: 1))
        {
            var appends = Enumerable.Range(0, 2000).Select(i => wal.AppendAsync(Log(i)).AsTask()).ToList();
            await Task.WhenAll(appends).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(2000, wal.LastSeq);
            segment = Assert.Single(wal.SealForReplay());
        }
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"log-{i}").Order(), SpendWal.Read(segment).Select(l => l.LogId).Order());
        Assert.Equal(2000, queue.Reader.Count);
    }

    [Fact]
    public async Task After_dispose_what_was_appended_stays_for_the_next_process_and_new_appends_fail()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        var wal = new SpendWal(dir, queue.Writer);
        await wal.AppendAsync(Log(1));
        await wal.DisposeAsync();
        await Assert.ThrowsAnyAsync<InvalidOperationException>(async () => await wal.AppendAsync(Log(2)));
        await using var next = new SpendWal(dir, queue.Writer);
        var segment = Assert.Single(next.Recovered);
        Assert.Equal(["log-1"], SpendWal.Read(segment).Select(l => l.LogId).ToList());
    }

    [Fact]
    public async Task What_an_append_acknowledged_is_in_the_file_while_the_process_still_holds_it_open()
    {
        // The segment is mapped into memory: an acknowledged append is a copy into the page cache, which a kill -9
        // cannot take back. A reader of the file (the next process, after a kill) sees it, then the zeroed tail, where it stops.
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        await using var wal = new SpendWal(dir, queue.Writer);
        for (var i = 1; i <= 3; i++) await wal.AppendAsync(Log(i));
        var segment = Assert.Single(Directory.GetFiles(Path.Combine(dir, "spend-wal"), "*.jsonl"));
        Assert.True(new FileInfo(segment).Length >= MappedSegment.DefaultCapacity, "the segment is created at its full size");
        Assert.Equal(["log-1", "log-2", "log-3"], SpendWal.Read(segment).Select(l => l.LogId).ToList());
        // A line cut short by the kill runs into the zeros: skipped, and nothing after it is read.
        using (var f = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        {
            var end = SpendWal.Read(segment).Count();
            var text = File.ReadAllBytes(segment);
            var used = Array.IndexOf(text, (byte)0);
            f.Position = used;
            f.Write("{\"log_id\":\"log-4\",\"req"u8);
        }
        Assert.Equal(["log-1", "log-2", "log-3"], SpendWal.Read(segment).Select(l => l.LogId).ToList());
    }

    [Fact]
    public async Task A_batch_that_does_not_fit_the_segment_goes_to_a_new_one_and_closed_segments_are_cut_to_their_records()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
        var big = new string('t', 300_000);
        await using (var wal = new SpendWal(dir, queue.Writer))
        {
            // 4 MB segments: 20 records of 300 KB fill more than one.
            for (var i = 0; i < 20; i++) await wal.AppendAsync(Log(i) with { Tags = [big] });
            var segments = wal.SealForReplay();
            Assert.True(segments.Count >= 2, $"{segments.Count} segments");
            Assert.Equal(Enumerable.Range(0, 20).Select(i => $"log-{i}"), segments.SelectMany(SpendWal.Read).Select(l => l.LogId));
            foreach (var segment in segments)
                Assert.Equal((byte)'\n', File.ReadAllBytes(segment)[^1]);
        }
    }

    [Fact]
    public void Where_a_file_cannot_be_allocated_up_front_segments_are_written_instead_and_read_the_same()
    {
        using var temp = new TempDirectory("agw-wal-");
        var dir = temp.Path;
        // Linux temp directories allocate (fallocate); the written segment is the fallback elsewhere.
        using (var mapped = MappedSegment.TryCreate(Path.Combine(dir, "a.jsonl"), 4096)) Assert.NotNull(mapped);
        var path = Path.Combine(dir, "b.jsonl");
        using (var written = new WrittenSegment(path))
        {
            Assert.True(written.TryAppend("{\"log_id\":\"log-1\",\"request_id\":\"r\",\"api_key\":\"k\",\"model\":\"m\",\"call_type\":\"chat\"}\n"u8));
        }
        Assert.Equal(["log-1"], SpendWal.Read(path).Select(l => l.LogId).ToList());
    }
}
