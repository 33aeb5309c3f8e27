using static AgenticGateway.Sandboxes.Isolation.CgroupFs;

namespace AgenticGateway.Sandboxes.Isolation;

/// <summary>Which cgroup hierarchy this process can create sandbox groups in.</summary>
internal enum CgroupMode
{
    /// <summary>No writable hierarchy (not root, no delegation, or a read-only /sys/fs/cgroup): run without limits.</summary>
    None,
    /// <summary>cgroup v1: memory, pids and cpu each mounted at /sys/fs/cgroup/&lt;controller&gt;.</summary>
    V1,
    /// <summary>cgroup v2: the unified hierarchy at /sys/fs/cgroup.</summary>
    V2,
}

/// <summary>
/// One sandbox's cgroup (one per v1 controller, or one v2 group), nested under this process's own cgroup as
/// <c>&lt;own&gt;/&lt;prefix&gt;/&lt;name&gt;</c>. A launcher writes its own pid into every <see cref="ProcsFiles"/> entry
/// before exec'ing bwrap, so the sandbox and everything it forks are inside from the first instruction.
/// </summary>
internal sealed class CgroupLimits
{
    private const int SigKill = 9;
    private const long CpuPeriodUs = 100_000;
    private const int KillRounds = 200;
    // cpuacct only counts (the CPU time a sandbox's metrics report); where it shares a hierarchy with cpu
    // ("cpu,cpuacct"), the cpu group already has its counters and no second group is made.
    private static readonly string[] V1Controllers = ["memory", "pids", "cpu", "cpuacct"];

    private readonly string[] _directories;
    private readonly string _memory;

    private CgroupLimits(CgroupMode mode, string[] directories, string memory, string? cpuAccounting = null)
    {
        Mode = mode;
        _directories = directories;
        _memory = memory;
        CpuAccounting = cpuAccounting;
        ProcsFiles = [.. directories.Select(d => Path.Join(d, "cgroup.procs"))];
    }

    public CgroupMode Mode { get; }

    /// <summary>The group whose memory.stat counts the sandbox's memory.</summary>
    public string Memory => _memory;

    /// <summary>
    /// The group that counts the sandbox's CPU time: v1's cpuacct group (<c>cpuacct.usage</c>), v2's one group
    /// (<c>cpu.stat</c>'s usage_usec); null on v1 without a cpuacct hierarchy.
    /// </summary>
    public string? CpuAccounting { get; }

    /// <summary>The group's directories: memory, pids and (if mounted) cpu on v1; the one group on v2.</summary>
    public IReadOnlyList<string> Directories => _directories;

    /// <summary>The <c>cgroup.procs</c> file of each directory: writing a pid there moves that process in.</summary>
    public IReadOnlyList<string> ProcsFiles { get; }

    public static CgroupMode Detect()
    {
        if (File.Exists(Path.Join(Mount, "cgroup.controllers")))
            return OwnDirectory(null) is { } own && Writable(own) ? CgroupMode.V2 : CgroupMode.None;
        return OwnDirectory("memory") is { } memory && Writable(memory) && OwnDirectory("pids") is { } pids && Writable(pids)
            ? CgroupMode.V1
            : CgroupMode.None;
    }

