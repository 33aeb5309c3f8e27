using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// Reads a spec from a file or an http(s) URL, within a size limit (and the caller's timeout), and parses it as JSON
/// or YAML. The spec is fetched without the server's credentials: it may live on another host than the API.
/// </summary>
internal static class SpecLoader
{
    public static bool IsUrl(string specPath) =>
        specPath.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || specPath.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static async Task<SpecDocument> LoadAsync(string specPath, HttpClient http, long maxBytes, CancellationToken ct)
    {
        var bytes = IsUrl(specPath) ? await FetchAsync(new Uri(specPath), http, maxBytes, ct) : await ReadFileAsync(specPath, maxBytes, ct);
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException) { throw new FormatException("it is not UTF-8 text"); }
        JsonNode? root;
        try
        {
            root = text.TrimStart().StartsWith('{')
                ? JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 256 })
                : SpecYaml.Parse(text);
        }
        catch (JsonException e) { throw new FormatException($"it is not valid JSON: {e.Message}"); }
        catch (YamlDotNet.Core.YamlException e) { throw new FormatException($"it is not valid YAML: {e.Message}"); }
        return SpecDocument.From(root);
    }

    private static async Task<byte[]> ReadFileAsync(string path, long maxBytes, CancellationToken ct)
    {
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"no file at {file.FullName}", file.FullName);
        if (file.Length > maxBytes) throw new FormatException($"it is {file.Length} bytes, over the {maxBytes}-byte limit");
        return await File.ReadAllBytesAsync(file.FullName, ct);
    }

    private static async Task<byte[]> FetchAsync(Uri url, HttpClient http, long maxBytes, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("application/json, application/yaml;q=0.9, */*;q=0.5");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"GET answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        return await ReadLimitedAsync(response.Content, maxBytes, ct)
            ?? throw new FormatException($"it is over the {maxBytes}-byte limit");
    }

    /// <summary>The whole body, or null when it is larger than <paramref name="maxBytes"/> (read no further than that).</summary>
    public static async Task<byte[]?> ReadLimitedAsync(HttpContent content, long maxBytes, CancellationToken ct)
    {
        if (content.Headers.ContentLength > maxBytes) return null;
        await using var stream = await content.ReadAsStreamAsync(ct);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
