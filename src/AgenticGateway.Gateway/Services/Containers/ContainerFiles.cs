using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Protocol;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.Containers;

/// <summary>One file of a container (openai-node <c>FileRetrieveResponse</c>).</summary>
internal sealed record ContainerFile(string Id, string Path, long Bytes, long CreatedAt, string Source);

/// <summary>
/// A container's files are the regular files under its data directory, read live from the sandbox: what the code
/// wrote there is listed as well as what was uploaded, and the listing ends with the sandbox. A file's id is a hash of
/// the sandbox and the path, so the same file keeps its id across listings and a run's image is known by the id it was
/// saved under; the id is only ever looked up inside the caller's own container.
/// </summary>
internal static class ContainerFiles
{
    /// <summary>
    /// Where a container's files live: the sandbox user's home, the interpreter's working directory. OpenAI's
    /// containers use /mnt/data; a sandbox can write only under /home/user and /tmp, so relative paths and the paths
    /// this API reports are the real ones.
    /// </summary>
    public const string Directory = "/home/user";
    private const int Depth = 4;
    private const int MaxEntries = 1000;
    private const int Chunk = 1 << 20;

    /// <summary>Files a client uploaded (source "user"); the rest were written by code (source "assistant").</summary>
    private static readonly ConditionalWeakTable<Sandbox, HashSet<string>> Uploaded = new();

    public static string IdOf(Sandbox sandbox, string path) =>
        "cfile_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sandbox.Id + "\n" + path)))[..32];

    /// <summary>The container's files (at most 1000), oldest first. Dot files and dot directories (caches, settings) are left out.</summary>
    public static async Task<List<ContainerFile>> ListAsync(Sandbox sandbox, CancellationToken ct)
    {
        var done = await sandbox.Agent.CallAsync(AgentOps.FsList, w => { w.WriteString("path", Directory); w.WriteNumber("depth", Depth); }, ct);
        var files = new List<ContainerFile>();
        if (!done.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array) return files;
        foreach (var entry in entries.EnumerateArray())
        {
            if (entry.GetProperty("type").GetString() != "file" || entry.GetProperty("path").GetString() is not { } path) continue;
            if (!path.StartsWith(Directory + "/", StringComparison.Ordinal) || path[(Directory.Length + 1)..].Split('/').Any(s => s.StartsWith('.'))) continue;
            files.Add(Describe(sandbox, path, entry));
            if (files.Count == MaxEntries) break;
        }
        files.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : string.CompareOrdinal(a.Path, b.Path));
        return files;
    }

    public static async Task<ContainerFile?> FindAsync(Sandbox sandbox, string fileId, CancellationToken ct) =>
        fileId.StartsWith("cfile_", StringComparison.Ordinal) ? (await ListAsync(sandbox, ct)).FirstOrDefault(f => f.Id == fileId) : null;

    /// <summary>A new file's path from the name a client gave it: its last segment, in the data directory; null when it cannot be one.</summary>
    public static string? PathFor(string? fileName)
    {
        var name = fileName?.Replace('\\', '/').Split('/')[^1].Trim();
        if (string.IsNullOrEmpty(name) || name.StartsWith('.') || name.Length > 255 || name.Any(char.IsControl)) return null;
        return Directory + "/" + name;
    }

    /// <summary>Writes <paramref name="data"/> to <paramref name="path"/> (replacing it) through the agent, in chunks of one upload.</summary>
    public static async Task<ContainerFile> SaveAsync(Sandbox sandbox, string path, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var upload = Guid.NewGuid().ToString("N");
        var offset = 0;
        do
        {
            var length = Math.Min(Chunk, data.Length - offset);
            await FileEndpoints.WriteChunkAsync(sandbox, path, Convert.ToBase64String(data.Span.Slice(offset, length)), offset, offset + length == data.Length, upload, ct);
            offset += length;
        } while (offset < data.Length);
        return await StatAsync(sandbox, path, ct);
    }

    /// <summary>Records that a client uploaded the file at <paramref name="path"/>.</summary>
    public static void MarkUploaded(Sandbox sandbox, string path)
    {
        var set = Uploaded.GetValue(sandbox, _ => []);
        lock (set) set.Add(path);
    }

    public static async Task<ContainerFile> StatAsync(Sandbox sandbox, string path, CancellationToken ct)
    {
        var done = await sandbox.Agent.CallAsync(AgentOps.FsStat, w => w.WriteString("path", path), ct);
        return Describe(sandbox, path, done.GetProperty("entry"));
    }

    public static Task RemoveAsync(Sandbox sandbox, ContainerFile file, CancellationToken ct) =>
        sandbox.Agent.CallAsync(AgentOps.FsRemove, w => w.WriteString("path", file.Path), ct);

    private static ContainerFile Describe(Sandbox sandbox, string path, JsonElement entry)
    {
        var uploaded = Uploaded.TryGetValue(sandbox, out var set) && Contains(set, path);
        var mtime = entry.TryGetProperty("mtime", out var m) && m.TryGetDouble(out var t) ? (long)t : sandbox.CreatedAt.ToUnixTimeSeconds();
        return new ContainerFile(IdOf(sandbox, path), path, entry.TryGetProperty("size", out var s) && s.TryGetInt64(out var n) ? n : 0, mtime, uploaded ? "user" : "assistant");
    }

    private static bool Contains(HashSet<string> set, string path)
    {
        lock (set) return set.Contains(path);
    }

    public static void Write(Utf8JsonWriter w, string containerId, ContainerFile file)
    {
        w.WriteStartObject();
        w.WriteString("id", file.Id);
        w.WriteString("object", "container.file");
        w.WriteNumber("created_at", file.CreatedAt);
        w.WriteNumber("bytes", file.Bytes);
        w.WriteString("container_id", containerId);
        w.WriteString("path", file.Path);
        w.WriteString("source", file.Source);
        w.WriteEndObject();
    }
}
