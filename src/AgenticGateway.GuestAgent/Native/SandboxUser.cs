using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>Whom a request acts for: the protocol's optional <c>"user"</c>, <c>"user"</c> (the default) or <c>"root"</c>.</summary>
internal enum RunAs
{
    User,
    Root,
}

/// <summary>
/// The sandbox's user (<c>user</c>; uid and gid 1000 in the image's /etc/passwd, as bubblewrap's <c>--uid 1000</c>)
/// and how the agent acts as it. In a microVM the agent is root (it mounts, sets the clock, serves
/// <c>"user": "root"</c>), and what it starts or writes for a request must not be: children are spawned and file ops
/// run with the calling thread's credentials switched to the user's. Linux keeps credentials per thread; the raw
/// system calls change only the calling thread's (glibc's wrappers would change every thread's), so the rest of the
/// agent stays root meanwhile. The image's init names the user (<c>AGW_USER=UID:GID</c>, <see cref="AgentSettings"/>);
/// without it, or in a bubblewrap sandbox, where the agent already is that user and has no privilege to switch,
/// nothing switches, and <c>root</c> is the same user, since a sandbox is never root on the host.
/// </summary>
internal static unsafe class SandboxUser
{
    public const string Name = "user";

    /// <summary>True once <see cref="Configure"/> found a user to switch to and the privilege to: only then does anything switch.</summary>
    public static bool Active { get; private set; }
    public static int Uid { get; private set; } = -1;
    public static int Gid { get; private set; } = -1;
    private static string s_home = "/home/user";

    /// <summary>The supplementary groups the agent started with, restored after a switch.</summary>
    private static uint[] s_agentGroups = [];

    /// <summary>At start, before the first request: the user (<c>AGW_USER</c>) and its home.</summary>
    public static void Configure((int Uid, int Gid)? user, string home)
    {
        if (user is not { } u || Libc.geteuid() != 0) return;
        (Uid, Gid, s_home) = (u.Uid, u.Gid, home);
        s_agentGroups = ReadGroups();
        Active = true;
    }

    /// <summary>The request's <c>user</c>: absent or <c>"user"</c> is the user, <c>"root"</c> root; anything else is <c>invalid</c>.</summary>
    public static RunAs From(Request req) => req.String("user", required: false) switch
    {
        null or Name => RunAs.User,
        "root" => RunAs.Root,
        var other => throw OpError.Invalid($"user must be '{Name}' or 'root', not '{Text.Safe(other.Length > 64 ? other[..64] : other)}'"),
    };

    /// <summary>True when acting for <paramref name="who"/> means leaving root: a privileged agent acting for the user.</summary>
    public static bool Switches(RunAs who) => Active && who == RunAs.User;

    /// <summary>
    /// HOME, USER and LOGNAME for a child of <paramref name="who"/> in a microVM, to go before the request's own env
    /// (which overrides them). Empty in a bubblewrap sandbox: bwrap gives the agent the user's, which children inherit.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> Environment(RunAs who)
    {
        if (!Active) return [];
        return who == RunAs.User
            ? [new("HOME", s_home), new("USER", Name), new("LOGNAME", Name)]
            : [new("HOME", "/root"), new("USER", "root"), new("LOGNAME", "root")];
    }

    /// <summary>
    /// Switches the calling thread to the user for a <c>posix_spawn</c>: no supplementary groups, real and effective
    /// gid and uid 1000, saved ids still 0 so that <see cref="ThreadCredentials.Dispose"/> can switch back. The child
    /// gets the thread's credentials, and its execve copies the effective ids over the saved ones, so the program runs
    /// with all three ids 1000 and no capabilities; only glibc's spawn code runs in between. Does nothing when
    /// <paramref name="who"/> needs no switch.
    /// </summary>
    public static ThreadCredentials BecomeForSpawn(RunAs who)
    {
        if (!Switches(who)) return default;
        if (Libc.ThreadSetGroups(0, null) < 0) throw ErrnoException.Last("setgroups");
        if (Libc.ThreadSetResGid(Gid, Gid, 0) < 0)
        {
            var e = ErrnoException.Last("setresgid");
            RestoreGroups();
            throw e;
        }
        if (Libc.ThreadSetResUid(Uid, Uid, 0) < 0)
        {
            var e = ErrnoException.Last("setresuid");
            if (Libc.ThreadSetResGid(0, 0, 0) < 0) Fatal("setresgid");
            RestoreGroups();
            throw e;
        }
        return new ThreadCredentials(spawn: true);
    }

    /// <summary>
    /// Switches the calling thread's file system ids (fsuid, fsgid) to the user's for a file op: what it creates is
    /// the user's, and it may touch only what the user may, exactly as the user's own processes. Effective ids stay
    /// root, so the thread can switch back. Does nothing when <paramref name="who"/> needs no switch.
    /// </summary>
    public static ThreadCredentials BecomeForFiles(RunAs who)
    {
        if (!Switches(who)) return default;
        Libc.ThreadSetFsGid(Gid);
        Libc.ThreadSetFsUid(Uid);
        return new ThreadCredentials(spawn: false);
    }

    /// <summary>The calling thread's credentials while switched; disposing switches back to the agent's (root's).</summary>
    public readonly struct ThreadCredentials(bool spawn) : IDisposable
    {
        private readonly bool _switched = true;

        public void Dispose()
        {
            if (!_switched) return;
            if (spawn)
            {
                // uid first: only as root again may the thread set its gids and groups.
                if (Libc.ThreadSetResUid(0, 0, 0) < 0) Fatal("setresuid");
                if (Libc.ThreadSetResGid(0, 0, 0) < 0) Fatal("setresgid");
                RestoreGroups();
            }
            else
            {
                Libc.ThreadSetFsUid(0);
                Libc.ThreadSetFsGid(0);
            }
        }
    }

    private static void RestoreGroups()
    {
        fixed (uint* g = s_agentGroups)
            if (Libc.ThreadSetGroups(s_agentGroups.Length, g) < 0) Fatal("setgroups");
    }

    /// <summary>A thread of the agent that cannot become root again would serve the next request as the wrong user.</summary>
    private static void Fatal(string call) =>
        System.Environment.FailFast($"agw-agent: {call} back to root failed: {Libc.StrError(Libc.Errno)}");

    private static uint[] ReadGroups()
    {
        var n = Libc.ThreadGetGroups(0, null);
        if (n <= 0) return [];
        var groups = new uint[n];
        fixed (uint* g = groups)
            n = Libc.ThreadGetGroups(n, g);
        return n < 0 ? [] : groups[..n];
    }
}
