using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Files;

/// <summary>Directory work relative to opened directory fds (never re-walking a path): listing, recursive removal and copy, mkdir -p.</summary>
internal static unsafe class DirectoryFds
{
    /// <summary>The names in directory <paramref name="fd"/> (without "." and "..").</summary>
    public static List<string> Names(int fd)
    {
        var names = new List<string>();
        var buf = new byte[32768];
        fixed (byte* p = buf)
        {
            while (true)
            {
                var n = Libc.GetDents(fd, p, buf.Length);
                if (n < 0) throw ErrnoException.Last("getdents64");
                if (n == 0) break;
                var pos = 0;
                while (pos < n)
                {
                    var reclen = *(ushort*)(p + pos + 16);
                    var name = p + pos + 19;
                    var len = 0;
                    while (name[len] != 0) len++;
                    var s = FileNames.Decode(new ReadOnlySpan<byte>(name, len));
                    if (s is not ("." or "..")) names.Add(s);
                    pos += reclen;
                }
            }
        }
        return names;
    }

    public static Libc.Stat LStat(int dirFd, string name)
    {
        if (Libc.FStatAt(dirFd, name, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw ErrnoException.Last(name);
        return st;
    }

    public static int OpenSubdirectory(int dirFd, string name)
    {
        var fd = Libc.openat(dirFd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw ErrnoException.Last(name);
        return fd;
    }

    /// <summary>Removes entry <paramref name="name"/> of <paramref name="dirFd"/>, a directory with everything in it (symlinks are not followed).</summary>
    public static void RemoveTree(int dirFd, string name)
    {
        var st = LStat(dirFd, name);
        if (!st.IsDirectory)
        {
            if (Libc.unlinkat(dirFd, name, 0) < 0) throw ErrnoException.Last(name);
            return;
        }
        var fd = OpenSubdirectory(dirFd, name);
        try
        {
            foreach (var child in Names(fd)) RemoveTree(fd, child);
        }
        finally
        {
            Libc.close(fd);
        }
        if (Libc.unlinkat(dirFd, name, Libc.AT_REMOVEDIR) < 0) throw ErrnoException.Last(name);
    }

    /// <summary>Copies entry <paramref name="name"/> (file with its mode, symlink as a symlink, directory recursively) to <paramref name="toName"/> in <paramref name="toFd"/>.</summary>
    public static void Copy(int fromFd, string name, int toFd, string toName)
    {
        var st = LStat(fromFd, name);
        var mode = (int)(st.Mode & 0xFFF);
        if (st.IsSymlink)
        {
            var target = PathResolver.ReadLink(name, fromFd) ?? throw ErrnoException.Last(name);
            if (Libc.symlinkat(target, toFd, toName) < 0) throw ErrnoException.Last(toName);
            return;
        }
        if (st.IsDirectory)
        {
            if (Libc.mkdirat(toFd, toName, mode) < 0) throw ErrnoException.Last(toName);
            var src = OpenSubdirectory(fromFd, name);
            try
            {
                var dst = OpenSubdirectory(toFd, toName);
                try
                {
                    foreach (var child in Names(src)) Copy(src, child, dst, child);
                }
                finally { Libc.close(dst); }
            }
            finally { Libc.close(src); }
            return;
        }
        // A FIFO would block the copy forever, a device would copy its stream: only regular files are copied.
        if (!st.IsRegular) throw new OpError(AgentErrors.Invalid, $"'{name}' is not a regular file, a directory or a symlink; it cannot be moved across file systems");
        var input = Libc.openat(fromFd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0);
        if (input < 0) throw ErrnoException.Last(name);
        try
        {
            var output = Libc.openat(toFd, toName, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, mode);
            if (output < 0) throw ErrnoException.Last(toName);
            try
            {
                var buf = new byte[1 << 16];
                fixed (byte* p = buf)
                {
                    while (true)
                    {
                        var n = Libc.read(input, p, buf.Length);
                        if (n < 0) throw ErrnoException.Last(name);
                        if (n == 0) break;
                        Fd.WriteAll(output, new ReadOnlySpan<byte>(p, (int)n));
                    }
                }
                Libc.fchmod(output, mode);
            }
            finally { Libc.close(output); }
        }
        finally { Libc.close(input); }
    }

    /// <summary>mkdir -p, then owner-only access (the bash cells' private directory).</summary>
    public static void MakePrivateDirectory(string path)
    {
        MakeDirectories(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>mkdir -p: fine when it exists as a directory; EEXIST when something else is there.</summary>
    public static void MakeDirectories(string path)
    {
        if (Libc.mkdirat(Libc.AT_FDCWD, path, 511) == 0) return;
        var errno = Libc.Errno;
        if (errno == Libc.EEXIST)
        {
            if (Libc.FStatAt(Libc.AT_FDCWD, path, out var st, 0) == 0 && st.IsDirectory) return;
            throw new ErrnoException(Libc.EEXIST, $"{Libc.StrError(Libc.EEXIST)}: {path}");
        }
        if (errno != Libc.ENOENT) throw new ErrnoException(errno, $"{Libc.StrError(errno)}: {path}");
        var (head, _) = PathResolver.Split(path.TrimEnd('/'));
        if (head.Length == 0 || head == path) throw new ErrnoException(errno, $"{Libc.StrError(errno)}: {path}");
        MakeDirectories(head);
        if (Libc.mkdirat(Libc.AT_FDCWD, path, 511) < 0 && Libc.Errno != Libc.EEXIST) throw ErrnoException.Last(path);
    }
}
