using System.Globalization;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

internal enum MockFaultKind
{
    None,
    /// <summary>Answer with an error status in OpenAI's error shape.</summary>
    Status,
    /// <summary>Drop the connection before any response.</summary>
    Reset,
    /// <summary>Never answer (until the caller gives up).</summary>
    Timeout,
    /// <summary>Send part of the response (N stream chunks, or half the body), then drop the connection (with <c>clean</c>: end the stream normally, without its terminal event).</summary>
    Cut,
    /// <summary>A 200 whose body is not valid JSON.</summary>
    Malformed,
    /// <summary>400 context_length_exceeded, as OpenAI returns for an oversized prompt.</summary>
    ContextWindow,
    /// <summary>400 content_policy_violation.</summary>
    ContentPolicy,
}

/// <summary>
/// A fault to inject, written as comma-separated settings: <c>status=429,retry_after=2</c>, <c>reset</c>,
/// <c>timeout</c>, <c>cut=3</c> (with <c>clean</c>: a chat stream that ends without <c>[DONE]</c> instead of a dropped connection), <c>malformed</c>, <c>context_window</c>, <c>content_policy</c>, optionally with
/// <c>delay=200ms</c> before it takes effect.
/// </summary>
internal sealed record MockFault(MockFaultKind Kind, int Status = 0, int? RetryAfterSeconds = null, int CutAfterChunks = 0, TimeSpan Delay = default, string? Message = null, bool Clean = false)
{
    public static readonly MockFault None = new(MockFaultKind.None);

    public static bool TryParse(string text, out MockFault fault, out string? error)
    {
        fault = None;
        error = null;
        var kind = MockFaultKind.None;
        int status = 0, cut = 0;
        int? retryAfter = null;
        TimeSpan delay = default;
        string? message = null;
        var clean = false;
        foreach (var raw in text.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = raw.IndexOf('=');
            var key = (eq < 0 ? raw : raw[..eq]).Trim().ToLowerInvariant();
            var value = eq < 0 ? null : raw[(eq + 1)..].Trim();
            switch (key)
            {
                case "status" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out status) && status is >= 400 and <= 599:
                    kind = MockFaultKind.Status;
                    break;
                case "retry_after" or "retry-after" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ra) && ra >= 0:
                    retryAfter = ra;
                    break;
                case "reset": kind = MockFaultKind.Reset; break;
                case "timeout": kind = MockFaultKind.Timeout; break;
                case "malformed": kind = MockFaultKind.Malformed; break;
                case "context_window": kind = MockFaultKind.ContextWindow; break;
                case "content_policy": kind = MockFaultKind.ContentPolicy; break;
                case "cut" when value is null || (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out cut) && cut >= 0):
                    kind = MockFaultKind.Cut;
                    if (value is null) cut = 2;
                    break;
                case "delay" when value is not null && Durations.TryParse(value, out delay):
                    break;
                case "message" when value is not null:
                    message = value;
                    break;
                case "clean": clean = true; break;
                case "none": break;
                default:
                    error = $"invalid fault setting '{raw}' (expected status=CODE, retry_after=S, reset, timeout, cut=N, clean, malformed, context_window, content_policy, delay=D, message=TEXT)";
                    return false;
            }
        }
        if (kind == MockFaultKind.None && retryAfter is not null) { kind = MockFaultKind.Status; status = 429; }
        fault = new MockFault(kind, status, retryAfter, cut, delay, message, clean);
        return true;
    }
}
