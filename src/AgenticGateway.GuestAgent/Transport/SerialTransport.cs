using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// <c>--transport serial:NAME</c> (QEMU virtio-serial): the /dev/vportNpM whose /sys/class/virtio-ports/vportNpM/name is
/// NAME. Until the host opens its side, the port reads as end-of-file (POLLHUP), so the agent waits for the hang-up to
/// clear before serving. <c>--sysfs</c> and <c>--dev</c> move the two directories (tests).
/// </summary>
internal sealed unsafe partial class SerialTransport(AgentLoop loop, string name, string sysfsClassDirectory, string devDirectory) : IAgentTransport
{
    public AgentStreams Open()
    {
        var device = Find(name, sysfsClassDirectory, devDirectory);
        var fd = Libc.open(device, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0);
        if (fd < 0) throw ErrnoException.Last(device);
        fd = Fd.High(fd);
        MakeRaw(fd);
        AgentLog.Write($"serial port {name} is {device}; waiting for the host");
        var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN | Libc.POLLOUT };
        while (true)
        {
            pfd.REvents = 0;
            var n = Libc.poll(&pfd, 1, 1000);
            if (n > 0 && (pfd.REvents & Libc.POLLHUP) == 0) break;
            Thread.Sleep(5);
        }
        return new AgentStreams(new FdStream(loop, fd, canRead: true, canWrite: false), new FdStream(loop, fd, canRead: false, canWrite: true));
    }

    /// <summary>The device of the virtio port named <paramref name="portName"/>.</summary>
    public static string Find(string portName, string sysfsClassDirectory, string devDirectory)
    {
        var ports = Path.Join(sysfsClassDirectory, "virtio-ports");
        if (Directory.Exists(ports))
        {
            foreach (var dir in Directory.EnumerateFileSystemEntries(ports).Order(StringComparer.Ordinal))
            {
                string content;
                try { content = File.ReadAllText(Path.Join(dir, "name")).Trim(); }
                catch (IOException) { continue; }
                if (content == portName) return Path.Join(devDirectory, Path.GetFileName(dir));
            }
        }
        throw new InvalidOperationException($"no virtio-serial port named '{portName}' in {ports}");
    }

    /// <summary>A console-type port (or a pty in tests) is a tty: raw mode, so bytes pass unchanged. Other ports are not ttys.</summary>
    private static void MakeRaw(int fd)
    {
        var termios = stackalloc byte[64];
        if (tcgetattr(fd, termios) < 0) return;
        cfmakeraw(termios);
        tcsetattr(fd, 0, termios);
    }

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial int tcgetattr(int fd, byte* termios);

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial int tcsetattr(int fd, int action, byte* termios);

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial void cfmakeraw(byte* termios);
}
