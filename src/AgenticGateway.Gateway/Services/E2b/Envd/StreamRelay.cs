using System.Threading.Channels;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>One message for a stream's subscriber: a serialized response message, or the error that ends the stream.</summary>
internal readonly record struct RelayMessage(byte[]? Json, ConnectError? Error = null);

/// <summary>
/// Relays a source's messages (a process's output, a directory's changes) to one server stream: in order, a keepalive
/// message after every idle <c>Keepalive-Ping-Interval</c> (as envd sends, so that proxies keep the connection open),
/// and the end of the stream when the source ends, the client's deadline passes (deadline_exceeded) or the client goes.
/// </summary>
internal static class StreamRelay
{
    /// <summary>A subscriber's queue: bounded, so a client that stops reading is cut off instead of growing memory.</summary>
    public static Channel<RelayMessage> NewQueue() =>
        Channel.CreateBounded<RelayMessage>(new BoundedChannelOptions(4096) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>A full queue: its reader has not kept up; the stream ends with resource_exhausted instead of waiting.</summary>
    public static void Offer(Channel<RelayMessage> queue, RelayMessage message)
    {
        if (queue.Writer.TryWrite(message)) return;
        queue.Writer.TryComplete(new ConnectError(ConnectError.ResourceExhausted, "the client read the stream too slowly; it was ended"));
    }

    public static async Task RunAsync(ConnectCall call, ChannelReader<RelayMessage> messages, byte[] keepalive, TimeSpan? deadline)
    {
        var interval = call.KeepaliveInterval();
        using var deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(call.Aborted);
        if (deadline is { } d) deadlineSource.CancelAfter(d);
        var idle = NewIdle(deadlineSource.Token, interval);
        try
        {
            while (true)
            {
                bool more;
                try { more = await messages.WaitToReadAsync(idle.Token); }
                catch (OperationCanceledException) when (!deadlineSource.IsCancellationRequested)
                {
                    idle.Dispose();
                    idle = NewIdle(deadlineSource.Token, interval);
                    await call.SendJsonAsync(keepalive);
                    continue;
                }
                if (!more)
                {
                    var error = messages.Completion.IsFaulted ? messages.Completion.Exception?.InnerException as ConnectError : null;
                    await call.EndAsync(error);
                    return;
                }
                while (messages.TryRead(out var m))
                {
                    if (m.Error is not null)
                    {
                        await call.EndAsync(m.Error);
                        return;
                    }
                    await call.SendJsonAsync(m.Json!);
                }
                if (interval is { } i) idle.CancelAfter(i);
            }
        }
        catch (OperationCanceledException) when (!call.Aborted.IsCancellationRequested)
        {
            await call.EndAsync(new ConnectError(ConnectError.DeadlineExceeded, "the call's deadline (Connect-Timeout-Ms) passed"));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client left.
        }
        finally
        {
            idle.Dispose();
        }
    }

    private static CancellationTokenSource NewIdle(CancellationToken outer, TimeSpan? interval)
    {
        var idle = CancellationTokenSource.CreateLinkedTokenSource(outer);
        if (interval is { } i) idle.CancelAfter(i);
        return idle;
    }
}
