using System.IO.MemoryMappedFiles;

namespace AgenticGateway.Spend;

/// <summary>
/// A write-ahead segment file mapped into memory: appending a batch is a copy into the page cache, where write(2) was
/// a system call per batch (about 11% of the gateway's CPU at full load, since under load most batches carry one or
/// two records). The guarantee is the same: what is copied is in the kernel's page cache at once, so it survives the
/// process being killed (as written data did, neither is fsynced). The file's blocks are reserved when it is created
/// (fallocate), so a full disk fails the creation with an IOException instead of a write into the mapping faulting
/// (SIGBUS) later. Closing truncates the file to what was written; a segment of a killed process keeps its zeroed
/// tail, which <see cref="SpendWal.Read"/> stops at.
/// </summary>
internal sealed unsafe class MappedSegment : IDisposable
{
    /// <summary>A segment's size unless a batch needs more: the database writer empties it every 50 ms or so.</summary>
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

    /// <summary>Creates the file (user-only) with <paramref name="capacity"/> bytes reserved, and maps it.</summary>
    public static MappedSegment Create(string path, long capacity)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Read | FileShare.Delete, BufferSize = 0,
            PreallocationSize = capacity,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var file = new FileStream(path, options);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            file.SetLength(capacity);
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
            throw;
        }
    }

    /// <summary>Copies <paramref name="bytes"/> after what the segment holds; false (nothing copied) when they do not fit.</summary>
    public bool TryAppend(ReadOnlySpan<byte> bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (bytes.Length > _capacity - _used) return false;
        bytes.CopyTo(new Span<byte>(_start + _used, bytes.Length));
        _used += bytes.Length;
        return true;
    }

    /// <summary>Unmaps the file and cuts it to what was written.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        try { _file.SetLength(_used); }
        finally { _file.Dispose(); }
    }
}
