using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace AgenticGateway.Spend;

/// <summary>One write-ahead segment file being appended to.</summary>
internal interface IWalSegment : IDisposable
{
    string Path { get; }

    /// <summary>Adds <paramref name="bytes"/> after what the segment holds; false (nothing added) when they do not fit.</summary>
    bool TryAppend(ReadOnlySpan<byte> bytes);
}

/// <summary>
/// A write-ahead segment file mapped into memory: appending a batch is a copy into the page cache, where write(2) was
/// a system call per batch (about 11% of the gateway's CPU at full load, since under load most batches carry one or
/// two records). The guarantee is the same: what is copied is in the kernel's page cache at once, so it survives the
/// process being killed (as written data did; neither is fsynced). The file's blocks are allocated when it is created
/// (fallocate(2)): a copy into a page with no block behind it would kill the process (SIGBUS) on a full disk or quota,
/// so where the file system cannot allocate up front, <see cref="TryCreate"/> says no and the caller writes instead
/// (<see cref="WrittenSegment"/>). Closing unmaps without a flush and truncates the file to what was written; a
/// segment of a killed process keeps its zeroed tail, where <see cref="SpendWal.Read"/> stops.
/// </summary>
internal sealed unsafe partial class MappedSegment : IWalSegment
{
    /// <summary>A segment's size unless a batch needs more; the database writer usually empties it well before it fills.</summary>
    public const int DefaultCapacity = 4 * 1024 * 1024;

    private readonly FileStream _file;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _start;
    private readonly long _capacity;
    private long _used;
    private bool _disposed;

    private MappedSegment(string path, FileStream file, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* start, long capacity)
    {
        Path = path;
        _file = file;
        _map = map;
        _view = view;
        _start = start;
        _capacity = capacity;
    }

    public string Path { get; }

    /// <summary>
    /// Creates the file (user-only), allocates <paramref name="capacity"/> bytes of disk for it and maps it; null, with
    /// no file left behind, when the file system cannot allocate up front (not Linux, or fallocate(2) unsupported).
    /// </summary>
    /// <exception cref="IOException">The disk or quota is full, or the file cannot be created.</exception>
    public static MappedSegment? TryCreate(string path, long capacity)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Read | FileShare.Delete, BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var file = new FileStream(path, options);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            // fallocate(2) itself, not FileStreamOptions.PreallocationSize: that ignores every failure but ENOSPC and
            // EFBIG, so an unsupported file system or a full quota (EDQUOT) would leave a sparse file behind the mapping.
            if (Fallocate(file.SafeFileHandle, 0, 0, capacity) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Enospc or Edquot or Efbig) throw new IOException($"no disk space for a spend write-ahead segment ({Marshal.GetPInvokeErrorMessage(errno)})");
                file.Dispose();
                File.Delete(path);
                return null;
            }
            map = MemoryMappedFile.CreateFromFile(file, null, capacity, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, capacity, MemoryMappedFileAccess.ReadWrite);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            return new MappedSegment(path, file, map, view, start + view.PointerOffset, capacity);
        }
        catch
        {
            view?.Dispose();
            map?.Dispose();
            file.Dispose();
            try { File.Delete(path); } catch (IOException) { }
            throw;
        }
    }

    private const int Enospc = 28, Edquot = 122, Efbig = 27;

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeHandle fd, int mode, long offset, long length);

    public bool TryAppend(ReadOnlySpan<byte> bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (bytes.Length > _capacity - _used) return false;
        bytes.CopyTo(new Span<byte>(_start + _used, bytes.Length));
        _used += bytes.Length;
        return true;
    }

    /// <summary>Unmaps the file (no flush: the pages stay in the page cache) and cuts it to what was written.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            // The accessor's own Dispose flushes the whole view first (msync(MS_SYNC)): a synchronous disk write, under
            // the write-ahead log's lock, of what the database writer is about to delete anyway. Unmapping does not.
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.SafeMemoryMappedViewHandle.Dispose();
        }
        finally
        {
            try { _view.Dispose(); }
            finally
            {
                try { _map.Dispose(); }
                finally
                {
                    // An untruncated segment reads the same (the reader stops at its zeroed tail): a failure here loses nothing.
                    try { _file.SetLength(_used); } catch (IOException) { }
                    _file.Dispose();
                }
            }
        }
    }
}

/// <summary>A write-ahead segment appended with write(2): where a file cannot be allocated up front to be mapped.</summary>
internal sealed class WrittenSegment : IWalSegment
{
    private readonly FileStream _file;

    public WrittenSegment(string path)
    {
        Path = path;
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read | FileShare.Delete, BufferSize = 0 };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        _file = new FileStream(path, options);
    }

    public string Path { get; }

    public bool TryAppend(ReadOnlySpan<byte> bytes)
    {
        _file.Write(bytes);
        return true;
    }

    public void Dispose() => _file.Dispose();
}
