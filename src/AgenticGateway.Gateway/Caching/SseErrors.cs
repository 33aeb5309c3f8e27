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

    /// <summary>
    /// Whether a stream ended with its format's terminal event: OpenAI's chat and completions <c>data: [DONE]</c>,
    /// Anthropic's <c>message_stop</c>, the Responses API's <c>response.completed</c>. Without it the stream was cut.
    /// </summary>
    public static bool HasTerminalEvent(ReadOnlySpan<byte> events, Routing.LlmOperation operation)
    {
        var trimmed = events.TrimEnd("\r\n "u8);
        // The last event: what follows the last blank line.
        var start = Math.Max(trimmed.LastIndexOf("\n\n"u8), trimmed.LastIndexOf("\r\n\r\n"u8));
        var last = start < 0 ? trimmed : trimmed[(start + 2)..];
        foreach (var range in last.Split((byte)'\n'))
        {
            var line = last[range].Trim("\r "u8);
            switch (operation)
            {
                case Routing.LlmOperation.ChatCompletions or Routing.LlmOperation.Completions:
                    if (line.StartsWith("data:"u8) && line[5..].Trim((byte)' ').SequenceEqual("[DONE]"u8)) return true;
                    break;
                case Routing.LlmOperation.Messages:
                    if ((line.StartsWith("event:"u8) && line[6..].Trim((byte)' ').SequenceEqual("message_stop"u8))
                        || (line.StartsWith("data:"u8) && line.IndexOf("\"message_stop\""u8) >= 0)) return true;
                    break;
                case Routing.LlmOperation.Responses:
                    if ((line.StartsWith("event:"u8) && line[6..].Trim((byte)' ').SequenceEqual("response.completed"u8))
                        || (line.StartsWith("data:"u8) && line.IndexOf("\"response.completed\""u8) >= 0)) return true;
                    break;
                default:
                    // A format without a terminal event of its own: a clean end is all there is to go by.
                    return true;
            }
        }
        return false;
    }
}
