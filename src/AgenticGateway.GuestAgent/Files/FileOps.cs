using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Files;

/// <summary>
/// The <c>fs.*</c> ops (docs/sandbox-agent-protocol.md, Files). They block on the file system, so they run on pool
/// threads, never on the loop; every path goes through <see cref="PathResolver"/>.
/// </summary>
internal sealed unsafe class FileOps(PathResolver paths, EventSink events)
{
    public const int ReadMax = 4 << 20, WriteChunkMax = 8 << 20, ListMax = 100_000;

    public void Stat(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        paths.Resolve(p, req.Bool("anywhere"));
        var display = paths.Display(p);
        var a = paths.Absolute(p).TrimEnd('/');
        if (a.Length == 0) a = "/";
        var (head, name) = PathResolver.Split(a);
        var entry = name is "" or "." or ".." ? PathResolver.RealPath(a) : PathResolver.Join(PathResolver.RealPath(head), name);
        if (Libc.FStatAt(Libc.AT_FDCWD, entry, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw ErrnoException.Last(entry);
        var target = st.IsSymlink ? PathResolver.ReadLink(entry) : null;
        var w = events.Begin(id, "done");
        w.WritePropertyName("entry");
        var shown = PathResolver.Split(display).Name;
        WriteEntry(w, shown.Length == 0 ? "/" : shown, display, st, target);
        events.End();
    }

    public void List(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        var depth = (int)(req.Int("depth", 1, 64) ?? 1);
        var anywhere = req.Bool("anywhere");
        var real = paths.Resolve(p, anywhere);
        var display = paths.Display(p);
        int fd;
        try { fd = paths.OpenChecked(real, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW, anywhere: anywhere); }
        catch (ErrnoException e) when (e.Errno == Libc.ENOTDIR) { throw OpError.Invalid($"{p.Value} is not a directory"); }
        var entries = new List<(string Name, string Path, Libc.Stat Stat, string? Target)>();
        var truncated = false;
        try { Walk(fd, display, 1); }
        finally { Libc.close(fd); }
        entries.Sort((x, y) => string.CompareOrdinal(x.Path, y.Path));
        var w = events.Begin(id, "done");
        w.WriteStartArray("entries");
        foreach (var e in entries) WriteEntry(w, e.Name, e.Path, e.Stat, e.Target);
        w.WriteEndArray();
        if (truncated) w.WriteBoolean("truncated", true);
        events.End();

        void Walk(int dirFd, string dirPath, int level)
        {
            foreach (var name in DirectoryFds.Names(dirFd))
            {
                if (entries.Count >= ListMax)
                {
                    truncated = true;
                    return;
                }
                if (Libc.FStatAt(dirFd, name, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) continue;
                string? target = null;
                if (st.IsSymlink && (target = PathResolver.ReadLink(name, dirFd)) is null) continue;
                var path = dirPath.TrimEnd('/') + "/" + name;
                entries.Add((name, path, st, target));
                if (level < depth && st.IsDirectory)
                {
                    var sub = Libc.openat(dirFd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (sub < 0) continue;
                    try { Walk(sub, path, level + 1); }
                    finally { Libc.close(sub); }
                }
            }
        }
    }

    public void Read(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        var anywhere = req.Bool("anywhere");
        var real = paths.Resolve(p, anywhere);
        var offset = req.Int("offset", 0) ?? 0;
        var length = (int)Math.Min(req.Int("length", 0) ?? 1 << 20, ReadMax);
        var fd = paths.OpenChecked(real, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK, anywhere: anywhere);
        byte[] data;
        Libc.Stat st;
        var got = 0;
        try
        {
            if (Libc.FStatAt(fd, "", out st, Libc.AT_EMPTY_PATH) < 0) throw ErrnoException.Last(real);
            if (st.IsDirectory) throw OpError.Invalid($"{p.Value} is a directory");
            if (!st.IsRegular) throw OpError.Invalid($"{p.Value} is not a regular file");
            data = new byte[Math.Max(0, Math.Min(length, st.Size - offset))];
            fixed (byte* b = data)
            {
                while (got < data.Length)
                {
                    var n = Libc.pread(fd, b + got, data.Length - got, offset + got);
                    if (n < 0) throw ErrnoException.Last(real);
                    if (n == 0) break;
                    got += (int)n;
                }
            }
        }
        finally
        {
            Libc.close(fd);
        }
        var w = events.Begin(id, "done");
        w.WriteBase64String("data_b64", data.AsSpan(0, got));
        w.WriteNumber("size", st.Size);
        w.WriteBoolean("eof", offset + got >= st.Size);
        events.End();
    }

    public void Write(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        var real = paths.Resolve(p);
        var (parent, name) = PathResolver.Split(real);
        if (name.Length == 0 || paths.IsRoot(real)) throw OpError.Invalid($"{p.Value} is not a file path");
        var token = req.String("upload")!;
        var offset = req.Int("offset", 0) ?? 0;
        var final = req.Bool("final");
        var b64 = "";
        if (req.Get("data_b64") is { } v)
        {
            if (v.ValueKind != JsonValueKind.String) throw OpError.Invalid("data_b64 must be a string");
            b64 = v.GetString()!;
        }
        if (b64.Length > (WriteChunkMax / 3 + 1) * 4) throw new OpError(AgentErrors.TooLarge, $"a chunk may hold at most {WriteChunkMax} bytes");
        byte[] data;
        try { data = Convert.FromBase64String(b64); }
        catch (FormatException) { throw OpError.Invalid("data_b64 is not valid base64"); }
        if (offset == 0) DirectoryFds.MakeDirectories(parent);
        int pfd;
        try { pfd = paths.OpenDirectory(parent); }
        catch (ErrnoException e) when (e.Errno == Libc.ENOENT) { throw new OpError(AgentErrors.NotFound, $"{p.Value}: parent directory does not exist"); }
        try
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{token}\0{name}")))[..20];
            var tmp = ".agw-upload-" + hash;
            var flags = Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | (offset == 0 ? Libc.O_CREAT | Libc.O_TRUNC : 0);
            var fd = Libc.openat(pfd, tmp, flags, 438);
            if (fd < 0)
            {
                if (Libc.Errno == Libc.ENOENT) throw OpError.Invalid($"upload {token}: no upload in progress (the first chunk has offset 0)");
                throw ErrnoException.Last(tmp);
            }
            try
            {
                if (Libc.FStatAt(fd, "", out var st, Libc.AT_EMPTY_PATH) < 0) throw ErrnoException.Last(tmp);
                if (st.Size != offset) throw OpError.Invalid($"upload {token}: the next chunk has offset {st.Size}, not {offset}");
                fixed (byte* b = data)
                {
                    var done = 0;
                    while (done < data.Length)
                    {
                        var n = Libc.pwrite(fd, b + done, data.Length - done, offset + done);
                        if (n < 0) throw ErrnoException.Last(p.Value);
                        done += (int)n;
                    }
                }
                if (final && Libc.FStatAt(pfd, name, out var old, Libc.AT_SYMLINK_NOFOLLOW) == 0 && old.IsRegular)
                    Libc.fchmod(fd, (int)(old.Mode & 0xFFF));
            }
            finally
            {
                Libc.close(fd);
            }
            if (final && Libc.renameat(pfd, tmp, pfd, name) < 0)
            {
                if (Libc.Errno == Libc.EISDIR) throw new OpError(AgentErrors.Exists, $"{p.Value} is a directory");
                throw ErrnoException.Last(p.Value);
            }
        }
        finally
        {
            Libc.close(pfd);
        }
        var w = events.Begin(id, "done");
        w.WriteNumber("size", offset + data.Length);
        events.End();
    }

    public void MakeDirectory(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        var real = paths.Resolve(p);
        // exclusive: the caller wants to know whether it created the directory (E2B's makeDir answers false otherwise).
        if (req.Bool("exclusive") && Libc.FStatAt(Libc.AT_FDCWD, real, out var existing, 0) == 0)
            throw existing.IsDirectory ? new OpError(AgentErrors.Exists, $"directory {p.Value} exists")
                : OpError.Invalid($"{p.Value} exists and is not a directory");
        try
        {
            DirectoryFds.MakeDirectories(real);
            Libc.close(paths.OpenDirectory(real));
        }
        catch (ErrnoException e) when (e.Errno is Libc.EEXIST or Libc.ENOTDIR)
        {
            throw new OpError(AgentErrors.Exists, $"{p.Value} exists and is not a directory");
        }
        events.Done(id);
    }

    public void Move(long id, Request req)
    {
        var src = JsonPath.From(req, "from");
        var dst = JsonPath.From(req, "to");
        paths.Resolve(src);
        var (sparent, sname) = paths.ResolveEntry(src);
        var (dparent, dname) = paths.ResolveEntry(dst);
        var sfd = paths.OpenDirectory(sparent);
        try
        {
            var dfd = paths.OpenDirectory(dparent);
            try
            {
                DirectoryFds.LStat(sfd, sname);
                if (Libc.renameat(sfd, sname, dfd, dname) < 0)
                {
                    if (Libc.Errno != Libc.EXDEV) throw ErrnoException.Last(src.Value);
                    // Another file system (e.g. /home/user -> /tmp): copy, then delete.
                    if (Libc.FStatAt(dfd, dname, out var existing, Libc.AT_SYMLINK_NOFOLLOW) == 0)
                    {
                        if (existing.IsDirectory) throw new OpError(AgentErrors.Exists, $"{dst.Value} is a directory");
                        Libc.unlinkat(dfd, dname, 0);
                    }
                    DirectoryFds.Copy(sfd, sname, dfd, dname);
                    DirectoryFds.RemoveTree(sfd, sname);
                }
            }
            finally { Libc.close(dfd); }
        }
        finally { Libc.close(sfd); }
        events.Done(id);
    }

    public void Remove(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        paths.Resolve(p);
        var (parent, name) = paths.ResolveEntry(p);
        var pfd = paths.OpenDirectory(parent);
        try { DirectoryFds.RemoveTree(pfd, name); }
        finally { Libc.close(pfd); }
        events.Done(id);
    }

    private static void WriteEntry(Utf8JsonWriter w, string name, string path, Libc.Stat st, string? target)
    {
        w.WriteStartObject();
        w.WriteString("name", Text.Safe(name));
        w.WriteString("path", Text.Safe(path));
        w.WriteString("type", st.IsRegular ? "file" : st.IsDirectory ? "dir" : st.IsSymlink ? "symlink" : "other");
        w.WriteNumber("size", st.Size);
        w.WriteString("mode", Convert.ToString(st.Mode & 0xFFF, 8).PadLeft(4, '0'));
        w.WriteNumber("uid", st.Uid);
        w.WriteNumber("gid", st.Gid);
        JsonNumbers.WriteFloat(w, "mtime", st.MTimeSec + st.MTimeNsec / 1e9);
        if (target is not null) w.WriteString("symlink_target", Text.Safe(target));
        w.WriteEndObject();
    }
}
