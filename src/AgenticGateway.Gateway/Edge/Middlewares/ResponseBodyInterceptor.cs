using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// A response body that sees what the rest of the chain writes before the client does: the retry, errors, compress,
/// buffering and grpcWeb middlewares install one for the duration of their call (<see cref="Install"/>), decide at the
/// first byte (or when the response starts) from the status and headers set so far, and pass, hold, transform or
/// discard what follows. Until it passes anything on, the real response has not started, so its status and headers can
/// still change. Stream, PipeWriter and StartAsync/CompleteAsync all arrive at the same virtual methods.
/// </summary>
internal abstract class ResponseBodyInterceptor : Stream, IHttpResponseBodyFeature
{
    private PipeWriter? _writer;
    private bool _installed;

    protected ResponseBodyInterceptor(HttpContext context)
    {
        Context = context;
        Inner = context.Features.Get<IHttpResponseBodyFeature>() ?? throw new InvalidOperationException("the response has no body feature");
    }

    protected HttpContext Context { get; }
    /// <summary>The body this one writes to: the client's, or the next interceptor out.</summary>
    protected IHttpResponseBodyFeature Inner { get; }

    public void Install()
    {
        Context.Features.Set<IHttpResponseBodyFeature>(this);
        _installed = true;
    }

    /// <summary>Puts the outer body back; whatever the pipe writer holds was flushed by <see cref="CompleteAsync"/> or is flushed here.</summary>
    public async ValueTask UninstallAsync()
    {
        if (!_installed) return;
        _installed = false;
        if (_writer is not null) await _writer.FlushAsync();
        Context.Features.Set(Inner);
    }

    // ---- what a subclass decides ----

    protected abstract ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>The response starts (StartAsync, or a flush before any byte). Default: nothing until the first write.</summary>
    protected virtual Task StartCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FlushCoreAsync(CancellationToken cancellationToken) => Inner.Stream.FlushAsync(cancellationToken);

    /// <summary>The inner handler said the body is complete (CompleteAsync); the middleware finishes after its call anyway.</summary>
    protected virtual Task CompleteCoreAsync() => Task.CompletedTask;

    // ---- IHttpResponseBodyFeature ----

    Stream IHttpResponseBodyFeature.Stream => this;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public virtual void DisableBuffering() => Inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => StartCoreAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null) await _writer.FlushAsync();
        await CompleteCoreAsync();
    }

    // ---- Stream ----

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    // Synchronous writes are refused by Kestrel unless allowed; when they are, they block here as they would there.
    public override void Write(byte[] buffer, int offset, int count) => WriteCoreAsync(buffer.AsMemory(offset, count), default).AsTask().GetAwaiter().GetResult();
    public override void Flush() => FlushCoreAsync(default).GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteCoreAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty ? new ValueTask(StartCoreAsync(cancellationToken)) : WriteCoreAsync(buffer, cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => FlushCoreAsync(cancellationToken);
}
