namespace AgenticGateway.GuestAgent.Native;

/// <summary>Signals to process groups (every child of the agent leads its own), and the /proc scans the agent needs.</summary>
internal static class ProcessGroups
{
    public static void Kill(int pgid, int sig = Libc.SIGKILL)
    {
        if (pgid > 0) Libc.kill(-pgid, sig);
    }

    /// <summary>Whether group <paramref name="pgid"/> has a process left (zombies too: their pids count until reaped).</summary>
    public static bool Alive(int pgid) => Libc.kill(-pgid, 0) == 0 || Libc.Errno != Libc.ESRCH;

    /// <summary>
    /// SIGKILLs every live process of group <paramref name="pgid"/> but <paramref name="keep"/> (a shell that must survive);
    /// repeated until a pass finds none, so what a fork bomb forks meanwhile is caught by the next pass.
    /// </summary>
    public static void KillAllExcept(int pgid, int keep)
    {
        for (var pass = 0; pass < 200; pass++)
        {
            var found = false;
            foreach (var (pid, state, _, group) in Scan())
            {
                if (pid == keep || state == 'Z' || group != pgid) continue;
                Libc.kill(pid, Libc.SIGKILL);
                found = true;
            }
            if (!found) return;
        }
    }

    /// <summary>Every process in /proc: pid, state, parent and process group.</summary>
    public static IEnumerable<(int Pid, char State, int Parent, int Group)> Scan()
    {
        string[] entries;
        try { entries = Directory.GetDirectories("/proc"); }
        catch (IOException) { yield break; }
        catch (UnauthorizedAccessException) { yield break; }
        foreach (var dir in entries)
        {
            var name = dir.AsSpan(6);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(dir + "/stat"); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length) continue;
            var fields = stat[(close + 2)..].Split(' ', 4);
            if (fields.Length < 4 || !int.TryParse(fields[1], out var parent) || !int.TryParse(fields[2], out var group)) continue;
            yield return (pid, fields[0][0], parent, group);
        }
    }
}
