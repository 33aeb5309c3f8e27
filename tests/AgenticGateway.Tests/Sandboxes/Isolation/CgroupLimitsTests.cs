using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Tests.Sandboxes.Isolation;

/// <summary>
/// Real cgroups (root and a writable hierarchy required), each test under its own prefix below this process's cgroup,
/// reaped in Dispose whatever happens.
/// </summary>
[Trait("Category", "sandbox")]
public sealed class CgroupLimitsTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly string _prefix = $"agw-test-{Guid.NewGuid():N}"[..20];

    public CgroupLimitsTests() =>
        Assert.True(CgroupLimits.Detect() != CgroupMode.None, "these tests need a writable cgroup hierarchy (run as root)");

    public void Dispose() => CgroupLimits.ReapOrphans(_prefix);

    [Fact]
    public void An_allocation_over_the_memory_limit_is_OOM_killed_inside_bwrap()
    {
        var limits = Create("sb-oom", memory: 64 * MiB, pids: 32);
        Assert.False(limits.OomKilled());

        var small = Launch.Run(Launch.InCgroup(limits, [.. Launch.Bwrap, "/usr/bin/python3", "-c", "print(len(b'x' * (16 << 20)))"]));
        Assert.True(small.ExitCode == 0 && small.Stdout == "16777216", small.ToString());
        Assert.False(limits.OomKilled());

        var big = Launch.Run(Launch.InCgroup(limits, [.. Launch.Bwrap, "/usr/bin/python3", "-c", "x = b'x' * (256 << 20); print('survived')"]));
        Assert.True(big.ExitCode == 137, big.ToString()); // 128 + SIGKILL, passed on by bwrap
        Assert.True(limits.OomKilled());
        Assert.True(limits.Delete());
    }

    [Fact]
    public void A_fork_bomb_is_held_at_pids_max_and_KillAll_ends_it()
    {
        const string bomb = """
            import subprocess
            children = []
            try:
                for _ in range(200):
                    children.append(subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            except OSError:
                pass
            print(len(children))
            """;
        var limits = Create("sb-forks", memory: 256 * MiB, pids: 32);

        // python3 exits and leaves its sleeps behind as orphans, still in the group (and not holding our pipes).
        var result = Launch.Run(Launch.InCgroup(limits, "/usr/bin/python3", "-c", bomb));
        Assert.True(result.ExitCode == 0, result.ToString());
        var started = int.Parse(result.Stdout);
        Assert.InRange(started, 16, 31); // python itself takes one of the 32
        Assert.Equal(started, Members(limits));

        Assert.Equal(started, limits.KillAll());
        Assert.Equal(0, Members(limits));
        Assert.True(limits.Delete());
        Assert.All(limits.Directories, d => Assert.False(Directory.Exists(d), d));
    }

    [Fact]
    public void Delete_kills_the_members_and_removes_every_directory()
    {
        var limits = Create("sb-delete", memory: 64 * MiB, pids: 16, cpus: 0.5);
        if (limits.Mode == CgroupMode.V1 && limits.Directories.Count > 2)
            Assert.Equal("50000", File.ReadAllText(Path.Join(limits.Directories[2], "cpu.cfs_quota_us")).Trim());
        using var sleeper = Launch.Start(Launch.InCgroup(limits, "/bin/sleep", "120"));
        WaitUntil(() => Members(limits) == 1);

        Assert.True(limits.Delete());

        Assert.True(sleeper.WaitForExit(5_000));
        Assert.Equal(137, sleeper.ExitCode);
        Assert.All(limits.Directories, d => Assert.False(Directory.Exists(d), d));
        Assert.True(limits.Delete()); // a second time: nothing left, no exception
    }

    [Fact]
    public async Task DeleteAsync_kills_members_and_their_children_and_removes_every_directory()
    {
        var limits = Create("sb-delete-async", memory: 64 * MiB, pids: 16);
        // A shell with children: every one of them must be gone before the directories can go.
        using var shell = Launch.Start(Launch.InCgroup(limits, "/bin/sh", "-c", "sleep 120 & sleep 120 & wait"));
        WaitUntil(() => Members(limits) == 3);

        Assert.True(await limits.DeleteAsync());

        Assert.True(shell.WaitForExit(5_000));
        Assert.Equal(137, shell.ExitCode);
        Assert.All(limits.Directories, d => Assert.False(Directory.Exists(d), d));
        Assert.Equal(0, await limits.KillAllAsync());
        Assert.True(await limits.DeleteAsync()); // a second time: nothing left, no exception
    }

    [Fact]
    public void ReapOrphans_kills_and_removes_the_groups_a_previous_run_left_under_its_prefix()
    {
        var first = Create("sb-1", memory: 64 * MiB, pids: 16);
        var second = Create("sb-2", memory: 64 * MiB, pids: 16);
        using var one = Launch.Start(Launch.InCgroup(first, "/bin/sleep", "120"));
        using var two = Launch.Start(Launch.InCgroup(second, "/bin/sleep", "120"));
        WaitUntil(() => Members(first) == 1 && Members(second) == 1);

        Assert.Equal(2, CgroupLimits.ReapOrphans(_prefix));

        Assert.True(one.WaitForExit(5_000) && two.WaitForExit(5_000));
        Assert.All(first.Directories.Concat(second.Directories), d => Assert.False(Directory.Exists(d), d));
        Assert.All(first.Directories, d => Assert.False(Directory.Exists(Path.GetDirectoryName(d)), "prefix left behind"));
        Assert.Equal(0, CgroupLimits.ReapOrphans(_prefix));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/sys/fs/cgroup/x")]
    [InlineData("../escape")]
    [InlineData("a//b")]
    public void TryCreate_refuses_names_that_leave_its_own_cgroup(string group)
    {
        Assert.Null(CgroupLimits.TryCreate(group, 64 * MiB, 16, 0, out var problem));
        Assert.Contains("invalid cgroup name", problem);
    }

    private CgroupLimits Create(string name, long memory, int pids, double cpus = 0)
    {
        var limits = CgroupLimits.TryCreate($"{_prefix}/{name}", memory, pids, cpus, out var problem);
        Assert.True(limits is not null, problem);
        return limits;
    }

    private static int Members(CgroupLimits limits) =>
        limits.ProcsFiles.Max(f => File.ReadAllLines(f).Count(l => l.Length > 0));

    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            Thread.Sleep(10);
        }
    }
}
