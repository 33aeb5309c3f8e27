using System.Collections.Frozen;
using System.Security.Cryptography;

namespace AgenticGateway.Ui;

/// <summary>The admin UI's files (HTML, CSS, JavaScript), embedded in the assembly and served from memory.</summary>
internal sealed class UiAssets
{
    private const string Prefix = "ui/";
    private readonly FrozenDictionary<string, Asset> _files;

    private UiAssets(FrozenDictionary<string, Asset> files) => _files = files;

    internal sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    public static UiAssets Load()
    {
        var assembly = typeof(UiAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            files[name[Prefix.Length..]] = new Asset(bytes, ContentType(name), "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16] + "\"");
        }
        return new UiAssets(files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public IEnumerable<string> Names => _files.Keys;

    public bool TryGet(string name, out Asset asset) => _files.TryGetValue(name, out asset!);

    /// <summary>Serves a file with its ETag (304 when the browser has it); false when there is no such file.</summary>
    public async Task<bool> ServeAsync(HttpContext context, string name)
    {
        if (!TryGet(name, out var asset)) return false;
        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        // Scripts and styles come only from these files: nothing inline, nothing from elsewhere.
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return true;
        }
        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = asset.Bytes.Length;
        await context.Response.Body.WriteAsync(asset.Bytes, context.RequestAborted);
        return true;
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
