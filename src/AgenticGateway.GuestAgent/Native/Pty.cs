using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>A pseudo-terminal pair: the master stays with the agent, the slave's path is opened by the child.</summary>
internal static unsafe class Pty
{
    private const nuint TIOCSWINSZ = 0x5414;

    /// <summary>The master (non-blocking, close-on-exec, numbered 10 or higher), the slave held open until the child has it, and the slave's path.</summary>
    public static (int Master, int Slave, string SlavePath) Open(int cols, int rows)
    {
        var master = Libc.posix_openpt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (master < 0) throw ErrnoException.Last("posix_openpt");
        try
        {
            if (Libc.grantpt(master) < 0 || Libc.unlockpt(master) < 0) throw ErrnoException.Last("unlockpt");
            var name = stackalloc byte[128];
            var err = Libc.ptsname_r(master, name, 128);
            if (err != 0) throw new ErrnoException(err, "ptsname_r");
            var path = new string((sbyte*)name);
            master = Fd.High(master);
            var slave = Libc.open(path, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
            if (slave < 0) throw ErrnoException.Last(path);
            SetSize(slave, cols, rows);
            Fd.SetNonBlocking(master);
            return (master, Fd.High(slave), path);
        }
        catch
        {
            Fd.Close(master);
            throw;
        }
    }

    public static void SetSize(int fd, int cols, int rows)
    {
        var ws = stackalloc ushort[4];
        ws[0] = (ushort)rows;
        ws[1] = (ushort)cols;
        ws[2] = ws[3] = 0;
        Libc.ioctl(fd, TIOCSWINSZ, ws);
    }
}
