using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The content type of a body that came without one, by the WHATWG sniffing rules as Go's
/// <c>http.DetectContentType</c> applies them (the first 512 bytes): markup, documents, images, archives, else text
/// or octet-stream. Traefik's compress middleware sets it on an untyped response, as Go's server would.
/// </summary>
internal static class MimeSniff
{
    private const int SniffLength = 512;

    private static readonly string[] HtmlTags =
        ["<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"];

    private static readonly (byte[] Signature, string Type)[] Exact =
    [
        ("%PDF-"u8.ToArray(), "application/pdf"),
        ("%!PS-Adobe-"u8.ToArray(), "application/postscript"),
        ([0xFE, 0xFF], "text/plain; charset=utf-16be"),
        ([0xFF, 0xFE], "text/plain; charset=utf-16le"),
        ([0xEF, 0xBB, 0xBF], "text/plain; charset=utf-8"),
        ([0x00, 0x00, 0x01, 0x00], "image/x-icon"),
        ([0x00, 0x00, 0x02, 0x00], "image/x-icon"),
        ("BM"u8.ToArray(), "image/bmp"),
        ("GIF87a"u8.ToArray(), "image/gif"),
        ("GIF89a"u8.ToArray(), "image/gif"),
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "image/png"),
        ([0xFF, 0xD8, 0xFF], "image/jpeg"),
        ([0x1F, 0x8B, 0x08], "application/x-gzip"),
        ("PK\u0003\u0004"u8.ToArray(), "application/zip"),
        ("Rar!\u001A\u0007\u0000"u8.ToArray(), "application/x-rar-compressed"),
        ("Rar!\u001A\u0007\u0001\u0000"u8.ToArray(), "application/x-rar-compressed"),
        ([0x00, 0x61, 0x73, 0x6D], "application/wasm"),
        ("OggS\u0000"u8.ToArray(), "application/ogg"),
        ([0x1A, 0x45, 0xDF, 0xA3], "video/webm"),
    ];

    public static string Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length > SniffLength) data = data[..SniffLength];
        var start = 0;
        while (start < data.Length && data[start] is (byte)'\t' or (byte)'\n' or 0x0C or (byte)'\r' or (byte)' ') start++;
        var trimmed = data[start..];
        foreach (var tag in HtmlTags)
            if (IsHtmlTag(trimmed, tag)) return "text/html; charset=utf-8";
        if (trimmed.StartsWith("<?xml"u8)) return "text/xml; charset=utf-8";
        foreach (var (signature, type) in Exact)
            if (data.StartsWith(signature)) return type;
        if (data.Length >= 14 && data.StartsWith("RIFF"u8) && data[8..14].SequenceEqual("WEBPVP"u8)) return "image/webp";
        foreach (var b in data)
            if (b <= 0x08 || b == 0x0B || (b >= 0x0E && b <= 0x1A) || (b >= 0x1C && b <= 0x1F)) return "application/octet-stream";
        return "text/plain; charset=utf-8";
    }

    /// <summary>A tag, matched without regard to case, followed by a space or '&gt;' (the WHATWG "tag-terminating byte").</summary>
    private static bool IsHtmlTag(ReadOnlySpan<byte> data, string tag)
    {
        if (data.Length < tag.Length + 1) return false;
        for (var i = 0; i < tag.Length; i++)
        {
            var b = data[i];
            if (b >= 'a' && b <= 'z') b = (byte)(b - 32);
            if (b != tag[i]) return false;
        }
        return data[tag.Length] is (byte)' ' or (byte)'>';
    }

    public static string Detect(string text) => Detect(Encoding.UTF8.GetBytes(text));
}
