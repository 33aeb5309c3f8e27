using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AgenticGateway.Storage;

/// <summary>
/// The gateway's exclusive hold on its data directory, for as long as it runs. Everything keyed by the directory is
/// its alone: the SQLite database, the spend write-ahead log (a second gateway would replay it and count spend twice)
/// and the sandboxes' host state (a second gateway would reap the first one's live sandboxes as leftovers of a crash).
/// <para>
/// The lock is flock(2) on <c>gateway.lock</c>, taken by opening it with <see cref="FileShare.None"/> (.NET on Unix
/// locks so): it belongs to the open file, so it also excludes a second gateway in the same process, and the kernel
/// drops it when the process ends however it ends, so a crash never leaves a stale lock behind.
/// </para>
/// </summary>
internal sealed partial class DataDirectoryLock : IDisposable
{
    public const string FileName = "gateway.lock";
    // How .NET reports the lock held elsewhere: flock's errno on Linux (EWOULDBLOCK), ERROR_SHARING_VIOLATION on Windows.
    private const int WouldBlock = 11, SharingViolation = unchecked((int)0x80070020);
    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file, string directory)
    {
        _file = file;
        Directory = directory;
    }

    /// <summary>The data directory's full path.</summary>
    public string Directory { get; }

    /// <summary>
    /// Locks <paramref name="directory"/> (creating it) or throws <see cref="DataDirectoryInUseException"/>, or
    /// <see cref="DataDirectoryUnusableException"/> when it cannot be created or written.
    /// </summary>
    public static DataDirectoryLock Acquire(string directory)
    {
        var full = Path.GetFullPath(directory);
        try { return AcquireCore(full); }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException && ex is not DataDirectoryInUseException)
        {
            throw new DataDirectoryUnusableException(full, ex);
        }
    }

    private static DataDirectoryLock AcquireCore(string full)
    {
        // Spend, audit and key hashes are the operator's: a directory the gateway makes is its user's alone. One the
        // operator made (a container volume) keeps its mode.
        if (!System.IO.Directory.Exists(full))
        {
            if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(full);
            else System.IO.Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var path = Path.Join(full, FileName);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex.HResult is WouldBlock or SharingViolation)
        {
            throw new DataDirectoryInUseException(full, Holder(path));
        }
        // Whose it is, for the message a second gateway gives.
        file.SetLength(0);
        file.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
        file.Flush(flushToDisk: true);
        return new DataDirectoryLock(file, full);
    }

    /// <summary>The pid the holder wrote, if it can be read. Opened with open(2): .NET's own open would try to lock it.</summary>
    private static int? Holder(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var fd = open(path, ReadOnly | CloseOnExec);
        if (fd < 0) return null;
        using var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
        using var reader = new StreamReader(stream);
        return int.TryParse(reader.ReadLine(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    public void Dispose() => _file.Dispose();

    private const int ReadOnly = 0, CloseOnExec = 0x80000;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}

/// <summary>Another gateway holds the data directory: this one must not start on it.</summary>
internal sealed class DataDirectoryInUseException(string directory, int? holder) : IOException(
    $"the data directory {directory} is in use by another gateway{(holder is { } pid ? $" (pid {pid})" : "")}. Two gateways on one " +
    "data directory would replay each other's spend log and reap each other's sandboxes: stop the other one, or give " +
    "this one its own directory (storage.data_dir or AGW_DATA_DIR).")
{
    public string DataDirectory { get; } = directory;
    public int? Holder { get; } = holder;
}

/// <summary>The data directory cannot be created or written (a read-only mount, a file in its path, no permission).</summary>
internal sealed class DataDirectoryUnusableException(string directory, Exception inner) : IOException(
    $"the data directory {directory} cannot be created or written ({inner.Message.TrimEnd('.')}). Give the gateway a " +
    "writable directory with storage.data_dir or AGW_DATA_DIR.", inner)
{
    public string DataDirectory { get; } = directory;
}
