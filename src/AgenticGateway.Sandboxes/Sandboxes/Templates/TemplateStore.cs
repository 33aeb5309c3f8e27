using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// Every owner's templates, their builds and the layer cache, under <c>&lt;data dir&gt;/templates</c>:
/// <c>records/&lt;id&gt;.json</c> (one template each), <c>layers/&lt;digest&gt;/</c> (<c>layer.tar</c> and its
/// <c>manifest.json</c>), <c>images/&lt;digest&gt;/</c> (microVM boot images, <see cref="TemplateImages"/>), <c>staging/</c> (uploads while a build runs). A layer is addressed by the SHA-256 of the spec
/// and the files it copies, so building the same spec and inputs again (by anyone) is a cache hit, not a build.
/// Templates are scoped to their owner like sandboxes; the master key's may be public, usable by every caller.
/// </summary>
internal sealed class TemplateStore : IDisposable
{
    public const string AdminOwner = "admin";
    private const int KeptBuilds = 20;
    private readonly string _records;
    private readonly string _layers;
    private readonly string _dataDirectory;
    private readonly SandboxManager _manager;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TemplateRecord> _templates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TemplateBuild> _builds = new(StringComparer.Ordinal);
    /// <summary>One build per layer at a time: a second request for a layer being built waits for that one.</summary>
    private readonly ConcurrentDictionary<string, Task<bool>> _building = new(StringComparer.Ordinal);
    private readonly Lock _names = new();
    private readonly CancellationTokenSource _stopping = new();

    public TemplateStore(string dataDirectory, SandboxManager manager, TimeProvider time, ILogger<TemplateStore> logger)
    {
        var root = Path.Join(Path.GetFullPath(dataDirectory), "templates");
        _records = Path.Join(root, "records");
        _layers = Path.Join(root, "layers");
        _dataDirectory = dataDirectory;
        Staging = Path.Join(root, "staging");
        _manager = manager;
        _time = time;
        _logger = logger;
        Load();
    }

    public string Staging { get; }

    /// <summary>A new upload area for a build request's files (the caller disposes it if the build is refused).</summary>
    public TemplateContext NewContext() => new(Staging, _manager.Options.MaxFileBytes);

