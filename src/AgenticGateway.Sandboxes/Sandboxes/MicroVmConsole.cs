using System.Text;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// A microVM's serial console, as its VMM writes it to stdout. Tenant code can write there as fast as it likes (root
/// in the guest writes /dev/ttyS0), so it is read as raw bytes and only the last <see cref="Kept"/> bytes are kept, in
/// memory: nothing a guest prints can fill the host's disk or grow the gateway (a line reader would buffer a line
/// without end). The tail is what a failed boot logs.
/// </summary>
internal sealed class MicroVmConsole
{
    public const int Kept = 16 * 1024;
    private readonly byte[] _ring = new byte[Kept];
    private readonly Lock _lock = new();
    private long _written;

    /// <summary>Starts reading <paramref name="output"/> until it ends.</summary>
    public MicroVmConsole(Stream output) => Completion = PumpAsync(output);

    /// <summary>Completes when the VMM closed its output (it exited).</summary>
    public Task Completion { get; }

    /// <summary>Bytes the guest has written so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    private async Task PumpAsync(Stream output)
    {
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await output.ReadAsync(buffer)) > 0) Append(buffer.AsSpan(0, read));
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException) { }
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        // Taken only by this reader and by a failure reading the tail: never on a request's path.
        lock (_lock)
        {
            if (data.Length > Kept) data = data[^Kept..];
            var at = (int)(_written % Kept);
            var first = Math.Min(data.Length, Kept - at);
            data[..first].CopyTo(_ring.AsSpan(at));
            data[first..].CopyTo(_ring);
            Interlocked.Add(ref _written, data.Length);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines the guest printed (kernel errors, the init's and the agent's messages).</summary>
    public string Tail(int lines = 20)
    {
        byte[] copy;
        lock (_lock)
        {
            var length = (int)Math.Min(_written, Kept);
            copy = new byte[length];
            var start = (int)((_written - length) % Kept);
            var first = Math.Min(length, Kept - start);
            _ring.AsSpan(start, first).CopyTo(copy);
            _ring.AsSpan(0, length - first).CopyTo(copy.AsSpan(first));
        }
        var text = Encoding.UTF8.GetString(copy).Replace("\r", "", StringComparison.Ordinal);
        return string.Join('\n', text.Split('\n').TakeLast(lines));
    }
}
