using System.Threading.Channels;
using AgenticGateway.Spend;

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
    public void Records_the_full_queue_dropped_survive_the_writers_progress_until_replayed()
    {
        var dir = Directory.CreateTempSubdirectory("agw-wal-").FullName;
        try
        {
            var queue = Channel.CreateBounded<(SpendLog Log, long Seq)>(2);
            using var wal = new SpendWal(dir, queue.Writer);
            for (var i = 1; i <= 5; i++) wal.Append(Log(i));
            Assert.True(wal.HasDropped);

            // The writer stores the two queued records: the segment still holds three that only the file has.
            wal.Committed(2);
            var sealedSegments = wal.SealForReplay();
            var segment = Assert.Single(sealedSegments);
            Assert.Equal(["log-1", "log-2", "log-3", "log-4", "log-5"], SpendWal.Read(segment).Select(l => l.LogId).ToList());

            // Progress reported during the replay must not delete it either.
            wal.Append(Log(6));
            wal.Committed(6);
            Assert.True(File.Exists(segment));
            wal.Replayed(segment);
            wal.ReplayDone();
            Assert.False(File.Exists(segment));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_torn_last_line_is_skipped_on_replay()
    {
        var dir = Directory.CreateTempSubdirectory("agw-wal-").FullName;
        try
        {
            var queue = Channel.CreateUnbounded<(SpendLog Log, long Seq)>();
            string segment;
            using (var wal = new SpendWal(dir, queue.Writer))
            {
                wal.Append(Log(1));
                wal.Append(Log(2));
                segment = Assert.Single(wal.SealForReplay());
            }
            File.AppendAllText(segment, "{\"log_id\":\"log-3\",\"requ");
            Assert.Equal(["log-1", "log-2"], SpendWal.Read(segment).Select(l => l.LogId).ToList());
            // A new process finds it and replays it.
            using var next = new SpendWal(dir, queue.Writer);
            Assert.Equal([segment], next.Recovered);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
