using System.Buffers.Binary;
using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The media type of a body from its first bytes, by the WHATWG MIME sniffing rules as Go's http.DetectContentType
/// applies them (what Traefik's contentType middleware uses): HTML and XML, PDF and PostScript, byte-order marks, images,
/// audio and video, fonts, archives and WebAssembly, then plain text unless a binary byte shows, else octet-stream.
/// </summary>
internal static class ContentSniffer
{
    public const int Length = 512;

    private static readonly string[] HtmlTags =
        ["<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"];

    private static readonly (byte[] Prefix, string Type)[] Exact =
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
        ([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], "image/png"),
        ([0xFF, 0xD8, 0xFF], "image/jpeg"),
        ("ID3"u8.ToArray(), "audio/mpeg"),
        ("OggS\0"u8.ToArray(), "application/ogg"),
        ([(byte)'M', (byte)'T', (byte)'h', (byte)'d', 0, 0, 0, 6], "audio/midi"),
        ([0x1A, 0x45, 0xDF, 0xA3], "video/webm"),
        ([0x00, 0x01, 0x00, 0x00], "font/ttf"),
        ("OTTO"u8.ToArray(), "font/otf"),
        ("ttcf"u8.ToArray(), "font/collection"),
        ("wOFF"u8.ToArray(), "font/woff"),
        ("wOF2"u8.ToArray(), "font/woff2"),
        ([0x1F, 0x8B, 0x08], "application/x-gzip"),
        ("PK\u0003\u0004"u8.ToArray(), "application/zip"),
        ([(byte)'R', (byte)'a', (byte)'r', (byte)'!', 0x1A, 0x07, 0x00], "application/x-rar-compressed"),
        ([(byte)'R', (byte)'a', (byte)'r', (byte)'!', 0x1A, 0x07, 0x01, 0x00], "application/x-rar-compressed"),
        ([0x00, 0x61, 0x73, 0x6D], "application/wasm"),
    ];

    public static string Detect(string text) => Detect(System.Text.Encoding.UTF8.GetBytes(text));

    public static string Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length > Length) data = data[..Length];
        var text = data.TrimStart("\t\n\f\r "u8);
        foreach (var tag in HtmlTags)
        {
            if (text.Length <= tag.Length || !Ascii.EqualsIgnoreCase(text[..tag.Length], Encoding.ASCII.GetBytes(tag))) continue;
            // The tag must end there: a space or ">" follows ("<B" is not "<BASE").
            if (text[tag.Length] is (byte)' ' or (byte)'>') return "text/html; charset=utf-8";
        }
        if (text.StartsWith("<?xml"u8)) return "text/xml; charset=utf-8";
        foreach (var (prefix, type) in Exact)
            if (data.StartsWith(prefix)) return type;
        if (data.Length >= 12 && data.StartsWith("RIFF"u8))
        {
            var form = data.Slice(8, 4);
            if (form.SequenceEqual("WEBP"u8) && data.Length >= 14 && data.Slice(12, 2).SequenceEqual("VP"u8)) return "image/webp";
            if (form.SequenceEqual("AVI "u8)) return "video/avi";
            if (form.SequenceEqual("WAVE"u8)) return "audio/wave";
        }
        if (data.Length >= 12 && data.StartsWith("FORM"u8) && data.Slice(8, 4).SequenceEqual("AIFF"u8)) return "audio/aiff";
        if (IsMp4(data)) return "video/mp4";
        foreach (var b in data)
            if (b <= 0x08 || b == 0x0B || b is >= 0x0E and <= 0x1A || b is >= 0x1C and <= 0x1F) return "application/octet-stream";
        return "text/plain; charset=utf-8";
    }

    // An ISO base media file: an "ftyp" box whose major or a compatible brand starts with "mp4".
    private static bool IsMp4(ReadOnlySpan<byte> data)
    {
        if (data.Length < 12) return false;
        var boxSize = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (data.Length < boxSize || boxSize % 4 != 0 || !data.Slice(4, 4).SequenceEqual("ftyp"u8)) return false;
        for (var start = 8; start < boxSize; start += 4)
        {
            if (start == 12) continue; // the minor version, not a brand
            if (start + 3 <= data.Length && data.Slice(start, 3).SequenceEqual("mp4"u8)) return true;
        }
        return false;
    }
}