    private void Load()
    {
        foreach (var directory in new[] { _records, _layers, Staging }) Directory.CreateDirectory(directory);
        UnixFiles.SetMode(Path.GetDirectoryName(_records)!, UnixFiles.Private);
        // Uploads of builds a crash interrupted, and layers never finished.
        foreach (var leftover in Directory.EnumerateFileSystemEntries(Staging)) UnixFiles.TryDeleteTree(leftover);
        foreach (var partial in Directory.EnumerateDirectories(_layers, "*.tmp")) UnixFiles.TryDeleteTree(partial);
        var images = TemplateImages.Root(_dataDirectory);
        if (Directory.Exists(images))
            foreach (var partial in Directory.EnumerateDirectories(images, "*.tmp", SearchOption.AllDirectories)) UnixFiles.TryDeleteTree(partial);
        foreach (var file in Directory.EnumerateFiles(_records, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(file), TemplateJson.Default.TemplateRecord) is { } record) _templates[record.Id] = record;
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                TemplateLog.RecordUnreadable(_logger, file, ex.Message);
            }
        }
    }

    /// <summary>The caller's own template by id or name (another owner's is not found: its existence is not revealed).</summary>
    public TemplateRecord? Find(string owner, string idOrName) =>
        _templates.TryGetValue(idOrName, out var byId) && byId.Owner == owner ? byId
        : _templates.Values.FirstOrDefault(t => t.Owner == owner && t.Name == idOrName);

    /// <summary>A template the caller may start sandboxes from: their own first, else a public one.</summary>
    public TemplateRecord? Resolve(string owner, string idOrName) =>
        Find(owner, idOrName)
        ?? (_templates.TryGetValue(idOrName, out var byId) && byId.Public ? byId : _templates.Values.FirstOrDefault(t => t.Public && t.Name == idOrName));

    /// <summary>The caller's templates and the public ones.</summary>
    public IEnumerable<TemplateRecord> List(string owner) =>
        _templates.Values.Where(t => t.Owner == owner || t.Public).OrderBy(t => t.CreatedAt);

    public IEnumerable<TemplateBuild> Builds(TemplateRecord template) =>
        _builds.Values.Where(b => b.TemplateId == template.Id).OrderBy(b => b.StartedAt);

    public TemplateBuild? FindBuild(TemplateRecord template, string buildId) =>
        _builds.TryGetValue(buildId, out var b) && b.TemplateId == template.Id ? b : null;

    /// <summary>
    /// What a sandbox created from <paramref name="idOrName"/> starts with, or null when the caller has no such
    /// template; a template without a successful build yet is an error.
    /// </summary>
    public (SandboxTemplate? Template, ApiError? Error) ForSandbox(string owner, string idOrName)
    {
        if (Resolve(owner, idOrName) is not { } t) return (null, null);
        if (t.Digest is null || !File.Exists(LayerFile(t.Digest)))
            return (null, new ApiError(409, $"Template '{t.Name}' has no successful build yet.", "invalid_request_error", "template_not_ready", "template"));
        return (new SandboxTemplate(t.Id, t.Name, t.Runtime, LayerFile(t.Digest), t.Env, t.Workdir, t.StartCommand), null);
    }

    private string LayerFile(string digest) => Path.Join(_layers, digest, "layer.tar");

    /// <summary>
    /// Starts a build of <paramref name="request"/> for <paramref name="owner"/> (creating the template, or a new build
    /// of theirs of that name); takes over <paramref name="context"/>. A cached layer makes the build ready at once.
    /// </summary>
    /// <param name="templateId">The id a new template gets (E2B's API hands it out before the build starts); ignored for an existing one.</param>
    /// <param name="buildId">The build's id, when handed out before (E2B).</param>
    public (TemplateRecord? Template, TemplateBuild? Build, ApiError? Error) Build(string owner, TemplateRequest request, TemplateContext context, string? templateId = null, string? buildId = null)
    {
        var spec = request.Spec;
        if (request.Public && owner != AdminOwner)
        {
            context.Dispose();
            return (null, null, new ApiError(403, "Only the master key may build a public template.", "permission_error", "template_public_denied", "public"));
        }
        foreach (var step in spec.Steps.Where(s => s.Kind == TemplateStepKind.Copy))
            foreach (var source in step.Args.Take(step.Args.Length - 1))
                if (context.Select(source) is null)
                {
                    context.Dispose();
                    return (null, null, ApiError.BadRequest($"line {step.Line}: COPY {DockerfileParser.Shown(source)}: no such file or directory in the upload ({context.Count} files uploaded).", "files"));
                }
        var digest = spec.Digest(context.Digest());
        var now = _time.GetUtcNow();
        TemplateRecord template;
        TemplateBuild build;
        lock (_names)
        {
            var existing = Find(owner, request.Name);
            var id = existing?.Id ?? templateId ?? NewTemplateId();
            build = new TemplateBuild(buildId ?? NewBuildId(), id, digest, now);
            // Until this build succeeds, the template keeps serving its last good layer and defaults.
            template = (existing ?? new TemplateRecord { Id = id, Name = request.Name, Owner = owner, Runtime = spec.Runtime, CreatedAt = now })
                with { Public = request.Public, LastBuildId = build.Id, BuildCount = (existing?.BuildCount ?? 0) + 1, UpdatedAt = now };
            _templates[id] = template;
            _builds[build.Id] = build;
            // Only a template's most recent builds are kept (in memory), so their logs stay bounded.
            foreach (var old in _builds.Values.Where(b => b.TemplateId == id && b.FinishedAt is not null).OrderByDescending(b => b.StartedAt).Skip(KeptBuilds).ToList())
                _builds.TryRemove(old.Id, out _);
            Save(template);
        }
        TemplateLog.BuildStarted(_logger, template.Name, template.Id, owner, build.Id, digest);
        _ = RunAsync(owner, template.Id, request, context, build);
        return (template, build, null);
    }

    public static string NewTemplateId() => "tpl-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string NewBuildId() => "bld-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private async Task RunAsync(string owner, string templateId, TemplateRequest request, TemplateContext context, TemplateBuild build)
    {
        var watch = Stopwatch.StartNew();
        var cached = File.Exists(LayerFile(build.Digest));
        try
        {
            if (cached && !Intact(build.Digest))
            {
                build.Log($"The cached layer {build.Digest} does not match its manifest's checksum: building it again", "warn");
                UnixFiles.TryDeleteTree(Path.Join(_layers, build.Digest));
                cached = false;
            }
            if (cached) build.Log($"Cache hit: layer {build.Digest} was built before from the same spec and files");
            else
            {
                var mine = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                var running = _building.GetOrAdd(build.Digest, mine.Task);
                if (running != mine.Task)
                {
                    build.Log("The same layer is being built by another request: waiting for it");
                    if (!await running) throw new TemplateBuildException("The build of the same layer by another request failed.", null);
                    cached = true;
                }
                else
                {
                    try
                    {
                        await BuildLayerAsync(owner, request.Spec, context, build);
                        mine.SetResult(true);
                    }
                    catch
                    {
                        mine.SetResult(false);
                        throw;
                    }
                    finally { _building.TryRemove(build.Digest, out _); }
                }
            }
            var size = new FileInfo(LayerFile(build.Digest)).Length;
            lock (_names)
            {
                // The template may have been deleted meanwhile: then the build only fills the cache.
                if (_templates.TryGetValue(templateId, out var current))
                {
                    var spec = request.Spec;
                    var updated = current with
                    {
                        Runtime = spec.Runtime, Digest = build.Digest, Env = spec.Env, Workdir = spec.Workdir, StartCommand = spec.StartCommand,
                        LayerBytes = size, UpdatedAt = _time.GetUtcNow(),
                    };
                    _templates[templateId] = updated;
                    Save(updated);
                }
            }
            build.Log(cached ? "Ready (from the cache)" : "Ready");
            build.Succeeded(cached, _time.GetUtcNow());
            TemplateLog.BuildReady(_logger, build.Id, watch.Elapsed.TotalMilliseconds, cached ? "cache" : "built");
        }
        catch (Exception ex) when (ex is TemplateBuildException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            var reason = ex is OperationCanceledException ? "The gateway stopped during the build." : ex.Message;
            build.Failed(reason, (ex as TemplateBuildException)?.Line, _time.GetUtcNow());
            TemplateLog.BuildFailed(_logger, build.Id, reason);
        }
        finally { context.Dispose(); }
    }

    /// <summary>Whether a cached layer still has the SHA-256 its manifest recorded (read in the build's background task, never on a request).</summary>
    private bool Intact(string digest)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Join(_layers, digest, "manifest.json")), TemplateManifestJson.Default.DictionaryStringString);
            return manifest is not null && manifest.TryGetValue("layer_sha256", out var sha) && sha == TemplateBuilder.FileDigest(LayerFile(digest));
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Builds into a temporary directory, moved into place whole: a layer directory that exists is complete.</summary>
    private async Task BuildLayerAsync(string owner, TemplateSpec spec, TemplateContext context, TemplateBuild build)
    {
        var final = Path.Join(_layers, build.Digest);
        var temp = final + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        Directory.CreateDirectory(temp);
        try
        {
            var layer = Path.Join(temp, "layer.tar");
            var size = await TemplateBuilder.BuildAsync(_manager, owner, spec, context, build, layer, Staging, _stopping.Token);
            var manifest = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
            {
                ["digest"] = build.Digest, ["runtime"] = spec.Runtime, ["layer_sha256"] = TemplateBuilder.FileDigest(layer),
                ["layer_bytes"] = size.ToString(System.Globalization.CultureInfo.InvariantCulture), ["built_at"] = _time.GetUtcNow().ToString("O"),
            }, TemplateManifestJson.Default.DictionaryStringString);
            File.WriteAllBytes(Path.Join(temp, "manifest.json"), manifest);
            try { Directory.Move(temp, final); }
            catch (IOException) when (Directory.Exists(final)) { }   // built meanwhile by another gateway on the same data dir
        }
        finally { UnixFiles.TryDeleteTree(temp); }
    }

    /// <summary>Deletes the caller's template; its layer goes too unless another template uses it.</summary>
    public bool Delete(string owner, string idOrName)
    {
        lock (_names)
        {
            if (Find(owner, idOrName) is not { } t) return false;
            _templates.TryRemove(t.Id, out _);
            File.Delete(Path.Join(_records, t.Id + ".json"));
            foreach (var b in _builds.Values.Where(b => b.TemplateId == t.Id).ToList()) _builds.TryRemove(b.Id, out _);
            if (t.Digest is { } digest && !_templates.Values.Any(o => o.Digest == digest) && !_building.ContainsKey(digest))
            {
                UnixFiles.TryDeleteTree(Path.Join(_layers, digest));
                TemplateImages.Delete(_dataDirectory, digest);
            }
            return true;
        }
    }

    private void Save(TemplateRecord record)
    {
        var file = Path.Join(_records, record.Id + ".json");
        var temp = file + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(record, TemplateJson.Default.TemplateRecord));
        File.Move(temp, file, overwrite: true);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class TemplateManifestJson : System.Text.Json.Serialization.JsonSerializerContext;
