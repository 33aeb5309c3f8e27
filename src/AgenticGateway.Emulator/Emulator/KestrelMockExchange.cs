using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Emulator;

/// <summary>The emulator over a real Kestrel connection (standalone mode, tests, benchmarks).</summary>
internal sealed class KestrelMockExchange(HttpContext context, ReadOnlyMemory<byte> body) : IMockExchange
{
    public string Method => context.Request.Method;
    public string Path => context.Request.Path.Value ?? "/";
    public string Query => context.Request.QueryString.Value ?? "";
    public IEnumerable<KeyValuePair<string, string>> RequestHeaders => context.Request.Headers.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString()));
    public ReadOnlyMemory<byte> RequestBody => body;
    public string? RequestHeader(string name) => context.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;

    public void SetStatus(int status) => context.Response.StatusCode = status;

    public void SetHeader(string name, string value)
    {
        if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase)) context.Response.ContentLength = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        else context.Response.Headers[name] = value;
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        new(context.Response.Body.WriteAsync(data, cancellationToken).AsTask());

    public ValueTask FlushAsync(CancellationToken cancellationToken) => new(context.Response.Body.FlushAsync(cancellationToken));

    public void Abort() => context.Abort();

    /// <summary>Reads the whole request body (the emulator needs it parsed) and runs the engine.</summary>
    public static async Task ServeAsync(HttpContext context, MockEngine engine)
    {
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        try
        {
            await engine.HandleAsync(new KestrelMockExchange(context, buffer.GetBuffer().AsMemory(0, (int)buffer.Length)), context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nothing to answer, but count it (tests check that cancellation reached us).
            engine.RecordCancelled();
        }
    }
}
