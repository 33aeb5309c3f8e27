using System.Formats.Tar;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>
/// A sandbox's writable directories (/home/user and /tmp) as one tar file: written by tar inside the sandbox, as the
/// sandbox's user, and streamed out through the agent (so nothing on the host walks a tree whose symlinks the tenant
/// can swap while it is read); unpacked on the host into a fresh sandbox before any tenant code runs there, treating
/// the archive as untrusted (only those two trees, no device files, symlinks made last so nothing is written through one).
/// </summary>
internal static class SandboxFilesArchive
{
    public const string FileName = "files.tar";
    private static readonly string[] Roots = ["home/user", "tmp"];

    /// <summary>Runs tar in the sandbox and writes its archive to <paramref name="file"/>; at most <paramref name="maxBytes"/>.</summary>
    public static async Task SaveAsync(AgentConnection agent, string file, long maxBytes, CancellationToken cancellationToken)
    {
        // base64 because the agent sends stdout as text. The agent's own files in /tmp (.agw-<pid>: bash cells,
        // unfinished uploads) belong to the agent that made them, not to the sandbox's next one. tar's exit code 1 is "a file changed as it was read" (a
        // running sandbox), which still makes a whole archive; 2 is a real failure.
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException();
        var base64Limit = (maxBytes + 2) / 3 * 4;
        var call = agent.Start(AgentOps.ProcessStart, w =>
        {
            w.WriteString("cmd", "set -o pipefail; /usr/bin/tar --numeric-owner --sparse --exclude='tmp/.agw-*' -C / -cf - home/user tmp | /usr/bin/base64 -w 0");
            w.WriteString("cwd", "/tmp");
            w.WriteNumber("max_output_bytes", base64Limit + 1);
        });
        var stderr = new StringBuilder();
        await using var output = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous, UnixCreateMode = UnixFiles.OwnerOnly });
        var pending = new StringBuilder();
        long received = 0;
        try
        {
            await foreach (var e in call.Events.ReadAllAsync(cancellationToken))
            {
                switch (e.Type)
                {
                    case "stdout":
                        var text = e.String("data") ?? "";
                        received += text.Length;
                        if (received > base64Limit) throw new IOException($"the sandbox's files exceed {maxBytes >> 20} MiB");
                        pending.Append(text);
                        await FlushAsync(pending, output, final: false, cancellationToken);
                        break;
                    case "stderr":
                        if (stderr.Length < 2000) stderr.Append(e.String("data"));
                        break;
                    case "error":
                        throw AgentConnection.ToException(e);
                    case "done":
                        var exit = e.Body.TryGetProperty("exit_code", out var code) && code.TryGetInt32(out var c) ? c : -1;
                        if (exit is not (0 or 1)) throw new IOException($"tar in the sandbox failed (exit code {exit}): {stderr.ToString().Trim()}");
                        if (e.Body.TryGetProperty("truncated", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.True)
                            throw new IOException($"the sandbox's files exceed {maxBytes >> 20} MiB");
                        await FlushAsync(pending, output, final: true, cancellationToken);
                        return;
                }
            }
            throw new IOException("the sandbox ended while its files were saved");
        }
        catch
        {
            call.Cancel();
            throw;
        }
    }

    /// <summary>Decodes the whole 4-character groups received so far (all of it at the end).</summary>
    private static async Task FlushAsync(StringBuilder pending, FileStream output, bool final, CancellationToken cancellationToken)
    {
        var usable = final ? pending.Length : pending.Length / 4 * 4;
        if (usable == 0) return;
        var chunk = pending.ToString(0, usable);
        pending.Remove(0, usable);
        byte[] bytes;
        try { bytes = Convert.FromBase64String(chunk); }
        catch (FormatException) { throw new IOException("the sandbox's archive stream was not base64"); }
        await output.WriteAsync(bytes, cancellationToken);
    }

    /// <summary>
    /// Unpacks <paramref name="archive"/> under <paramref name="sandboxRoot"/> (the new sandbox's root as the host reaches
    /// it, /proc/&lt;pid&gt;/root). Blocking: run it off the request threads. Files are created with the caller's
    /// file-system identity (the caller sets it to the sandbox user's host uid when the gateway is root).
    /// </summary>
    public static void Restore(string sandboxRoot, Stream archive)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException();
        var links = new List<(string Path, string Target)>();
        var hardLinks = new List<(string Path, string Target)>();
        var directories = new List<(string Path, UnixFileMode Mode, DateTimeOffset Modified)>();
        using var reader = new TarReader(archive, leaveOpen: true);
        while (reader.GetNextEntry() is { } entry)
        {
            var relative = Relative(entry.Name);
            if (relative is null) throw new InvalidDataException($"the archive has an entry outside /home/user and /tmp: {Shown(entry.Name)}");
            if (Roots.Contains(relative)) continue;        // the tmpfs roots themselves keep their own modes
            var path = Path.Join(sandboxRoot, relative);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(path);
                    directories.Add((path, entry.Mode, entry.ModificationTime));
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.SparseFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    if (File.Exists(path) || Directory.Exists(path)) Remove(path);
                    using (var target = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = entry.Mode & (UnixFileMode)0x1FF | UnixFileMode.UserWrite }))
                        entry.DataStream?.CopyTo(target);
                    File.SetUnixFileMode(path, entry.Mode & (UnixFileMode)0xFFF & ~(UnixFileMode.SetUser | UnixFileMode.SetGroup));
                    File.SetLastWriteTimeUtc(path, entry.ModificationTime.UtcDateTime);
                    break;
                case TarEntryType.SymbolicLink:
                    links.Add((path, entry.LinkName));
                    break;
                case TarEntryType.HardLink:
                    var linked = Relative(entry.LinkName) ?? throw new InvalidDataException($"the archive links outside /home/user and /tmp: {Shown(entry.LinkName)}");
                    hardLinks.Add((path, Path.Join(sandboxRoot, linked)));
                    break;
                default:
                    break;          // fifos, devices: a sandbox has no business keeping them
            }
        }
        // A hard link becomes a copy (the host cannot link across its view of the sandbox the same way); then the
        // symlinks, last, so that no file above was written through one.
        foreach (var (path, target) in hardLinks)
        {
            if (!File.Exists(target) || new FileInfo(target).LinkTarget is not null) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Copy(target, path, overwrite: true);
        }
        foreach (var (path, target) in links)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (File.Exists(path) || Directory.Exists(path)) Remove(path);
            File.CreateSymbolicLink(path, target);
        }
        // Directory modes last: a read-only directory would have refused its own contents.
        foreach (var (path, mode, modified) in Enumerable.Reverse(directories))
        {
            File.SetUnixFileMode(path, mode & (UnixFileMode)0xFFF & ~(UnixFileMode.SetUser | UnixFileMode.SetGroup));
            Directory.SetLastWriteTimeUtc(path, modified.UtcDateTime);
        }
    }

    /// <summary>The entry's path relative to /, when it is one of the roots or below them, without any "..".</summary>
    private static string? Relative(string name)
    {
        var trimmed = name.TrimStart('/');
        if (trimmed.StartsWith("./", StringComparison.Ordinal)) trimmed = trimmed[2..];
        trimmed = trimmed.TrimEnd('/');
        var parts = trimmed.Split('/');
        if (parts.Any(p => p is "" or "." or ".." || p.Contains('\0'))) return null;
        return Roots.Any(r => trimmed == r || trimmed.StartsWith(r + "/", StringComparison.Ordinal)) ? trimmed : null;
    }

    private static void Remove(string path)
    {
        if (new FileInfo(path).LinkTarget is not null || File.Exists(path)) File.Delete(path);
        else Directory.Delete(path, recursive: true);
    }

    private static string Shown(string text) => text.Length > 100 ? text[..100] + "..." : text;
}
