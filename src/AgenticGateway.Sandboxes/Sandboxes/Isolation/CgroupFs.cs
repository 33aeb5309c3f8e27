using System.Runtime.InteropServices;
using System.Text;

namespace AgenticGateway.Sandboxes.Isolation;

/// <summary>Reading and writing the cgroup filesystem, and the two libc calls <see cref="CgroupLimits"/> needs.</summary>
internal static partial class CgroupFs
{
    public const string Mount = "/sys/fs/cgroup";
    private const int WriteOk = 2;
    private const int RemoveAttempts = 100;
    private static readonly TimeSpan RemovePause = TimeSpan.FromMilliseconds(20);

    /// <summary>This process's own cgroup directory for a v1 controller, or for v2 when <paramref name="controller"/> is null.</summary>
    public static string? OwnDirectory(string? controller)
    {
        // Lines are "id:controllers:path": "4:memory:/a/b", "2:cpu,cpuacct:/", and "0::/a/b" for v2.
        foreach (var line in File.ReadLines("/proc/self/cgroup"))
        {
            var fields = line.Split(':', 3);
            if (fields.Length < 3)
                continue;
            var matches = controller is null ? fields[0] == "0" && fields[1] == "" : fields[1].Split(',').Contains(controller);
            if (!matches)
                continue;
            var directory = Path.Join(controller is null ? Mount : Path.Join(Mount, controller), fields[2]).TrimEnd('/');
            return Directory.Exists(directory) ? directory : null;
        }
        return null;
    }

    /// <summary>The pids in a group and in every group below it; a group that vanishes meanwhile has none.</summary>
    public static IEnumerable<int> Pids(string directory)
    {
        foreach (var group in SafeSubdirectories(directory, recursive: true).Prepend(directory))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(Path.Join(group, "cgroup.procs"));
            }
            catch (IOException)
            {
                continue; // removed meanwhile
            }
            foreach (var line in lines)
            {
                if (int.TryParse(line, out var pid))
                    yield return pid;
            }
        }
    }

    /// <summary>The groups below a group (none if it is gone).</summary>
    public static IEnumerable<string> SafeSubdirectories(string directory, bool recursive = false)
    {
        try
        {
            return Directory.GetDirectories(directory, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>
    /// Removes a cgroup and any below it, deepest first. rmdir fails with EBUSY until killed tasks have exited: blocks
    /// while it retries (start-up reaping and tests; request paths use <see cref="RemoveTreeAsync"/>).
    /// </summary>
    public static bool RemoveTree(string directory)
    {
        foreach (var child in SafeSubdirectories(directory))
            RemoveTree(child);
        for (var attempt = 0; ; attempt++)
        {
            if (RemovedOrGone(directory))
                return true;
            if (attempt == RemoveAttempts)
                return false;
            Thread.Sleep(RemovePause);
        }
    }

    /// <summary>As <see cref="RemoveTree"/>, waiting between attempts without holding a thread.</summary>
    public static async Task<bool> RemoveTreeAsync(string directory, CancellationToken cancellationToken = default)
    {
        foreach (var child in SafeSubdirectories(directory))
            await RemoveTreeAsync(child, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            if (RemovedOrGone(directory))
                return true;
            if (attempt == RemoveAttempts)
                return false;
            await Task.Delay(RemovePause, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One rmdir: false while the group is busy (its tasks have not all exited yet).</summary>
    private static bool RemovedOrGone(string directory)
    {
        try
        {
            Directory.Delete(directory);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static void TryRemoveEmpty(string directory)
    {
        try
        {
            Directory.Delete(directory);
        }
        catch (IOException)
        {
            // Busy or already gone.
        }
    }

    /// <summary>A number from a cgroup file: the value of "<paramref name="key"/> N", or the whole file when key is null.</summary>
    public static long? Counter(string directory, string file, string? key)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Join(directory, file));
        }
        catch (IOException)
        {
            return null;
        }
        if (key is null)
            return long.TryParse(text.Trim(), out var whole) ? whole : null;
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], out var value))
                return value;
        }
        return null;
    }

    public static HashSet<string> ReadWords(string directory, string file) =>
        [.. File.ReadAllText(Path.Join(directory, file)).Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries)];

    // cgroup files take one write() of the value: open without O_CREAT/O_TRUNC, unbuffered.
    public static void Write(string directory, string file, string value)
    {
        using var stream = new FileStream(Path.Join(directory, file), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        stream.Write(Encoding.ASCII.GetBytes(value));
    }

    public static bool TryWrite(string directory, string file, string value)
    {
        try
        {
            Write(directory, file, value);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static bool Writable(string path) => Access(path, WriteOk) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);
}
