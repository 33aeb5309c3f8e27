using System.Buffers.Binary;
using AgenticGateway.GuestAgent.Contexts;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Files;

/// <summary>
/// An <c>fs.watch</c>: inotify on a directory (and, recursive, on every directory below it, including those created
/// later), reported as one <c>fs_event</c> per change until the request is cancelled or the directory goes away. The
/// operations are fsnotify's, which E2B's envd reports: create (also moved in), write, remove, rename (moved out),
/// chmod (attributes). Loop thread only: the inotify descriptor sits in the agent's epoll set like a pipe.
/// </summary>
internal sealed class DirectoryWatch(Agent agent, long id, string root, string display, bool recursive) : ICancellable
{
    /// <summary>Directories watched at most per request: each costs a kernel watch out of the user's budget.</summary>
    public const int MaxDirectories = 8192;

    private const uint Mask = Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_MODIFY | Libc.IN_DELETE | Libc.IN_MOVED_FROM
        | Libc.IN_ATTRIB | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR | Libc.IN_DONT_FOLLOW;

    private readonly Dictionary<int, string> _directories = [];      // watch descriptor -> path relative to the root ("" for it)
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _fd = -1;
    private bool _ended;

    public void Start()
    {
        _fd = Libc.inotify_init1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (_fd < 0) throw ErrnoException.Last("inotify_init1");
        try
        {
            Add(root, "");
            if (recursive) AddBelow(root, "");
        }
        catch
        {
            Libc.close(_fd);
            throw;
        }
        var w = agent.Events.Begin(id, "start");
        w.WriteString("path", display);
        agent.Events.End();
        _ = ReadAsync();
    }

    public void Cancel() => End();

    private void Add(string path, string relative)
    {
        if (_directories.Count >= MaxDirectories) return;
        var wd = Libc.inotify_add_watch(_fd, path, Mask);
        if (wd < 0)
        {
            // The root must be watchable; a subdirectory that vanished (or cannot be read) in between is skipped.
            if (relative.Length == 0) throw ErrnoException.Last(display);
            return;
        }
        _directories[wd] = relative;
    }

    private void AddBelow(string path, string relative)
    {
        foreach (var name in ListDirectories(path))
        {
            var sub = PathResolver.Join(path, name);
            var rel = relative.Length == 0 ? name : relative + "/" + name;
            Add(sub, rel);
            AddBelow(sub, rel);
        }
    }

    private static List<string> ListDirectories(string path)
    {
        var names = new List<string>();
        var fd = Libc.open(path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0) return names;
        try
        {
            foreach (var name in DirectoryFds.Names(fd))
                if (Libc.FStatAt(fd, name, out var st, Libc.AT_SYMLINK_NOFOLLOW) == 0 && st.IsDirectory) names.Add(name);
        }
        finally { Libc.close(fd); }
        return names;
    }

    private async Task ReadAsync()
    {
        while (!_ended)
        {
            var n = Fd.TryRead(_fd, _buffer);
            if (n < 0)
            {
                await agent.Loop.WaitReadableAsync(_fd);
                continue;
            }
            if (n == 0) break;
            Dispatch(_buffer.AsSpan(0, n));
        }
        End();
    }

    private void Dispatch(ReadOnlySpan<byte> events)
    {
        while (events.Length >= 16 && !_ended)
        {
            var wd = BinaryPrimitives.ReadInt32LittleEndian(events);
            var mask = BinaryPrimitives.ReadUInt32LittleEndian(events[4..]);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(events[12..]);
            var rawName = events.Slice(16, length);
            var zero = rawName.IndexOf((byte)0);
            var name = FileNames.Decode(zero >= 0 ? rawName[..zero] : rawName);
            events = events[(16 + length)..];
            if (!_directories.TryGetValue(wd, out var directory)) continue;
            if ((mask & Libc.IN_IGNORED) != 0)
            {
                _directories.Remove(wd);
                if (directory.Length == 0) End();      // the watched directory itself is gone
                continue;
            }
            // Events about a watched directory itself: its parent's watch reports the same change by name.
            if (name.Length == 0) continue;
            var relative = directory.Length == 0 ? name : directory + "/" + name;
            if (recursive && (mask & Libc.IN_ISDIR) != 0 && (mask & (Libc.IN_CREATE | Libc.IN_MOVED_TO)) != 0)
            {
                var path = PathResolver.Join(root, relative);
                Add(path, relative);
                AddBelow(path, relative);
            }
            // fsnotify's order for an event carrying several operations.
            if ((mask & (Libc.IN_CREATE | Libc.IN_MOVED_TO)) != 0) Send(relative, "create");
            if ((mask & (Libc.IN_MOVED_FROM | Libc.IN_MOVE_SELF)) != 0) Send(relative, "rename");
            if ((mask & Libc.IN_ATTRIB) != 0) Send(relative, "chmod");
            if ((mask & Libc.IN_MODIFY) != 0) Send(relative, "write");
            if ((mask & (Libc.IN_DELETE | Libc.IN_DELETE_SELF)) != 0) Send(relative, "remove");
        }
    }

    private void Send(string name, string op)
    {
        var w = agent.Events.Begin(id, "fs_event");
        w.WriteString("name", Text.Safe(name));
        w.WriteString("op", op);
        agent.Events.End();
    }

    private void End()
    {
        if (_ended) return;
        _ended = true;
        agent.Loop.Forget(_fd);
        Libc.close(_fd);
        agent.Cancellable.Remove(id);
        agent.Events.Done(id);
    }
}
