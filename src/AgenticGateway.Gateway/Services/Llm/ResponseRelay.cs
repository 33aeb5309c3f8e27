using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Routing;
using Microsoft.AspNetCore.Http.Features;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Delivers a successful upstream response to the client: a JSON body after checking it is whole, or an SSE stream
/// forwarded event by event as it arrives. Until the first byte goes out a failure is returned for retry; after
/// that, a failure ends the stream with an error event.
/// </summary>
internal sealed class ResponseRelay(ClientAuth auth, TimeProvider time, ILogger<ResponseRelay> logger)
{
    private const int MaxBufferedBody = 128 * 1024 * 1024;
    private const int MaxEventBytes = 16 * 1024 * 1024;
    private static readonly byte[] UsageProperty = "\"usage\""u8.ToArray();

    /// <summary>Reads a non-stream response whole (so a broken body can still be retried), then writes it.</summary>
    public async Task<UpstreamFailure?> BufferedAsync(LlmExchange x, Deployment d, HttpResponseMessage response, CancellationToken attemptToken, long attemptStart, AnswerCodec? codec)
    {
        byte[] buffer;
        int length;
        var limit = x.Runtime.Options.Server.MaxResponseBodyBytes is { } configured ? (int)Math.Min(configured, MaxBufferedBody) : MaxBufferedBody;
        try
        {
            (buffer, length) = await ReadAllAsync(response.Content, limit, attemptToken);
        }
        catch (AnswerTooLargeException) when (limit < MaxBufferedBody)
        {
            return AnswerTooLarge(d, limit);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return new UpstreamFailure(FailureKind.Connection, 502, $"reading the response from {d.Id} failed: {ex.Message}");
        }
        if (length > limit)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return AnswerTooLarge(d, limit);
        }
        try
        {
            x.UpstreamTicks += Stopwatch.GetTimestamp() - attemptStart;
            ReadOnlyMemory<byte> answer = buffer.AsMemory(0, length);
            Usage? usage;
            if (codec is null)
            {
                if (!UsageReader.TryRead(answer.Span, out usage))
                    return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} returned a malformed JSON body");
            }
            else
            {
                try { answer = codec.ConvertBody(answer, out usage); }
                catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException or FormatException or InvalidOperationException or KeyNotFoundException or ArgumentException)
                {
                    return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} returned a body that is not what {d.ProviderName} documents: {ex.Message}");
                }
            }
            x.Usage = usage;
            // The post_call guardrails see the answer as the client would get it: masked here, or refused before its
            // first byte (the answer was made, so it is charged to this deployment).
            if (x.Http.Features.Get<IAnswerFilter>() is { } filter)
            {
                var filtered = await filter.FilterAsync(answer, x.Http.RequestAborted);
                if (filtered.Blocked is { } blocked) return Refused(x, d, blocked);
                answer = filtered.Answer;
                // A Responses call stores its answer for retrieve and previous_response_id: the stored one must be
                // what the client got, never the text the guardrail masked.
                if (x.Responses is { } call && x.Operation == LlmOperation.Responses) call.FinalResponse = answer.ToArray();
            }
            x.ResponseId = ResponseIds.Read(answer.Span);
            var http = x.Http.Response;
            http.StatusCode = (int)response.StatusCode;
            http.ContentType = codec is null ? response.Content.Headers.ContentType?.ToString() ?? "application/json" : "application/json";
            http.ContentLength = answer.Length;
            Commit(x, d);
            // Priced and logged before the answer is released: its cost goes in a header, and a crash after this loses nothing.
            if (x.BeforeAnswer is { } beforeAnswer) await beforeAnswer(x);
            await http.Body.WriteAsync(answer, x.Http.RequestAborted);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Forwards an SSE stream. Complete events are written and flushed as soon as they arrive (never coalesced or
    /// delayed); only a partial event waits for its end. The first event is awaited before committing.
    /// </summary>
    public async Task<UpstreamFailure?> StreamAsync(LlmExchange x, Deployment d, HttpResponseMessage response, CancellationTokenSource attemptCts, TimeSpan idleTimeout, long attemptStart, IStreamTranslator? transform)
    {
        if (transform is not null) return await StreamTranslatedAsync(x, d, response, attemptCts, idleTimeout, attemptStart, transform);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var pending = 0;
        var committed = false;
        var clientAborted = x.Http.RequestAborted;
        // The post_call guardrails' view of the stream: events pass through it and may come out masked, held back a
        // little (a match may span two events), or end in an error event.
        var filter = x.Http.Features.Get<IAnswerFilter>()?.ForStream();
        var filtered = filter is null ? null : new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(attemptCts.Token);
            while (true)
            {
                if (pending == buffer.Length)
                {
                    if (buffer.Length >= MaxEventBytes) return Fail(new UpstreamFailure(FailureKind.InvalidResponse, 502, $"an event from {d.Id} exceeded {MaxEventBytes} bytes"));
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, pending).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var (read, broke) = await ReadUpstreamAsync(upstream, buffer.AsMemory(pending), d, attemptCts, idleTimeout, committed, clientAborted);
                if (broke is not null) return Fail(broke);

                if (read == 0)
                {
                    if (!committed && pending == 0 && filter is null) return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} ended the stream without data");
                    if (filter is not null)
                    {
                        if (pending > 0)
                        {
                            ScanUsage(x, buffer.AsSpan(0, pending));
                            if (await filter.FeedAsync(buffer.AsMemory(0, pending), filtered!, clientAborted) is { } stopped) return Stop(stopped);
                        }
                        if (await filter.CompleteAsync(filtered!, clientAborted) is { } stoppedAtEnd) return Stop(stoppedAtEnd);
                        if (!committed && filtered!.WrittenCount == 0) return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} ended the stream without data");
                        if (!committed) CommitStream();
                        x.StreamedEvents += CountEvents(filtered!.WrittenSpan);
                        KeepFilteredFinal(x, filtered.WrittenSpan);
                        await ForwardAsync(x, filtered.WrittenMemory, clientAborted);
                    }
                    else
                    {
                        if (!committed) CommitStream();
                        if (pending > 0)
                        {
                            ScanUsage(x, buffer.AsSpan(0, pending));
                            x.StreamedEvents += CountEvents(buffer.AsSpan(0, pending));
                            await ForwardAsync(x, buffer.AsMemory(0, pending), clientAborted);
                        }
                    }
                    x.StreamFinished = true;
                    await x.Http.Response.Body.FlushAsync(clientAborted);
                    return null;
                }

                var scanFrom = Math.Max(0, pending - 3);
                pending += read;
                var boundary = LastEventBoundary(buffer.AsSpan(0, pending), scanFrom);
                if (boundary <= 0) continue;
                x.ResponseId ??= ResponseIds.ReadFirstEvent(buffer.AsSpan(0, boundary));
                ScanUsage(x, buffer.AsSpan(0, boundary));
                if (filter is not null)
                {
                    if (await filter.FeedAsync(buffer.AsMemory(0, boundary), filtered!, clientAborted) is { } stopped) return Stop(stopped);
                    if (filtered!.WrittenCount > 0)
                    {
                        if (!committed) CommitStream();
                        x.StreamedEvents += CountEvents(filtered.WrittenSpan);
                        KeepFilteredFinal(x, filtered.WrittenSpan);
                        await ForwardAsync(x, filtered.WrittenMemory, clientAborted);
                        filtered.ResetWrittenCount();
                    }
                }
                else
                {
                    if (!committed) CommitStream();
                    x.StreamedEvents += CountEvents(buffer.AsSpan(0, boundary));
                    // Kestrel's response stream flushes on every write: each event goes out at once.
                    await ForwardAsync(x, buffer.AsMemory(0, boundary), clientAborted);
                }
                buffer.AsSpan(boundary, pending - boundary).CopyTo(buffer);
                pending -= boundary;
                if (await CallerRevokedAsync(x) is { } revoked) return revoked;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        void CommitStream()
        {
            StartStream(x, d, response, attemptCts, attemptStart, contentType: null);
            committed = true;
        }

        // Only complete events were forwarded, so the error event starts cleanly; a partial event is dropped.
        UpstreamFailure? Fail(UpstreamFailure failure) => committed ? Broken(x, d, failure) : failure;

        // A guardrail refused the answer: before the first byte the client gets the error itself; after it, what it
        // already has ends with the error event.
        UpstreamFailure Stop(ApiError refused) => committed ? StoppedStream(x, refused) : Refused(x, d, refused);
    }

    /// <summary>
    /// An answer a guardrail refused before any of it went out: the client gets the error (not retried: another
    /// deployment's answer to the same request would be checked the same way). The answer was made, so it is charged.
    /// </summary>
    private static UpstreamFailure Refused(LlmExchange x, Deployment d, ApiError refused)
    {
        x.Deployment = d;
        return new UpstreamFailure(FailureKind.BadRequest, refused.Status, refused.Message) { ClientError = refused };
    }

    /// <summary>A stream a guardrail ended after it started: an error event in the client's format, and nothing the deployment did.</summary>
    private static StreamBrokenFailure StoppedStream(LlmExchange x, ApiError refused) =>
        new(new UpstreamFailure(FailureKind.BadRequest, refused.Status, refused.Message), ClientErrorEvent(x, refused)) { EndedByGateway = true };

    /// <summary>
    /// One read from the upstream stream. Until the first event the attempt timeout applies; after it, only silence
    /// longer than the idle timeout (time spent writing to a slow client does not count). A broken or silent stream
    /// is returned as a failure; a timeout before anything was committed is thrown, for the attempt to report.
    /// </summary>
    private static async ValueTask<(int Read, UpstreamFailure? Failure)> ReadUpstreamAsync(Stream upstream, Memory<byte> into, Deployment d,
        CancellationTokenSource attemptCts, TimeSpan idleTimeout, bool committed, CancellationToken clientAborted)
    {
        if (committed) attemptCts.CancelAfter(idleTimeout);
        try
        {
            var read = await upstream.ReadAsync(into, attemptCts.Token);
            if (committed) attemptCts.CancelAfter(Timeout.InfiniteTimeSpan);
            return (read, null);
        }
        catch (OperationCanceledException) when (committed && attemptCts.IsCancellationRequested && !clientAborted.IsCancellationRequested)
        {
            return (0, new UpstreamFailure(FailureKind.Timeout, 504, $"no data from {d.Id} for {idleTimeout.TotalSeconds:F0}s"));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return (0, new UpstreamFailure(FailureKind.Connection, 502, $"the stream from {d.Id} broke: {ex.Message}"));
        }
    }

    /// <summary>The first bytes go to the client: from here on the attempt timeout no longer applies (only idle silence).</summary>
    private static void StartStream(LlmExchange x, Deployment d, HttpResponseMessage response, CancellationTokenSource attemptCts, long attemptStart, string? contentType)
    {
        x.UpstreamTicks += Stopwatch.GetTimestamp() - attemptStart;
        Start(x, d, response);
        if (contentType is not null) x.Http.Response.ContentType = contentType;
        attemptCts.CancelAfter(Timeout.InfiniteTimeSpan);
    }

    /// <summary>A failure after the client already has part of the answer: it ends with an error event and a clean close.</summary>
    private StreamBrokenFailure Broken(LlmExchange x, Deployment d, UpstreamFailure failure)
    {
        Observability.Log.StreamFailed(logger, d.Id, failure.Message, x.RequestId);
        return new StreamBrokenFailure(failure, ClientErrorEvent(x, new ApiError(failure.Status, $"The upstream stream failed: {failure.Message}", "server_error", "upstream_stream_error")));
    }

    /// <summary>
    /// Streams an answer through a translator: each read goes in as it arrives, and whatever events it completes
    /// go out at once. Until the first event is written, a failure is returned for retry.
    /// </summary>
    private async Task<UpstreamFailure?> StreamTranslatedAsync(LlmExchange x, Deployment d, HttpResponseMessage response, CancellationTokenSource attemptCts, TimeSpan idleTimeout, long attemptStart, IStreamTranslator transform)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var output = new ArrayBufferWriter<byte>(16 * 1024);
        var committed = false;
        var clientAborted = x.Http.RequestAborted;
        var filter = x.Http.Features.Get<IAnswerFilter>()?.ForStream();
        var filtered = filter is null ? null : new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(attemptCts.Token);
            while (true)
            {
                var (read, broke) = await ReadUpstreamAsync(upstream, buffer, d, attemptCts, idleTimeout, committed, clientAborted);
                if (broke is not null) return Fail(broke);

                try
                {
                    if (read == 0) transform.Complete(output);
                    else transform.Feed(buffer.AsSpan(0, read), output);
                }
                catch (ProviderStreamException ex)
                {
                    return Fail(UpstreamFailure.FromProviderError(ex.Error, [], keepBody: false, null, null));
                }
                catch (InvalidDataException ex)
                {
                    return Fail(new UpstreamFailure(FailureKind.InvalidResponse, 502, $"the stream from {d.Id} is not what {d.ProviderName} documents: {ex.Message}"));
                }
                x.Usage = transform.Usage ?? x.Usage;
                if (filter is not null)
                {
                    // The translator writes whole events: they pass the guardrails' filter in the client's format.
                    if (output.WrittenCount > 0 && await filter.FeedAsync(output.WrittenMemory, filtered!, clientAborted) is { } stopped) return Stop(stopped);
                    if (read == 0 && await filter.CompleteAsync(filtered!, clientAborted) is { } stoppedAtEnd) return Stop(stoppedAtEnd);
                    x.ResponseId ??= ResponseIds.ReadFirstEvent(output.WrittenSpan);
                    output.ResetWrittenCount();
                    KeepFilteredFinal(x, filtered!.WrittenSpan);
                    filtered.WrittenSpan.CopyTo(output.GetSpan(filtered.WrittenCount));
                    output.Advance(filtered.WrittenCount);
                    filtered.ResetWrittenCount();
                }
                if (output.WrittenCount > 0)
                {
                    if (!committed)
                    {
                        StartStream(x, d, response, attemptCts, attemptStart, "text/event-stream");
                        committed = true;
                    }
                    x.StreamedEvents += CountEvents(output.WrittenSpan);
                    x.ResponseId ??= ResponseIds.ReadFirstEvent(output.WrittenSpan);
                    await x.Http.Response.Body.WriteAsync(output.WrittenMemory, clientAborted);
                    output.ResetWrittenCount();
                    if (read > 0 && await CallerRevokedAsync(x) is { } revoked) return revoked;
                }
                if (read == 0)
                {
                    if (!committed) return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} ended the stream without data");
                    x.StreamFinished = true;
                    await x.Http.Response.Body.FlushAsync(clientAborted);
                    return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        UpstreamFailure? Fail(UpstreamFailure failure) => committed ? Broken(x, d, failure) : failure;

        UpstreamFailure Stop(ApiError refused) => committed ? StoppedStream(x, refused) : Refused(x, d, refused);
    }

    /// <summary>
    /// A stream may outlive its key: every <see cref="CallerRecheckInterval"/> the caller is checked again, and a stream
    /// whose key was deleted, blocked or expired meanwhile (or whose team was blocked) ends with an error event.
    /// </summary>
    private async ValueTask<StreamBrokenFailure?> CallerRevokedAsync(LlmExchange x)
    {
        if (x.Caller is not { Identity: not null } caller) return null;
        // The gateway's clock, not the Stopwatch: a test moves it past the interval instead of waiting seconds.
        var now = time.GetTimestamp();
        var interval = (long)(CallerRecheckInterval.TotalSeconds * time.TimestampFrequency);
        if (x.NextCallerCheck == 0) x.NextCallerCheck = now + interval;
        if (now < x.NextCallerCheck) return null;
        x.NextCallerCheck = now + interval;
        if (await auth.RecheckAsync(caller, x.Http.RequestAborted) is not { } refused) return null;
        Observability.Log.StreamRevoked(logger, refused.Code ?? refused.Type, x.RequestId);
        return new StreamBrokenFailure(new UpstreamFailure(FailureKind.BadRequest, refused.Status, refused.Message), ClientErrorEvent(x, refused)) { EndedByGateway = true };
    }

    /// <summary>How often a running stream's caller is checked again.</summary>
    internal static readonly TimeSpan CallerRecheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>An error event in the client's stream format.</summary>
    internal static byte[] ClientErrorEvent(LlmExchange x, ApiError error) => x.Operation switch
    {
        LlmOperation.Messages => Providers.Anthropic.Inbound.AnthropicErrors.SseEvent(error),
        // A native stream's own numbering is the provider's: its error event is OpenAI's "error", numbered 0 like one
        // that stands alone; a translated stream ends with its response.failed.
        LlmOperation.Responses => x.Responses?.StreamFailed?.Invoke(error) ?? ResponsesErrorEvent(error),
        _ => ErrorWriter.SseEvent(error),
    };

    /// <summary>The Responses API's <c>error</c> event, standing alone (numbered 0).</summary>
    internal static byte[] ResponsesErrorEvent(ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        new AgenticGateway.Responses.ResponsesEvents().Error(buffer, error.Code ?? error.Type, error.Message, error.Param);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A guardrail-filtered Responses stream: the response object of its last response.completed or
    /// response.incomplete event (as the client got it, masked) becomes the call's final response, so the store keeps
    /// that and not the translator's unfiltered copy.
    /// </summary>
    private static void KeepFilteredFinal(LlmExchange x, ReadOnlySpan<byte> events)
    {
        if (x.Responses is not { } call || x.Operation != LlmOperation.Responses) return;
        if (events.IndexOf("\"response.completed\""u8) < 0 && events.IndexOf("\"response.incomplete\""u8) < 0) return;
        while (events.Length > 0)
        {
            var end = events.IndexOf("\n\n"u8);
            var evt = end < 0 ? events : events[..end];
            events = end < 0 ? default : events[(end + 2)..];
            while (evt.Length > 0)
            {
                var lineEnd = evt.IndexOf((byte)'\n');
                var line = lineEnd < 0 ? evt : evt[..lineEnd];
                evt = lineEnd < 0 ? default : evt[(lineEnd + 1)..];
                if (!line.StartsWith("data:"u8)) continue;
                try
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(line[5..].ToArray());
                    var root = doc.RootElement;
                    if (root.ValueKind == System.Text.Json.JsonValueKind.Object && root.TryGetProperty("type", out var type)
                        && type.ValueKind == System.Text.Json.JsonValueKind.String && type.GetString() is "response.completed" or "response.incomplete"
                        && root.TryGetProperty("response", out var response) && response.ValueKind == System.Text.Json.JsonValueKind.Object)
                        call.FinalResponse = System.Text.Encoding.UTF8.GetBytes(response.GetRawText());
                }
                catch (System.Text.Json.JsonException)
                {
                    // Not an event we can read: the client got it as it is; nothing to keep from it.
                }
            }
        }
    }

    /// <summary>Writes complete events to the client, leaving out the usage chunk the gateway asked for itself.</summary>
    private static async ValueTask ForwardAsync(LlmExchange x, ReadOnlyMemory<byte> events, CancellationToken cancellationToken)
    {
        var body = x.Http.Response.Body;
        if (x.UsageInjected && FindUsageOnlyEvent(events.Span, out var start, out var end))
        {
            if (start > 0) await body.WriteAsync(events[..start], cancellationToken);
            if (end < events.Length) await body.WriteAsync(events[end..], cancellationToken);
            return;
        }
        await body.WriteAsync(events, cancellationToken);
    }

    /// <summary>Finds the event that carries usage with no choices (the chunk include_usage adds), as a byte range.</summary>
    internal static bool FindUsageOnlyEvent(ReadOnlySpan<byte> events, out int start, out int end)
    {
        start = end = 0;
        var at = LastUsageObject(events);
        if (at < 0) return false;
        start = EndOfLastEvent(events[..at]);
        var next = EndOfFirstEvent(events[at..]);
        end = next == 0 ? events.Length : at + next;
        var evt = events[start..end];
        var choices = evt.IndexOf("\"choices\""u8);
        if (choices < 0) return true; // usage alone is ours too
        var rest = evt[(choices + 9)..].TrimStart(" \t\r\n:"u8);
        if (rest.IsEmpty || rest[0] != (byte)'[') return false;
        rest = rest[1..].TrimStart(" \t\r\n"u8);
        return !rest.IsEmpty && rest[0] == (byte)']';
    }

    /// <summary>Where the last <c>"usage"</c> property with an object value (not null) starts, or -1.</summary>
    private static int LastUsageObject(ReadOnlySpan<byte> events)
    {
        var at = events.LastIndexOf(UsageProperty);
        if (at < 0) return -1;
        var after = events[(at + UsageProperty.Length)..].TrimStart(" \t:"u8);
        return !after.IsEmpty && after[0] == (byte)'{' ? at : -1;
    }

    /// <summary>Writes the error event of a stream that broke after it started.</summary>
    public static async Task FinishBrokenStreamAsync(LlmExchange x, StreamBrokenFailure broken)
    {
        try
        {
            var body = x.Http.Response.Body;
            await body.WriteAsync(broken.ErrorEvent, x.Http.RequestAborted);
            await body.FlushAsync(x.Http.RequestAborted);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The client left as well; nothing more to tell it.
        }
    }

    private static void Start(LlmExchange x, Deployment d, HttpResponseMessage response)
    {
        var http = x.Http.Response;
        http.StatusCode = (int)response.StatusCode;
        http.ContentType = response.Content.Headers.ContentType?.ToString() ?? "text/event-stream";
        http.Headers.CacheControl = "no-cache";
        http.Headers["x-accel-buffering"] = "no";
        x.Http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        x.FirstByteTimestamp = Stopwatch.GetTimestamp();
        // A started stream may run as long as it keeps producing: the whole-request timeout no longer applies.
        x.Overall?.CancelAfter(Timeout.InfiniteTimeSpan);
        Commit(x, d);
    }

    /// <summary>Sets the headers that tell the client what happened, just before the first byte goes out.</summary>
    private static void Commit(LlmExchange x, Deployment d)
    {
        x.Deployment = d;
        x.Status = x.Http.Response.StatusCode;
        x.OverheadSeconds = Math.Max(0, Stopwatch.GetElapsedTime(x.StartTimestamp).TotalSeconds - Stopwatch.GetElapsedTime(0, x.UpstreamTicks).TotalSeconds);
        var h = x.Http.Response.Headers;
        var overheadMs = (x.OverheadSeconds * 1000).ToString("F3", CultureInfo.InvariantCulture);
        var retries = x.Retries.ToString(CultureInfo.InvariantCulture);
        var fallbacks = x.Fallbacks.ToString(CultureInfo.InvariantCulture);
        h["x-agw-deployment"] = d.Id;
        h["x-agw-provider"] = d.ProviderName;
        h["x-agw-model-group"] = d.GroupName;
        h["x-agw-attempts"] = x.Attempts.ToString(CultureInfo.InvariantCulture);
        h["x-agw-fallbacks"] = fallbacks;
        h["x-agw-overhead-ms"] = overheadMs;
        if (!x.Runtime.Options.Server.LiteLlmHeaders) return;
        h["x-litellm-model-id"] = d.Id;
        h["x-litellm-model-group"] = d.GroupName;
        h["x-litellm-model-api-base"] = d.ApiBaseForDisplay;
        h["x-litellm-attempted-retries"] = retries;
        h["x-litellm-attempted-fallbacks"] = fallbacks;
        h["x-litellm-overhead-duration-ms"] = overheadMs;
    }

    /// <summary>Index just past the last "\n\n" (or "\r\n\r\n") in the data, or 0 when there is none yet.</summary>
    internal static int LastEventBoundary(ReadOnlySpan<byte> data, int scanFrom)
    {
        var end = EndOfLastEvent(data[scanFrom..]);
        return end == 0 ? 0 : scanFrom + end;
    }

    /// <summary>Index just past the last event separator ("\n\n" or "\r\n\r\n"), or 0 when there is none.</summary>
    private static int EndOfLastEvent(ReadOnlySpan<byte> data)
    {
        var lf = data.LastIndexOf("\n\n"u8);
        var crlf = data.LastIndexOf("\r\n\r\n"u8);
        return Math.Max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
    }

    /// <summary>Index just past the first event separator, or 0 when there is none.</summary>
    private static int EndOfFirstEvent(ReadOnlySpan<byte> data)
    {
        var lf = data.IndexOf("\n\n"u8);
        var crlf = data.IndexOf("\r\n\r\n"u8);
        if (lf < 0) return crlf < 0 ? 0 : crlf + 4;
        return crlf < 0 || lf < crlf ? lf + 2 : crlf + 4;
    }

    /// <summary>SSE events in complete events (each has one data field; data lines start a line).</summary>
    private static int CountEvents(ReadOnlySpan<byte> events)
    {
        var count = events.StartsWith("data:"u8) ? 1 : 0;
        return count + System.MemoryExtensions.Count(events, "\ndata:"u8);
    }

    /// <summary>Finds a usage object in complete events (the final usage chunk) and records it.</summary>
    private static void ScanUsage(LlmExchange x, ReadOnlySpan<byte> events)
    {
        var at = LastUsageObject(events);
        if (at < 0) return;
        var start = events[..at].LastIndexOf("data:"u8);
        if (start < 0) return;
        var line = events[(start + 5)..];
        var end = line.IndexOf((byte)'\n');
        if (end >= 0) line = line[..end];
        if (UsageReader.TryRead(line.Trim(" \r"u8), out var usage) && usage is not null) x.Usage = usage;
    }

    // LiteLLM's max_response_size_mb: an answer over it is not relayed (another deployment may answer shorter).
    private static UpstreamFailure AnswerTooLarge(Deployment d, int limit) =>
        new(FailureKind.InvalidResponse, 502, $"the answer from {d.Id} is larger than max_response_size_mb ({limit} bytes)");

    /// <summary>A body over the read limit (an <see cref="IOException"/>, as a broken read is, where no limit was configured).</summary>
    private sealed class AnswerTooLargeException(string message) : IOException(message);

    private static async Task<(byte[] Buffer, int Length)> ReadAllAsync(HttpContent content, int max, CancellationToken cancellationToken)
    {
        var declared = content.Headers.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent(declared is > 0 ? (int)Math.Min(declared.Value, Math.Min(max, 1 << 24)) : 8192);
        var length = 0;
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancellationToken);
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= max) throw new AnswerTooLargeException($"response body larger than {max} bytes");
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, max));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0) return (buffer, length);
                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>Reads an error body, bounded: enough to pass on the provider's message.</summary>
    public static async Task<byte[]> ReadErrorBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            var (buffer, length) = await ReadAllAsync(content, 1 << 20, cancellationToken);
            var copy = buffer.AsSpan(0, length).ToArray();
            ArrayPool<byte>.Shared.Return(buffer);
            return copy;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return [];
        }
    }
}

/// <summary>A stream that failed after the client received part of it; the dispatcher must not retry it.</summary>
internal sealed record StreamBrokenFailure(UpstreamFailure Cause, byte[] ErrorEvent)
    : UpstreamFailure(Cause.Kind, Cause.Status, Cause.Message)
{
    /// <summary>The gateway ended a healthy stream (its caller lost access): nothing the deployment did.</summary>
    public bool EndedByGateway { get; init; }
}
