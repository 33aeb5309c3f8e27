using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// Reads a spec from a file or an http(s) URL, within a size limit (and the caller's timeout), and parses it as JSON
/// or YAML. The spec is fetched without the server's credentials: it may live on another host than the API; so its
/// redirects (a few, to http(s) only) are followed, where the API client follows none.
/// </summary>
internal static class SpecLoader
{
    public static bool IsUrl(string specPath) =>
        specPath.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || specPath.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private const int MaxRedirects = 5;

    /// <summary>The document, and the URL it was finally read from (what a relative server URL is relative to; null for a file).</summary>
    public static async Task<(SpecDocument Document, Uri? Location)> LoadAsync(string specPath, HttpClient http, long maxBytes, CancellationToken ct)
    {
        Uri? location = null;
        byte[] bytes;
        if (IsUrl(specPath)) (bytes, location) = await FetchAsync(new Uri(specPath), http, maxBytes, ct);
        else bytes = await ReadFileAsync(specPath, maxBytes, ct);
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
        return (SpecDocument.From(root), location);
    }

    private static async Task<byte[]> ReadFileAsync(string path, long maxBytes, CancellationToken ct)
    {
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"no file at {file.FullName}", file.FullName);
        if (file.Length > maxBytes) throw new FormatException($"it is {file.Length} bytes, over the {maxBytes}-byte limit");
        return await File.ReadAllBytesAsync(file.FullName, ct);
    }

    private static async Task<(byte[], Uri)> FetchAsync(Uri url, HttpClient http, long maxBytes, CancellationToken ct)
    {
        for (var hops = 0; ; hops++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.ParseAdd("application/json, application/yaml;q=0.9, */*;q=0.5");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } next && hops < MaxRedirects)
            {
                url = next.IsAbsoluteUri ? next : new Uri(url, next);
                if (url.Scheme is not ("http" or "https")) throw new HttpRequestException($"GET redirected to {url}, not an http(s) URL");
                continue;
            }
            if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"GET {url} answered {status} {response.ReasonPhrase}", null, response.StatusCode);
            var bytes = await ReadLimitedAsync(response.Content, maxBytes, ct) ?? throw new FormatException($"it is over the {maxBytes}-byte limit");
            return (bytes, url);
        }
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
