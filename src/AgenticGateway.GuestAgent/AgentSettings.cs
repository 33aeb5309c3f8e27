namespace AgenticGateway.GuestAgent;

/// <summary>
/// The agent's configuration, from its environment: AGW_FS_ROOTS (colon-separated writable roots,
/// default /home/user:/tmp), AGW_HOME (base of relative paths and default cwd, default /home/user), AGW_PYTHON /
/// AGW_NODE / AGW_BASH (interpreters), AGW_USER (<c>UID:GID</c>: the sandbox's user, whom a root agent starts
/// processes and does file ops as; the microVM image's init sets it, see <see cref="Native.SandboxUser"/>), plus the
/// directory holding pykernel.py and nodekernel.js.
/// </summary>
internal sealed class AgentSettings
{
    public required IReadOnlyList<string> Roots { get; init; }
    public required string Home { get; init; }
    public required string Python { get; init; }
    public required string Node { get; init; }
    public required string Bash { get; init; }
    public required string GuestDirectory { get; init; }
    public (int Uid, int Gid)? User { get; init; }

    /// <summary>The agent's own environment, which every child starts from.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    public static AgentSettings FromEnvironment(string? guestDirectory)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        string Get(string name, string fallback) => env.TryGetValue(name, out var v) && v.Length > 0 ? v : fallback;
        var roots = new List<string>();
        foreach (var r in Get("AGW_FS_ROOTS", "/home/user:/tmp").Split(':'))
        {
            if (r.Length == 0) continue;
            var real = Files.PathResolver.RealPath(r);
            if (!roots.Contains(real)) roots.Add(real);
        }
        return new AgentSettings
        {
            Roots = roots,
            Home = Get("AGW_HOME", "/home/user"),
            Python = Get("AGW_PYTHON", "/usr/bin/python3"),
            Node = Get("AGW_NODE", "/usr/bin/node"),
            Bash = Get("AGW_BASH", "/bin/bash"),
            GuestDirectory = guestDirectory ?? Get("AGW_GUEST_DIR", AppContext.BaseDirectory.TrimEnd('/')),
            User = ParseUser(Get("AGW_USER", "")),
            Environment = env,
        };
    }

    /// <summary>AGW_USER: empty (no user to switch to) or <c>UID:GID</c>, both positive (root is no sandbox user).</summary>
    private static (int, int)? ParseUser(string value)
    {
        if (value.Length == 0) return null;
        var parts = value.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[0], System.Globalization.NumberStyles.None, null, out var uid) && uid > 0
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out var gid) && gid > 0)
            return (uid, gid);
        throw new ArgumentException($"AGW_USER must be UID:GID (positive numbers), not '{value}'");
    }

    /// <summary>The environment for a child: the agent's, with <paramref name="overrides"/> applied, as KEY=VALUE strings.</summary>
    public List<string> ChildEnvironment(IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var env = new Dictionary<string, string>(Environment, StringComparer.Ordinal);
        foreach (var (k, v) in overrides) env[k] = v;
        return env.Select(kv => kv.Key + "=" + kv.Value).ToList();
    }
}
