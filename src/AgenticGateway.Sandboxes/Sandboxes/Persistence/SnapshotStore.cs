using System.Security.Cryptography;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes.Persistence;

/// <summary>A saved state on disk: its manifest, its directory, and the manifest's SHA-256 as committed.</summary>
internal sealed record StoredState(SnapshotManifest Manifest, string Directory, string ManifestSha256);

/// <summary>
/// Saved states on disk, under the data directory: <c>paused/&lt;sandbox id&gt;/</c> and
/// <c>snapshots/&lt;snapshot id&gt;/</c>, each with its files, manifest.json (every file's size and SHA-256) and
/// manifest.json.sha256. A state is written in <c>staging/</c> and moved into place once complete, so a crash
/// mid-save leaves nothing that looks resumable. Checksums catch corruption (a bad disk, a truncated copy, an edit by
/// hand); the data directory is the gateway's own, so they are not a defence against its owner.
/// </summary>
internal sealed class SnapshotStore(string root)
{
    public const string ManifestFile = "manifest.json";
    public const string ManifestHashFile = "manifest.json.sha256";

    public string Root { get; } = root;

    private string Staging => Path.Join(Root, "staging");

    private string KindDirectory(string kind) => Path.Join(Root, kind == SnapshotManifest.PausedKind ? "paused" : "snapshots");

    /// <summary>A new empty private directory to save a state into.</summary>
    public string NewStaging()
    {
        CreatePrivate(Root);
        CreatePrivate(Staging);
        var path = Path.Join(Staging, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        CreatePrivate(path);
        return path;
    }

    /// <summary>
    /// Hashes every file the driver wrote into <paramref name="staging"/>, writes the manifest and its hash, and moves
    /// the directory to its place (replacing an earlier state of the same id).
    /// </summary>
    public async Task<StoredState> CommitAsync(string staging, SnapshotManifest manifest, CancellationToken cancellationToken)
    {
        var files = new List<SnapshotFile>();
        foreach (var path in Directory.EnumerateFiles(staging).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            files.Add(new SnapshotFile(name, new FileInfo(path).Length, await HashFileAsync(path, cancellationToken)));
        }
        manifest = manifest with { Files = files };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, PersistenceJson.Default.SnapshotManifest);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        UnixFiles.WriteOwnerOnly(Path.Join(staging, ManifestFile), bytes);
        UnixFiles.WriteOwnerOnly(Path.Join(staging, ManifestHashFile), System.Text.Encoding.ASCII.GetBytes(hash + "\n"));
        var kindDirectory = KindDirectory(manifest.Kind);
        CreatePrivate(kindDirectory);
        var target = Path.Join(kindDirectory, manifest.Id);
        UnixFiles.TryDeleteTree(target);
        Directory.Move(staging, target);
        return new StoredState(manifest, target, hash);
    }

    /// <summary>
    /// Null when the manifest and every file it lists match their SHA-256; otherwise the refusal naming the state and
    /// the first file that does not (missing, wrong size or wrong checksum).
    /// </summary>
    public static async Task<ApiError?> VerifyAsync(StoredState state, CancellationToken cancellationToken)
    {
        var what = state.Manifest.Kind == SnapshotManifest.PausedKind ? "paused sandbox" : "snapshot";
        ApiError Corrupt(string file, string problem) =>
            new(422, $"The {what} {state.Manifest.Id} is corrupt and was not resumed: {file} {problem}. Delete it; its state cannot be trusted.", "invalid_request_error", "snapshot_corrupt");
        var manifestPath = Path.Join(state.Directory, ManifestFile);
        if (!File.Exists(manifestPath)) return Corrupt(ManifestFile, "is missing");
        if (await HashFileAsync(manifestPath, cancellationToken) != state.ManifestSha256) return Corrupt(ManifestFile, "checksum mismatch");
        foreach (var file in state.Manifest.Files)
        {
            var path = Path.Join(state.Directory, file.Name);
            if (!File.Exists(path)) return Corrupt(file.Name, "is missing");
            if (new FileInfo(path).Length != file.Size) return Corrupt(file.Name, "size mismatch");
            if (await HashFileAsync(path, cancellationToken) != file.Sha256) return Corrupt(file.Name, "checksum mismatch");
        }
        return null;
    }

    public static void Delete(StoredState state) => UnixFiles.TryDeleteTree(state.Directory);

    /// <summary>
    /// Every state an earlier run left (paused sandboxes survive a restart), after removing unfinished saves. A state
    /// whose manifest is unreadable or fails its own checksum is reported and left on disk for the operator.
    /// </summary>
    public List<StoredState> LoadAll(Action<string, string> problem)
    {
        var states = new List<StoredState>();
        UnixFiles.TryDeleteTree(Staging);
        foreach (var kind in new[] { SnapshotManifest.PausedKind, SnapshotManifest.SnapshotKind })
        {
            var kindDirectory = KindDirectory(kind);
            if (!Directory.Exists(kindDirectory)) continue;
            foreach (var directory in Directory.EnumerateDirectories(kindDirectory))
            {
                try
                {
                    var bytes = File.ReadAllBytes(Path.Join(directory, ManifestFile));
                    var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                    if (File.ReadAllText(Path.Join(directory, ManifestHashFile)).Trim() != hash) { problem(directory, "manifest.json checksum mismatch"); continue; }
                    var manifest = JsonSerializer.Deserialize(bytes, PersistenceJson.Default.SnapshotManifest);
                    if (manifest is null || manifest.Kind != kind || manifest.Id != Path.GetFileName(directory) || manifest.Format != SnapshotManifest.CurrentFormat
                        || manifest.Files.Any(f => f.Name != Path.GetFileName(f.Name) || f.Name is "." or ".." || f.Name.StartsWith(ManifestFile, StringComparison.Ordinal)))
                    {
                        problem(directory, "manifest.json does not describe this directory");
                        continue;
                    }
                    states.Add(new StoredState(manifest, directory, hash));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
                {
                    problem(directory, ex.Message);
                }
            }
        }
        return states;
    }

    private static void CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, UnixFiles.Private);
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }
}
