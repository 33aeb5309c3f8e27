using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Files;

/// <summary>
/// Confines file ops to the writable roots. A path is resolved (every symlink followed, as Python's os.path.realpath
/// does, missing components kept) and must land in a root; then the descriptor actually opened is checked again
/// through /proc/self/fd, so a symlink swapped in between the check and the open cannot escape; and operations on a
/// directory entry (create, rename, remove) go through an opened, checked parent directory fd and a single name, so
/// no later path walk is involved.
/// </summary>
internal sealed class PathResolver(IReadOnlyList<string> roots, string home)
{
    public IReadOnlyList<string> Roots { get; } = roots;

    public bool InsideRoots(string real)
    {
        foreach (var r in Roots)
            if (real == r || r == "/" || (real.StartsWith(r, StringComparison.Ordinal) && real.Length > r.Length && real[r.Length] == '/'))
                return true;
        return false;
    }

    public bool IsRoot(string path) => Roots.Contains(path);

    /// <summary>The path joined to home (absolute paths stay).</summary>
    public string Absolute(JsonPath p) => p.Value.StartsWith('/') ? p.Value : (home.EndsWith('/') ? home : home + "/") + p.Value;

    /// <summary>The path as shown in answers: absolute and normalized (not resolved).</summary>
    public string Display(JsonPath p) => NormPath(Absolute(p));

    /// <summary>
    /// The real path of <paramref name="p"/>; <c>denied</c> unless it is inside a writable root, or
    /// <paramref name="anywhere"/> (a read-only op asked for the whole file system the agent sees).
    /// </summary>
    public string Resolve(JsonPath p, bool anywhere = false)
    {
        var real = RealPath(Absolute(p));
        if (!anywhere && !InsideRoots(real)) throw new OpError(AgentErrors.Denied, $"{p.Value} is outside the sandbox's writable roots");
        return real;
    }

    /// <summary>The real parent directory and the name of the entry <paramref name="p"/> names (its last component not followed).</summary>
    public (string Parent, string Name) ResolveEntry(JsonPath p)
    {
        var a = Absolute(p).TrimEnd('/');
        if (a.Length == 0) a = "/";
        var (head, name) = Split(a);
        if (name is "" or "." or "..")
        {
            (head, name) = Split(RealPath(a));
            if (name.Length == 0) throw new OpError(AgentErrors.Denied, $"{p.Value} is outside the sandbox's writable roots");
        }
        var parent = RealPath(head);
        var entry = Join(parent, name);
        if (!InsideRoots(parent) || IsRoot(entry))
            throw new OpError(AgentErrors.Denied, $"{p.Value} is outside the sandbox's writable roots (or is a root itself)");
        return (parent, name);
    }

    /// <summary>Opens <paramref name="path"/> and checks the descriptor is still inside the roots (unless <paramref name="anywhere"/>).</summary>
    public int OpenChecked(string path, int flags, int mode = 438, int dirFd = Libc.AT_FDCWD, bool anywhere = false)
    {
        var fd = Libc.openat(dirFd, path, flags | Libc.O_CLOEXEC, mode);
        if (fd < 0) throw ErrnoException.Last(path);
        if (anywhere) return fd;
        try
        {
            CheckFd(fd, path);
        }
        catch
        {
            Libc.close(fd);
            throw;
        }
        return fd;
    }

    public int OpenDirectory(string path) => OpenChecked(path, Libc.O_RDONLY | Libc.O_DIRECTORY);

    private void CheckFd(int fd, string expected)
    {
        var real = ReadLink($"/proc/self/fd/{fd}");
        if (real is null)
        {
            // No /proc: at least make sure the descriptor is the file the checked path names.
            if (Libc.FStatAt(fd, "", out var a, Libc.AT_EMPTY_PATH) < 0 || Libc.FStatAt(Libc.AT_FDCWD, expected, out var b, Libc.AT_SYMLINK_NOFOLLOW) < 0)
                throw new OpError(AgentErrors.Denied, $"cannot verify {expected}");
            if (a.Dev != b.Dev || a.Ino != b.Ino) throw new OpError(AgentErrors.Denied, $"{expected} changed while it was opened");
            return;
        }
        if (!InsideRoots(real)) throw new OpError(AgentErrors.Denied, $"{expected} resolves outside the sandbox's writable roots");
    }

