using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// Agent events as Server-Sent Events, written as they arrive: <c>event: stdout</c> / <c>stderr</c> / <c>result</c> /
/// <c>exception</c> / <c>start</c> ... and a last <c>event: done</c> (or <c>error</c>), each with the event's JSON
/// (without the protocol's id and type) as data.
/// </summary>
internal static class EventStream
{
    public static async Task StartAsync(HttpResponse response)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync();
    }

    /// <summary>
    /// Writes each event as it comes (SseFormatter; Kestrel's response stream sends every write at once), the
    /// <paramref name="first"/> one before the rest when given.
    /// </summary>
    public static Task WriteAllAsync(HttpResponse response, IAsyncEnumerable<AgentEvent> events, CancellationToken cancellationToken, AgentEvent? first = null) =>
        SseFormatter.WriteAsync(Items(first, events, cancellationToken), response.Body, static (item, buffer) =>
        {
            using var w = new Utf8JsonWriter(buffer);
            WithoutId(w, item.Data.Body);
        }, cancellationToken);

    private static async IAsyncEnumerable<SseItem<AgentEvent>> Items(AgentEvent? first, IAsyncEnumerable<AgentEvent> events, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (first is { } e) yield return Item(e);
        await foreach (var next in events.WithCancellation(cancellationToken)) yield return Item(next);
    }

    private static SseItem<AgentEvent> Item(AgentEvent e) => new(e, e.Type == "exception" ? "error" : e.Type);

    /// <summary>The event's fields except the protocol's own "id" and "type".</summary>
    public static void WithoutId(Utf8JsonWriter w, JsonElement body)
    {
        w.WriteStartObject();
        foreach (var p in body.EnumerateObject())
        {
            if (p.NameEquals("id") || p.NameEquals("type")) continue;
            p.WriteTo(w);
        }
        w.WriteEndObject();
    }
}
