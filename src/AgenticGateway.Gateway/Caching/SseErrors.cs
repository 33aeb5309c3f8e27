namespace AgenticGateway.Caching;

/// <summary>
/// Whether a finished stream carried an error event, in any client format the gateway streams: OpenAI's
/// (<c>data: {"error": ...}</c>, as the gateway ends a broken stream), Anthropic's (<c>event: error</c>) and the
/// Responses API's (<c>event: error</c> / <c>response.failed</c>). Such a stream is never stored.
/// </summary>
internal static class SseErrors
{
    public static bool HasErrorEvent(ReadOnlySpan<byte> events)
    {
        foreach (var range in events.Split((byte)'\n'))
        {
            var line = events[range].TrimEnd((byte)'\r');
            if (line.StartsWith("event:"u8))
            {
                var name = line[6..].Trim((byte)' ');
                if (name.SequenceEqual("error"u8) || name.SequenceEqual("response.failed"u8)) return true;
            }
            else if (line.StartsWith("data:"u8))
            {
                var data = line[5..].TrimStart((byte)' ');
                if (data.StartsWith("{\"error\""u8) || data.StartsWith("{\"type\":\"error\""u8)) return true;
            }
        }
        return false;
    }
}
