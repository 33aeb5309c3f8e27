using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// A stream over a raw descriptor (a pipe, a character device, a vsock connection): reads wait for readiness on the
/// agent loop's epoll set, so the request reader costs no thread; writes (the event writer's, on its own task) poll
/// while the descriptor is full.
/// </summary>
internal sealed class FdStream(AgentLoop loop, int fd, bool canRead, bool canWrite) : Stream
{
    public int Fd { get; } = fd;

    /// <summary>
    /// Both directions of an accepted connection, on a descriptor of its own (the socket is disposed by the caller).
    /// Not a NetworkStream: its async reads run on the runtime's socket thread and the thread pool, and the agent makes
    /// no thread after start (see <see cref="AgentThreads"/>).
    /// </summary>
    public static AgentStreams Connection(AgentLoop loop, System.Net.Sockets.Socket conn)
    {
        var fd = Libc.fcntl((int)conn.Handle, Libc.F_DUPFD_CLOEXEC, 10);
        if (fd < 0) throw ErrnoException.Last("fcntl(F_DUPFD_CLOEXEC)");
        Native.Fd.SetNonBlocking(fd);
        return new AgentStreams(new FdStream(loop, fd, canRead: true, canWrite: false), new FdStream(loop, fd, canRead: false, canWrite: true));
    }

    public override bool CanRead => canRead;
    public override bool CanWrite => canWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var n = Native.Fd.TryRead(Fd, buffer.Span);
            if (n >= 0) return n;
            await loop.WaitReadableAsync(Fd);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("reads are asynchronous, on the agent loop");

    public override void Write(ReadOnlySpan<byte> buffer) => Native.Fd.WriteAll(Fd, buffer);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
