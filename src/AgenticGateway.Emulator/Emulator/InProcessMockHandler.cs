using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;

namespace AgenticGateway.Emulator;

/// <summary>
/// Serves the built-in <c>mock</c> provider in process: the gateway's forwarder talks to it through the same
/// HttpMessageInvoker code path as to a real provider, with the response streamed through a pipe.
/// </summary>
internal sealed class InProcessMockHandler(MockEngine engine) : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? ReadOnlyMemory<byte>.Empty : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var exchange = new PipeExchange(request, body);
        _ = RunAsync(exchange, cancellationToken);
        return await exchange.Response.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(PipeExchange exchange, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, exchange.ReaderGone);
        try
        {
            await engine.HandleAsync(exchange, cts.Token);
            exchange.Complete(null);
        }
        catch (Exception ex)
        {
            exchange.Complete(ex);
        }
    }

    private sealed class PipeExchange : IMockExchange
    {
        private readonly HttpRequestMessage _request;
        private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
        private readonly HttpResponseMessage _response;
        private readonly CancellationTokenSource _readerGone = new();
        private readonly ReaderStream _reader;
        private bool _aborted;

        public PipeExchange(HttpRequestMessage request, ReadOnlyMemory<byte> body)
        {
            _request = request;
            RequestBody = body;
            _reader = new ReaderStream(_pipe.Reader, _readerGone);
            _response = new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StreamContent(_reader),
            };
        }

        public TaskCompletionSource<HttpResponseMessage> Response { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationToken ReaderGone => _readerGone.Token;
        public string Method => _request.Method.Method;
        public string Path => _request.RequestUri?.AbsolutePath ?? "/";
        public string Query => _request.RequestUri?.Query ?? "";
        public IEnumerable<KeyValuePair<string, string>> RequestHeaders =>
            _request.Headers.Concat(_request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
                .Select(h => new KeyValuePair<string, string>(h.Key, string.Join(",", h.Value)));
        public ReadOnlyMemory<byte> RequestBody { get; }

        public string? RequestHeader(string name)
        {
            if (_request.Headers.TryGetValues(name, out var values)) return string.Join(",", values);
            if (_request.Content?.Headers.TryGetValues(name, out var contentValues) == true) return string.Join(",", contentValues);
            return null;
        }

        public void SetStatus(int status) => _response.StatusCode = (HttpStatusCode)status;

        public void SetHeader(string name, string value)
        {
            if (name.StartsWith("content-", StringComparison.OrdinalIgnoreCase))
            {
                _response.Content.Headers.Remove(name);
                _response.Content.Headers.TryAddWithoutValidation(name, value);
            }
            else _response.Headers.TryAddWithoutValidation(name, value);
        }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            Response.TrySetResult(_response);
            var result = await _pipe.Writer.WriteAsync(data, cancellationToken);
            if (result.IsCompleted) throw new OperationCanceledException("the reader went away");
        }

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            Response.TrySetResult(_response);
            var result = await _pipe.Writer.FlushAsync(cancellationToken);
            if (result.IsCompleted) throw new OperationCanceledException("the reader went away");
        }

        public void Abort()
        {
            _aborted = true;
            var error = new HttpRequestException(HttpRequestError.ResponseEnded, "The upstream connection was reset.", new IOException("Connection reset by peer"));
            if (Response.TrySetException(error)) return;
            // Like a dropped connection: what was sent can still be read, then reading fails.
            _reader.FailAtEnd(new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.", error));
            _pipe.Writer.Complete();
        }

        public void Complete(Exception? error)
        {
            if (_aborted) return;
            if (error is not null && !Response.Task.IsCompleted)
            {
                Response.TrySetException(error is OperationCanceledException ? error : new HttpRequestException("mock failed", error));
                return;
            }
            Response.TrySetResult(_response);
            _pipe.Writer.Complete(error is OperationCanceledException ? null : error);
        }
    }

    /// <summary>Reads the pipe; disposing it tells the emulator to stop producing.</summary>
    private sealed class ReaderStream(PipeReader reader, CancellationTokenSource gone) : Stream
    {
        private readonly Stream _inner = reader.AsStream();
        private Exception? _failAtEnd;

        public void FailAtEnd(Exception error) => _failAtEnd = error;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await _inner.ReadAsync(buffer, cancellationToken);
            if (read == 0 && _failAtEnd is { } error) throw error;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                gone.Cancel();
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
