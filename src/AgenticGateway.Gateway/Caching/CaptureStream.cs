using System.Buffers;

namespace AgenticGateway.Caching;

/// <summary>
/// The response body on a cache miss: every write goes to the client as before and a copy into a pooled buffer, up
/// to the cache's entry limit (past it the copy stops and the answer is simply not stored). Only installed when the
/// answer may be stored, so other requests pay nothing. A body of declared length (a JSON answer) is complete when its
/// last byte arrives: <paramref name="complete"/> runs then, before that byte goes out, so a client that repeats the
/// request as soon as it has the answer finds it in the cache.
/// </summary>
internal sealed class CaptureStream(Stream inner, int limit, HttpResponse response, Func<ValueTask> complete) : Stream
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit, 16 * 1024));
    private int _length;

    /// <summary>The answer was larger than the limit: not cacheable.</summary>
    public bool Overflowed { get; private set; }
    public ReadOnlySpan<byte> Captured => _buffer.AsSpan(0, _length);

    private void Copy(ReadOnlySpan<byte> data)
    {
        if (Overflowed || data.IsEmpty) return;
        if (_length + data.Length > limit)
        {
            Overflowed = true;
            return;
        }
        if (_length + data.Length > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(limit, Math.Max(_buffer.Length * 2, _length + data.Length)));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        data.CopyTo(_buffer.AsSpan(_length));
        _length += data.Length;
    }

    /// <summary>Whether <c>complete</c> ran (the whole declared body was captured).</summary>
    public bool Completed { get; private set; }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Copy(buffer.Span);
        if (!Overflowed && !Completed && response.ContentLength is { } declared && declared == _length && _length > 0) return CompleteThenWriteAsync(buffer, cancellationToken);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    private async ValueTask CompleteThenWriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        Completed = true;
        await complete();
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Copy(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Copy(buffer);
        inner.Write(buffer);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // The inner stream is the response's: not ours to close.
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
        base.Dispose(disposing);
    }
}
