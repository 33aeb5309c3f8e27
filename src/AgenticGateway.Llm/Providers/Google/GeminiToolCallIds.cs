using System.Globalization;
using System.Text;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// OpenAI tool calls need ids; Gemini's functionCall parts usually have none, and thinking models attach a
/// <c>thoughtSignature</c> that must come back on the same functionCall part in the next turn (Gemini 3 refuses the
/// turn otherwise). Both ride in the OpenAI id: <c>call_&lt;n&gt;_&lt;hash&gt;</c>, plus <c>__thought__&lt;signature&gt;</c>
/// when there is one (the convention LiteLLM uses), so a client that echoes ids back round-trips the signature.
/// </summary>
internal static class GeminiToolCallIds
{
    private const string SignatureMarker = "__thought__";

    /// <summary>A stable id for the <paramref name="index"/>th call of a choice: the same call always gets the same id.</summary>
    public static string Create(int index, string? geminiId, string name, string arguments, string? thoughtSignature)
    {
        var id = geminiId is { Length: > 0 }
            ? geminiId
            : "call_" + index.ToString(CultureInfo.InvariantCulture) + "_" + Hash(name + "\n" + arguments).ToString("x8", CultureInfo.InvariantCulture);
        return thoughtSignature is { Length: > 0 } ? id + SignatureMarker + thoughtSignature : id;
    }

    /// <summary>The thought signature carried by an id this class created, or null.</summary>
    public static string? Signature(string? id)
    {
        if (id is null) return null;
        var at = id.IndexOf(SignatureMarker, StringComparison.Ordinal);
        return at < 0 ? null : id[(at + SignatureMarker.Length)..];
    }

    private static uint Hash(string text)
    {
        var h = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text)) { h ^= b; h *= 16777619u; }
        return h;
    }
}
