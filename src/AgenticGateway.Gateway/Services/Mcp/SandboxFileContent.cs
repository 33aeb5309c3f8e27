using System.Text;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// A file read from a sandbox as content a model can use: UTF-8 text as text, a picture as an image it can look at,
/// anything else as an embedded blob (base64) rather than text full of replacement characters.
/// </summary>
internal static class SandboxFileContent
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static ContentBlock Of(string path, ReadOnlyMemory<byte> data)
    {
        if (ImageType(data.Span) is { } mimeType) return ImageContentBlock.FromBytes(data, mimeType);
        if (Text(data.Span) is { } text) return new TextContentBlock { Text = text };
        return new EmbeddedResourceBlock { Resource = BlobResourceContents.FromBytes(data, UriOf(path), "application/octet-stream") };
    }

    /// <summary>The image formats models read, by their signatures.</summary>
    internal static string? ImageType(ReadOnlySpan<byte> d) =>
        d.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]) ? "image/png"
        : d.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? "image/jpeg"
        : d.StartsWith("GIF87a"u8) || d.StartsWith("GIF89a"u8) ? "image/gif"
        : d.Length >= 12 && d.StartsWith("RIFF"u8) && d[8..12].SequenceEqual("WEBP"u8) ? "image/webp"
        : null;

    /// <summary>The file's text when it is valid UTF-8 without NUL bytes (what marks a binary file); null otherwise.</summary>
    private static string? Text(ReadOnlySpan<byte> data)
    {
        if (data.Contains((byte)0)) return null;
        try { return StrictUtf8.GetString(data); }
        catch (DecoderFallbackException) { return null; }
    }

    /// <summary>
    /// The file's address in the sandbox (MCP's file:// scheme, which need not be a real file system), relative paths
    /// resolved from /home/user as the agent does.
    /// </summary>
    internal static string UriOf(string path)
    {
        var absolute = path.StartsWith('/') ? path : SandboxTools.Home + "/" + path;
        return "file://" + string.Join('/', absolute.Split('/').Select(Uri.EscapeDataString));
    }
}
