using System.Buffers;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Sandboxes.Api;

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

    public static async Task WriteAsync(HttpResponse response, AgentEvent e, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("event: "u8);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(e.Type == "exception" ? "error" : e.Type));
        buffer.Write("\ndata: "u8);
        using (var w = new Utf8JsonWriter(buffer)) WithoutId(w, e.Body);
        buffer.Write("\n\n"u8);
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

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