    public static unsafe string? ReadLink(string path, int dirFd = Libc.AT_FDCWD)
    {
        var buf = stackalloc byte[4096];
        var n = Libc.readlinkat(dirFd, path, buf, 4096);
        return n < 0 ? null : FileNames.Decode(new ReadOnlySpan<byte>(buf, (int)n));
    }

    public static (string Head, string Name) Split(string path)
    {
        var i = path.LastIndexOf('/');
        var head = path[..(i + 1)];
        if (head.Length > 1) head = head.TrimEnd('/');
        if (head.Length == 0 && i >= 0) head = "/";
        return (head, path[(i + 1)..]);
    }

    public static string Join(string a, string b) => b.StartsWith('/') || a.Length == 0 ? b : a.EndsWith('/') ? a + b : a + "/" + b;

    /// <summary>os.path.normpath: separators collapsed, "." dropped, ".." applied lexically.</summary>
    public static string NormPath(string path)
    {
        if (path.Length == 0) return ".";
        var absolute = path.StartsWith('/');
        var parts = new List<string>();
        foreach (var c in path.Split('/'))
        {
            if (c is "" or ".") continue;
            if (c == ".." && ((!absolute && parts.Count == 0) || (parts.Count > 0 && parts[^1] == "..")))
            {
                if (!absolute) parts.Add(c);
                continue;
            }
            if (c == "..")
            {
                if (parts.Count > 0) parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(c);
        }
        var joined = string.Join('/', parts);
        return absolute ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    /// <summary>os.path.realpath (non-strict): symlinks followed component by component; a missing component ends the walk.</summary>
    public static string RealPath(string path)
    {
        if (!path.StartsWith('/')) path = Join(Environment.CurrentDirectory, path);
        var (result, _) = JoinReal("", path, new Dictionary<string, string?>(StringComparer.Ordinal));
        return result.Length == 0 ? "/" : result;
    }

    private static (string Path, bool Ok) JoinReal(string path, string rest, Dictionary<string, string?> seen)
    {
        if (rest.StartsWith('/'))
        {
            rest = rest[1..];
            path = "/";
        }
        while (rest.Length > 0)
        {
            var slash = rest.IndexOf('/');
            var name = slash < 0 ? rest : rest[..slash];
            rest = slash < 0 ? "" : rest[(slash + 1)..];
            if (name is "" or ".") continue;
            if (name == "..")
            {
                if (path.Length > 0)
                {
                    var (h, n) = Split(path);
                    path = n == ".." ? Join(Join(h, ".."), "..") : h;
                }
                else path = "..";
                continue;
            }
            var newPath = Join(path, name);
            var isLink = Libc.FStatAt(Libc.AT_FDCWD, newPath, out var st, Libc.AT_SYMLINK_NOFOLLOW) == 0 && st.IsSymlink;
            if (!isLink)
            {
                path = newPath;
                continue;
            }
            if (seen.TryGetValue(newPath, out var known))
            {
                if (known is not null)
                {
                    path = known;
                    continue;
                }
                return (Join(newPath, rest), false);      // a symlink loop
            }
            seen[newPath] = null;
            var target = ReadLink(newPath);
            if (target is null)
            {
                path = newPath;
                continue;
            }
            var (resolved, ok) = JoinReal(path, target, seen);
            if (!ok) return (Join(resolved, rest), false);
            path = resolved;
            seen[newPath] = path;
        }
        return (path, true);
    }
}

/// <summary>A request's path argument, validated: a non-empty string without NUL.</summary>
internal readonly record struct JsonPath(string Value)
{
    public static JsonPath From(Request req, string key)
    {
        if (req.Get(key) is not { ValueKind: System.Text.Json.JsonValueKind.String } v || v.GetString() is not { Length: > 0 } s)
            throw OpError.Invalid("path must be a non-empty string");
        if (s.Contains('\0')) throw OpError.Invalid("path contains a NUL character");
        return new JsonPath(s);
    }
}
