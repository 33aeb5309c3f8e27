using System.Text;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>Path handling the path middlewares share, with Go's rules where Traefik relies on them.</summary>
internal static class EdgePaths
{
    public static string EnsureLeadingSlash(string path) => path.Length == 0 || path[0] == '/' ? path : "/" + path;

    /// <summary>
    /// Whether <paramref name="path"/> is what Go's path cleaning leaves unchanged (a trailing slash kept): no empty
    /// segment but a trailing one, no "." or "..". Traefik refuses a rewritten path that cleaning would change (400), so
    /// stripping "/api" from "/api//admin" or "/api/../x" cannot reach a route the rule did not allow.
    /// </summary>
    public static bool IsClean(string path)
    {
        if (path.Length == 0) return true;
        if (path[0] != '/') return false;
        var segments = path.AsSpan(1);
        while (true)
        {
            var slash = segments.IndexOf('/');
            var segment = slash < 0 ? segments : segments[..slash];
            if (segment is "." or "..") return false;
            if (slash < 0) return true;
            if (segment.IsEmpty) return false;
            segments = segments[(slash + 1)..];
        }
    }

    /// <summary>
    /// Decodes an escaped path as Kestrel decodes a request's path: every %XX as UTF-8, except %2F, which stays escaped so
    /// that an encoded slash does not become a separator. Returns Go's message for a malformed escape.
    /// </summary>
    public static bool TryUnescape(string escaped, out string path, out string? error)
    {
        path = escaped;
        error = null;
        if (!escaped.Contains('%')) return true;
        var output = new StringBuilder(escaped.Length);
        var pending = new List<byte>();
        for (var i = 0; i < escaped.Length; i++)
        {
            var c = escaped[i];
            if (c != '%')
            {
                Flush();
                output.Append(c);
                continue;
            }
            if (i + 2 >= escaped.Length || !char.IsAsciiHexDigit(escaped[i + 1]) || !char.IsAsciiHexDigit(escaped[i + 2]))
            {
                error = $"invalid URL escape \"{escaped.Substring(i, Math.Min(3, escaped.Length - i))}\"";
                return false;
            }
            var b = byte.Parse(escaped.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null);
            if (b == (byte)'/') { Flush(); output.Append("%2F"); }
            else pending.Add(b);
            i += 2;
        }
        Flush();
        path = output.ToString();
        return true;

        void Flush()
        {
            if (pending.Count == 0) return;
            output.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending)));
            pending.Clear();
        }
    }

    /// <summary>The request's path as it goes upstream, escaped (Go's EscapedPath).</summary>
    public static string Escaped(HttpRequest request) => request.Path.ToUriComponent();

    /// <summary>Sets the path (decoded, as PathString holds it); an empty path is the empty PathString.</summary>
    public static void Set(HttpRequest request, string path) => request.Path = path.Length == 0 ? PathString.Empty : new PathString(path);

    /// <summary>Records a prefix a strip middleware removed, for the load balancer's X-Forwarded-Prefix.</summary>
    public static void AddStrippedPrefix(HttpContext context, string prefix)
    {
        if (context.Edge() is { } edge)
        {
            // Traefik adds one X-Forwarded-Prefix line per strip; one comma-joined value says the same (RFC 9110 5.3).
            edge.StrippedPrefix = edge.StrippedPrefix is null ? prefix : edge.StrippedPrefix + ", " + prefix;
        }
        else
        {
            // Outside the edge's runtime (no request feature) the header itself is the record, as in Traefik.
            context.Request.Headers.Append("X-Forwarded-Prefix", prefix);
        }
    }
}
