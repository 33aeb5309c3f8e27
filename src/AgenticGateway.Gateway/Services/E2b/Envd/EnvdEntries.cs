using System.Globalization;
using System.Text.Json;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// envd's <c>filesystem.EntryInfo</c> from the agent's entry (docs/sandbox-agent-protocol.md, fs.stat): the type as
/// the FileType enum's name, the size as an int64 string, <c>mode</c> the permission bits and <c>permissions</c> Go's
/// FileMode string (<c>drwxr-xr-x</c>), as envd fills them; owner and group by the sandbox's user names.
/// </summary>
internal static class EnvdEntries
{
    public static void Write(Utf8JsonWriter w, JsonElement entry)
    {
        var type = Str(entry, "type");
        var mode = Str(entry, "mode") is { } octal ? Convert.ToInt32(octal, 8) & 0x1FF : 0;
        w.WriteStartObject();
        w.WriteString("name", Str(entry, "name") ?? "");
        w.WriteString("type", type switch
        {
            "file" => "FILE_TYPE_FILE",
            "dir" => "FILE_TYPE_DIRECTORY",
            "symlink" => "FILE_TYPE_SYMLINK",
            _ => "FILE_TYPE_UNSPECIFIED",
        });
        w.WriteString("path", Str(entry, "path") ?? "");
        w.WriteString("size", entry.TryGetProperty("size", out var size) && size.TryGetInt64(out var n) ? n.ToString(CultureInfo.InvariantCulture) : "0");
        w.WriteNumber("mode", mode);
        w.WriteString("permissions", Permissions(type, mode));
        w.WriteString("owner", UserName(entry, "uid"));
        w.WriteString("group", UserName(entry, "gid"));
        if (entry.TryGetProperty("mtime", out var mtime) && mtime.TryGetDouble(out var seconds)) ProtoJson.WriteTimestamp(w, "modifiedTime", seconds);
        if (Str(entry, "symlink_target") is { } target) w.WriteString("symlinkTarget", target);
        w.WriteEndObject();
    }

    /// <summary>Go's os.FileMode.String() for the type and permission bits.</summary>
    public static string Permissions(string? type, int mode)
    {
        Span<char> s = stackalloc char[10];
        s[0] = type switch { "dir" => 'd', "symlink" => 'L', _ => '-' };
        const string rwx = "rwxrwxrwx";
        for (var i = 0; i < 9; i++) s[i + 1] = (mode & (1 << (8 - i))) != 0 ? rwx[i] : '-';
        return new string(s);
    }

    /// <summary>The sandbox's own users (its /etc/passwd and /etc/group); other ids as numbers, as envd does when a lookup fails.</summary>
    private static string UserName(JsonElement entry, string field)
    {
        if (!entry.TryGetProperty(field, out var v) || !v.TryGetInt64(out var id)) return "";
        return id switch
        {
            0 => "root",
            1000 => "user",
            65534 => field == "uid" ? "nobody" : "nogroup",
            _ => id.ToString(CultureInfo.InvariantCulture),
        };
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
