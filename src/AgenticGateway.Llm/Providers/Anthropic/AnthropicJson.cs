using System.Text.Encodings.Web;
using System.Text.Json;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>Writer settings for every body the Anthropic translator writes.</summary>
internal static class AnthropicJson
{
    /// <summary>
    /// Text stays as UTF-8 instead of \u escapes (a CJK reply would otherwise grow sixfold); these bodies are JSON
    /// over HTTP, never embedded in HTML, so the relaxed encoder is safe.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
