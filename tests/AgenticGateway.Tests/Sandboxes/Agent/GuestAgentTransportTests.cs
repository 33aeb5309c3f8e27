using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;
using Microsoft.Win32.SafeHandles;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>
/// The C# guest agent's transports: the same protocol over a Unix socket, a vsock port (listening; this host has no
/// vsock loopback to connect through) and a virtio-serial port found by its name (a fake sysfs whose port is a pty).
/// </summary>
[Trait("Category", "sandbox")]
public class GuestAgentTransportTests
{
    private static Process StartAgent(string transport, string home, params string[] extra)
    {
        var info = new ProcessStartInfo(GuestAgentBuild.Executable, ["--transport", transport, "--guest-dir", GuestAgentBuild.GuestDirectory, .. extra])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = home,
        };
        info.Environment["AGW_HOME"] = home;
        info.Environment["AGW_FS_ROOTS"] = home;
        return Process.Start(info)!;
    }

    private static async Task PingAndRunPython(AgentConnection agent)
    {
        var ready = await agent.Ready.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(2, ready.GetProperty("version").GetInt32());
        await agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(5));
        var created = await agent.CallAsync("context.create", w => { w.WriteString("context", "py"); w.WriteString("language", "python"); }, default)
            .WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("python", created.GetProperty("language").GetString());
        var run = agent.Start("execute", w => { w.WriteString("context", "py"); w.WriteString("code", "x = 6 * 7\nprint(x)\nx"); });
        var events = new List<AgentEvent>();
        await foreach (var e in run.Events.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token)) events.Add(e);
        Assert.Equal("done", events[^1].Type);
        Assert.Equal("42\n", string.Concat(events.Where(e => e.Type == "stdout").Select(e => e.String("data"))));
        Assert.Equal("42", events.Single(e => e.Type == "result").String("text"));
    }

    [Fact]
    public async Task The_agent_serves_the_protocol_on_a_unix_socket()
    {
        var home = Directory.CreateTempSubdirectory("agw-agent-unix-").FullName;
        var socketPath = Path.Combine(home, "agent.sock");
        using var process = StartAgent("unix:" + socketPath, home);
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            var watch = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
                    break;
                }
                catch (SocketException) when (watch.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
                {
                    await Task.Delay(20);
                }
            }
            var stream = new NetworkStream(socket, ownsSocket: true);
            var agent = new AgentConnection(stream, stream);
            await PingAndRunPython(agent);
            await agent.DisposeAsync();
            Assert.True(process.WaitForExit(5000), "the agent ends when the connection closes");
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            Directory.Delete(home, true);
        }
    }

    [Fact]
    public async Task The_vsock_transport_listens_on_its_port()
    {
        Assert.True(File.Exists("/dev/vsock"), "this host has no /dev/vsock (modprobe vhost_vsock or vsock_loopback): the vsock transport cannot be tested");
        var home = Directory.CreateTempSubdirectory("agw-agent-vsock-").FullName;
        var port = Random.Shared.Next(20000, 60000);
        // Free before the agent starts, taken while it listens: bind(2) on the same port and any CID must then fail.
        Assert.Equal("bound", await TryBindVsock(port));
        using var process = StartAgent("vsock:" + port, home);
        try
        {
            var line = await process.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal($"agw-agent: listening on vsock:{port}", line);
            Assert.False(process.HasExited);
            Assert.Equal("in use", await TryBindVsock(port));
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            Directory.Delete(home, true);
        }
    }

    private static async Task<string> TryBindVsock(int port)
    {
        const string script = """
            import errno, socket, sys
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            try:
                s.bind((socket.VMADDR_CID_ANY, int(sys.argv[1])))
                print("bound")
            except OSError as e:
                print("in use" if e.errno == errno.EADDRINUSE else "error: %s" % e)
            """;
        using var python = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", script, port.ToString()]) { RedirectStandardOutput = true })!;
        var output = await python.StandardOutput.ReadToEndAsync();
        await python.WaitForExitAsync();
        return output.Trim();
    }

    [Fact]
    public async Task The_serial_transport_finds_its_port_by_name()
    {
        var home = Directory.CreateTempSubdirectory("agw-agent-serial-").FullName;
        // A fake /sys/class with two virtio ports; the one named "agent" is a pty whose master plays the host's side.
        var sysfs = Path.Combine(home, "sys");
        var dev = Path.Combine(home, "dev");
        foreach (var (port, name) in new[] { ("vport0p1", "console-log"), ("vport0p2", "agent") })
        {
            Directory.CreateDirectory(Path.Combine(sysfs, "virtio-ports", port));
            File.WriteAllText(Path.Combine(sysfs, "virtio-ports", port, "name"), name + "\n");
        }
        Directory.CreateDirectory(dev);
        var master = posix_openpt(2 | 0x100 | 0x80000);      // O_RDWR | O_NOCTTY | O_CLOEXEC
        Assert.True(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "cannot open a pty");
        var ptsName = new byte[128];
        Assert.Equal(0, ptsname_r(master, ptsName, (nuint)ptsName.Length));
        var slavePath = Encoding.ASCII.GetString(ptsName, 0, Array.IndexOf(ptsName, (byte)0));
        File.CreateSymbolicLink(Path.Combine(dev, "vport0p2"), slavePath);
        File.CreateSymbolicLink(Path.Combine(dev, "vport0p1"), "/dev/null");
        // The host side holds the slave open too, as a connected virtio port has no hang-up.
        using var slaveHold = File.Open(slavePath, FileMode.Open, FileAccess.ReadWrite);
        using var process = StartAgent("serial:agent", home, "--sysfs", sysfs, "--dev", dev);
        try
        {
            var stream = new FileStream(new SafeFileHandle(master, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
            var agent = new AgentConnection(stream, new BlockingReadStream(stream));
            await PingAndRunPython(agent);
            var stderr = await ReadStderrLineAsync(process);
            Assert.Contains($"serial port agent is {Path.Combine(dev, "vport0p2")}", stderr);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            Directory.Delete(home, true);
        }
    }

    private static async Task<string> ReadStderrLineAsync(Process process) =>
        await process.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)) ?? "";

    /// <summary>Reads of a pty master on a pool thread (a FileStream's async reads of a character device may not be truly async).</summary>
    private sealed class BlockingReadStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Task.Run(() => inner.Read(buffer.Span), cancellationToken));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    // DllImport, not LibraryImport: the test project does not allow unsafe code, which the generated stubs need.
    [DllImport("libc", SetLastError = true)]
    private static extern int posix_openpt(int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int grantpt(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int unlockpt(int fd);

    [DllImport("libc")]
    private static extern int ptsname_r(int fd, [Out] byte[] buf, nuint buflen);
}
