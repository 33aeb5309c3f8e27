using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Loop;

/// <summary>
/// Non-blocking writes to a pipe or pty (an interpreter's control pipe, a process's stdin) from the loop thread: what
/// does not fit now is kept and written when the descriptor becomes writable, in order, without blocking the loop.
/// </summary>
internal sealed class FdWriter(AgentLoop loop, int fd)
{
    private byte[] _pending = [];
    private int _start, _end;
    private bool _pumping, _closeWhenDrained;

    public int Fd { get; } = fd;

    public bool Closed { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (Closed || _closeWhenDrained) throw OpError.Invalid("stdin is closed");
        if (data.IsEmpty) return;
        if (_start == _end)
        {
            int n;
            try { n = Native.Fd.TryWrite(Fd, data); }
            catch (ErrnoException) { Close(); return; }
            if (n == data.Length) return;
            data = data[Math.Max(n, 0)..];
        }
        Append(data);
        if (!_pumping) _ = PumpAsync();
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_end + data.Length > _pending.Length)
        {
            var live = _end - _start;
            var grown = live + data.Length > _pending.Length ? new byte[Math.Max(_pending.Length * 2, live + data.Length)] : _pending;
            _pending.AsSpan(_start, live).CopyTo(grown);
            _pending = grown;
            _start = 0;
            _end = live;
        }
        data.CopyTo(_pending.AsSpan(_end));
        _end += data.Length;
    }

    private async Task PumpAsync()
    {
        _pumping = true;
        try
        {
            while (!Closed && _start < _end)
            {
                await loop.WaitWritableAsync(Fd);
                if (Closed) return;
                int n;
                try { n = Native.Fd.TryWrite(Fd, _pending.AsSpan(_start, _end - _start)); }
                catch (ErrnoException) { Close(); return; }
                if (n > 0) _start += n;
            }
            _start = _end = 0;
            if (_closeWhenDrained) Close();
        }
        finally
        {
            _pumping = false;
        }
    }

    /// <summary>Closes once what is buffered is written (end-of-file for a process's stdin).</summary>
    public void CloseAfterDrain()
    {
        if (_start < _end) _closeWhenDrained = true;
        else Close();
    }

    public void Close()
    {
        if (Closed) return;
        Closed = true;
        loop.Forget(Fd);
        Native.Fd.Close(Fd);
    }
}
