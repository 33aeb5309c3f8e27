using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// Reads Google's error body, <c>{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[...]}}</c>
/// (also sent as a one-element array, and inside SSE streams). The canonical status decides the HTTP status to
/// classify by; the message is kept as Google wrote it.
/// </summary>
internal static class GoogleErrors
{
    public static ProviderError Read(int status, ReadOnlySpan<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0) root = root[0];
            if (TryRead(root, status, out var error)) return error;
        }
        catch (JsonException)
        {
        }
        var text = Encoding.UTF8.GetString(body).Trim();
        if (text.Length > 500) text = text[..500];
        return new ProviderError(status, text.Length > 0 ? text : $"Google returned HTTP {status}.", null);
    }

    /// <summary>Reads <c>{"error":{...}}</c> when <paramref name="root"/> is one.</summary>
    public static bool TryRead(JsonElement root, int fallbackStatus, out ProviderError error)
    {
        error = default;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var e) || e.ValueKind != JsonValueKind.Object) return false;
        var code = e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var ci) ? ci : (int?)null;
        var canonical = e.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        var message = e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "Google returned an error.";
        var status = StatusOf(canonical) ?? (code is >= 400 and <= 599 ? code.Value : fallbackStatus);
        // AI Studio answers a wrong API key with 400 INVALID_ARGUMENT; its ErrorInfo reason says what it is.
        if (HasReason(e, "API_KEY_INVALID")) status = 401;
        error = new ProviderError(status, message, canonical);
        return true;
    }

    private static bool HasReason(JsonElement error, string reason)
    {
        if (!error.TryGetProperty("details", out var details) || details.ValueKind != JsonValueKind.Array) return false;
        foreach (var detail in details.EnumerateArray())
            if (detail.ValueKind == JsonValueKind.Object && detail.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String && r.GetString() == reason)
                return true;
        return false;
    }

    /// <summary>google.rpc.Code names to HTTP statuses (the mapping Google's own HTTP gateway uses).</summary>
    public static int? StatusOf(string? canonical) => canonical switch
    {
        "INVALID_ARGUMENT" or "FAILED_PRECONDITION" or "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" or "ABORTED" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        "INTERNAL" or "UNKNOWN" or "DATA_LOSS" => 500,
        _ => null,
    };
}