    /// <summary>
    /// Creates <c>&lt;own&gt;/<paramref name="group"/></c> (e.g. "agw-1a2b/sb-42") with the given limits; a value of 0 or
    /// less leaves that resource unlimited. Returns null, with the reason in <paramref name="problem"/>, when cgroups are
    /// unavailable or a limit cannot be set (nothing is left behind then).
    /// </summary>
    public static CgroupLimits? TryCreate(string group, long memoryBytes, int pidsMax, double cpus, out string? problem)
    {
        problem = CheckName(group);
        if (problem is not null)
            return null;
        var created = new List<string>();
        try
        {
            return Detect() switch
            {
                CgroupMode.V1 => CreateV1(group, memoryBytes, pidsMax, cpus, created),
                CgroupMode.V2 => CreateV2(group, memoryBytes, pidsMax, cpus, created, out problem),
                _ => Fail("no writable cgroup hierarchy for this process (needs root or a delegated cgroup)", out problem),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cgroup setup failed: {e.Message}";
            // Only what this call made, deepest first, and only while empty: a new prefix may already hold a sibling.
            foreach (var directory in Enumerable.Reverse(created))
                TryRemoveEmpty(directory);
            return null;
        }
    }

    /// <summary>Whether the kernel's OOM killer has killed a process in this group.</summary>
    public bool OomKilled()
    {
        if (Mode == CgroupMode.V2)
            return Counter(_memory, "memory.events", "oom_kill") > 0;
        // oom_kill appeared in memory.oom_control in Linux 4.13; before that, hitting the limit is the best sign.
        return (Counter(_memory, "memory.oom_control", "oom_kill") ?? Counter(_memory, "memory.failcnt", null)) > 0;
    }

    /// <summary>
    /// SIGKILLs every process in the group (and any group below it) until none is left; returns how many. Blocks
    /// between rounds: for start-up reaping and tests; request paths use <see cref="KillAllAsync"/>.
    /// </summary>
    public int KillAll()
    {
        var killed = new HashSet<int>();
        for (var round = 0; round < KillRounds && KillRound(killed); round++)
            Thread.Sleep(RoundPause(round));
        return killed.Count;
    }

    /// <summary>As <see cref="KillAll"/>, waiting between rounds without holding a thread.</summary>
    public async Task<int> KillAllAsync(CancellationToken cancellationToken = default)
    {
        var killed = new HashSet<int>();
        for (var round = 0; round < KillRounds && KillRound(killed); round++)
            await Task.Delay(RoundPause(round), cancellationToken).ConfigureAwait(false);
        return killed.Count;
    }

    /// <summary>
    /// Kills everything in the group and removes its directories; false if one stayed busy (it is then leaked). Blocks
    /// while processes exit: for start-up reaping and tests; request paths use <see cref="DeleteAsync"/>.
    /// </summary>
    public bool Delete()
    {
        KillAll();
        var removed = true;
        foreach (var directory in _directories)
            removed &= RemoveTree(directory);
        return removed;
    }

    /// <summary>As <see cref="Delete"/>, waiting for killed processes to exit without holding a thread.</summary>
    public async Task<bool> DeleteAsync(CancellationToken cancellationToken = default)
    {
        await KillAllAsync(cancellationToken).ConfigureAwait(false);
        var removed = true;
        foreach (var directory in _directories)
            removed &= await RemoveTreeAsync(directory, cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <summary>One round of <see cref="KillAll"/>: false once the group is empty.</summary>
    private bool KillRound(HashSet<int> killed)
    {
        // Rounds, because a process may fork between reading cgroup.procs and its SIGKILL. A pid could in theory be
        // reused between the read and the kill; cgroup.kill (v2, Linux 5.14) has no such window and is used when present.
        var pids = _directories.SelectMany(Pids).ToList();
        if (pids.Count == 0)
            return false;
        if (Mode == CgroupMode.V2)
            TryWrite(_directories[0], "cgroup.kill", "1");
        foreach (var pid in pids)
        {
            if (Kill(pid, SigKill) == 0)
                killed.Add(pid);
        }
        return true;
    }

    private static TimeSpan RoundPause(int round) => TimeSpan.FromMilliseconds(round < 10 ? 1 : 10);

    /// <summary>
    /// Kills and removes every group under <c>&lt;own&gt;/<paramref name="prefix"/></c>, in every controller, and then the
    /// prefix itself if empty: sandboxes a previous run of the gateway left behind. Call it before creating sandboxes.
    /// Returns how many sandbox groups were reaped.
    /// </summary>
    public static int ReapOrphans(string prefix)
    {
        if (CheckName(prefix) is { } problem)
            throw new ArgumentException(problem, nameof(prefix));
        var mode = Detect();
        var reaped = new HashSet<string>();
        foreach (var own in OwnDirectories(mode))
        {
            var parent = Path.Join(own, prefix);
            if (!Directory.Exists(parent))
                continue;
            foreach (var child in SafeSubdirectories(parent))
            {
                new CgroupLimits(mode, [child], child).Delete();
                reaped.Add(Path.GetFileName(child));
            }
            TryRemoveEmpty(parent);
        }
        return reaped.Count;
    }

    private static CgroupLimits CreateV1(string group, long memoryBytes, int pidsMax, double cpus, List<string> created)
    {
        string? cpu = null, cpuAccounting = null;
        foreach (var controller in V1Controllers)
        {
            if (OwnDirectory(controller) is not { } own)
            {
                if (controller is "cpu" or "cpuacct")
                    continue; // CPU quota and accounting are best effort
                throw new IOException($"the cgroup v1 {controller} controller is not mounted at {Mount}/{controller}");
            }
            var directory = Path.Join(own, group);
            // Mounted together with cpu: the cpu group, already made, counts too.
            if (controller == "cpuacct" && cpu is not null && File.Exists(Path.Join(cpu, "cpuacct.usage")))
            {
                cpuAccounting = cpu;
                continue;
            }
            Directory.CreateDirectory(directory);
            created.Add(directory);
            if (controller == "cpu") cpu = directory;
            if (controller == "cpuacct") cpuAccounting = directory;
        }
        var (memory, pids) = (created[0], created[1]);
        if (memoryBytes > 0)
        {
            Write(memory, "memory.limit_in_bytes", memoryBytes.ToString());
            // memory+swap; only present with swap accounting, and must be set after (and >=) the memory limit.
            TryWrite(memory, "memory.memsw.limit_in_bytes", memoryBytes.ToString());
        }
        if (pidsMax > 0)
            Write(pids, "pids.max", pidsMax.ToString());
        if (cpus > 0 && cpu is not null)
        {
            Write(cpu, "cpu.cfs_period_us", CpuPeriodUs.ToString());
            Write(cpu, "cpu.cfs_quota_us", CpuQuotaUs(cpus).ToString());
        }
        return new CgroupLimits(CgroupMode.V1, [.. created], memory, cpuAccounting);
    }

    // Untested here (our machines run cgroup v1); written from the kernel's cgroup-v2 admin guide.
    private static CgroupLimits? CreateV2(string group, long memoryBytes, int pidsMax, double cpus, List<string> created, out string? problem)
    {
        problem = null;
        var own = OwnDirectory(null)!;
        var available = ReadWords(own, "cgroup.controllers");
        string[] wanted = cpus > 0 && available.Contains("cpu") ? ["memory", "pids", "cpu"] : ["memory", "pids"];
        if (wanted.FirstOrDefault(c => !available.Contains(c)) is { } missing)
            return Fail($"the cgroup v2 {missing} controller is not delegated to {own}", out problem);

        // Controllers reach a group only through its parents' cgroup.subtree_control, and a non-root group with processes
        // may not enable any there ("no internal processes"). So the groups sit in <own>/<prefix>/, a subtree without
        // processes, and <own> must hold no processes itself (as when a runtime or systemd Delegate= leaves it empty).
        var parent = own;
        foreach (var part in group.Split('/'))
        {
            var enabled = ReadWords(parent, "cgroup.subtree_control");
            if (!wanted.All(enabled.Contains))
            {
                if (parent == own && own != Mount && File.ReadAllText(Path.Join(own, "cgroup.procs")).Trim().Length > 0)
                    return Fail($"cannot enable {string.Join(' ', wanted)} below {own}: it holds processes (cgroup v2 allows controllers only below an empty group; move the gateway into a leaf such as {own}/gateway)", out problem);
                Write(parent, "cgroup.subtree_control", string.Join(' ', wanted.Select(c => "+" + c)));
            }
            parent = Path.Join(parent, part);
            if (!Directory.Exists(parent))
            {
                Directory.CreateDirectory(parent);
                created.Add(parent);
            }
        }
        if (memoryBytes > 0)
        {
            Write(parent, "memory.max", memoryBytes.ToString());
            TryWrite(parent, "memory.swap.max", "0"); // absent without swap accounting
        }
        if (pidsMax > 0)
            Write(parent, "pids.max", pidsMax.ToString());
        if (cpus > 0 && wanted.Contains("cpu"))
            Write(parent, "cpu.max", $"{CpuQuotaUs(cpus)} {CpuPeriodUs}");
        return new CgroupLimits(CgroupMode.V2, [parent], parent, parent);
    }

    private static CgroupLimits? Fail(string message, out string? problem)
    {
        problem = message;
        return null;
    }

    // The kernel's minimum quota is 1 ms per period.
    private static long CpuQuotaUs(double cpus) => Math.Max(1_000, (long)(cpus * CpuPeriodUs));

    /// <summary>Relative, non-empty segments only: the name becomes a path under our own cgroup.</summary>
    private static string? CheckName(string group) =>
        group.Length == 0 || group.StartsWith('/') || group.Split('/').Any(s => s is "" or "." or "..")
            ? $"invalid cgroup name '{group}': use relative segments like 'agw-1a2b/sb-42'"
            : null;

    private static IEnumerable<string> OwnDirectories(CgroupMode mode) => mode switch
    {
        CgroupMode.V1 => V1Controllers.Select(OwnDirectory).OfType<string>(),
        CgroupMode.V2 => [OwnDirectory(null)!],
        _ => [],
    };
}
