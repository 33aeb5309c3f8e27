using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>Descriptor helpers: pipes, non-blocking reads and writes, moving descriptors out of the way of a spawn.</summary>
internal static unsafe class Fd
{
    /// <summary>A close-on-exec pipe whose ends are numbered 10 or higher, so a spawn's dup2 actions cannot clobber them.</summary>
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) < 0) throw ErrnoException.Last("pipe2");
        return (High(fds[0]), High(fds[1]));
    }

    public static int High(int fd)
    {
        if (fd >= 10) return fd;
        var moved = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 10);
        var errno = Libc.Errno;
        Libc.close(fd);
        if (moved < 0) throw new ErrnoException(errno, "fcntl(F_DUPFD_CLOEXEC)");
        return moved;
    }

    /// <summary>/dev/null for reading, close-on-exec, above the standard descriptors.</summary>
    public static int OpenNull()
    {
        var fd = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw ErrnoException.Last("/dev/null");
        return High(fd);
    }

    public static void Close(int fd)
    {
        if (fd >= 0) Libc.close(fd);
    }

    public static void SetNonBlocking(int fd, bool on = true)
    {
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0) return;
        Libc.fcntl(fd, Libc.F_SETFL, on ? flags | Libc.O_NONBLOCK : flags & ~Libc.O_NONBLOCK);
    }

    /// <summary>One read: the count, 0 at end-of-file (or EIO: a pty whose other side is closed), -1 when it would block.</summary>
    public static int TryRead(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Libc.read(fd, p, buffer.Length);
                if (n >= 0) return (int)n;
                var errno = Libc.Errno;
                if (errno == Libc.EINTR) continue;
                return errno == Libc.EAGAIN ? -1 : 0;
            }
        }
    }

    /// <summary>One write: the count written, -1 when it would block; throws when the other side is gone.</summary>
    public static int TryWrite(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                var n = Libc.write(fd, p, data.Length);
                if (n >= 0) return (int)n;
                var errno = Libc.Errno;
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN) return -1;
                throw new ErrnoException(errno, "write");
            }
        }
    }

    /// <summary>Writes everything, waiting (poll) while the descriptor is full. For a thread that may block.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = TryWrite(fd, data);
            if (n < 0)
            {
                var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLOUT };
                Libc.poll(&pfd, 1, -1);
                continue;
            }
            data = data[n..];
        }
    }
}
