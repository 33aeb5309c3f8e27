using System.Globalization;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>Finding a process's children through /proc (kernels without CONFIG_PROC_CHILDREN have no task/*/children).</summary>
internal static class ProcessTree
{
    /// <summary>A pid whose parent is <paramref name="parent"/> (for a parent with one child), or null if it has none.</summary>
    public static int? OnlyChild(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ParentOf(dir) == parent)
                return pid;
        }
        return null;
    }

    /// <summary>The ppid field of /proc/&lt;pid&gt;/stat, read after the command name (which may hold spaces and parentheses).</summary>
    private static int? ParentOf(string procDirectory)
    {
        string stat;
        try { stat = File.ReadAllText(Path.Join(procDirectory, "stat")); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }      // gone meanwhile
        var fields = stat.AsSpan(stat.LastIndexOf(')') + 1).Trim();
        var afterState = fields[(fields.IndexOf(' ') + 1)..];
        var end = afterState.IndexOf(' ');
        return int.TryParse(end < 0 ? afterState : afterState[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var ppid) ? ppid : null;
    }
}
