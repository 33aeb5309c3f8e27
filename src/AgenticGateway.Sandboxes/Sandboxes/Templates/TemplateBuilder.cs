using System.Collections.Immutable;
using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// Builds a template's layer in a real sandbox of its base runtime, created through the manager like any other (so on
/// the runtime's driver, counted against the owner's quota, with the template's network policy: none by default).
/// The packages are installed first (from the package cache, or through the egress proxy), then each step runs in
/// order; the home directory is then archived and copied out as the layer. ENV and WORKDIR steps shape the later
/// steps and become the template's defaults.
/// </summary>
internal static class TemplateBuilder
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(10);
    private const string LayerInSandbox = "/tmp/.agw-layer.tar";

    /// <summary>Writes the layer to <paramref name="layerFile"/>; returns its size. Throws <see cref="TemplateBuildException"/> for a failure of the build itself.</summary>
    public static async Task<long> BuildAsync(SandboxManager manager, string owner, TemplateSpec spec, TemplateContext context, TemplateBuild build,
        string layerFile, string stagingDirectory, CancellationToken cancellationToken)
    {
        var options = manager.Options;
        var timeout = TimeSpan.FromMinutes(30) < options.Max.Timeout ? TimeSpan.FromMinutes(30) : options.Max.Timeout;
        var sandboxSpec = new SandboxSpec
        {
            Runtime = spec.Runtime,
            Resources = options.Defaults with { Timeout = timeout },
            Network = spec.Network,
            Packages = spec.Packages,
            Metadata = ImmutableDictionary<string, string>.Empty.Add("agw.template_build", build.Id),
        };
        build.Log($"Starting a {spec.Runtime} sandbox (network {(spec.Network.Mode == NetworkMode.None ? "none" : "allowlist: " + string.Join(", ", spec.Network.AllowHosts))})"
            + (spec.Packages.IsEmpty ? "" : $" and installing {string.Join(", ", spec.Packages)}"));
        var (sandbox, error) = await manager.CreateAsync(owner, sandboxSpec, cancellationToken);
        if (error is not null) throw new TemplateBuildException($"The build sandbox could not be created: {error.Message}", null);
        try
        {
            var agent = sandbox!.Agent;
            var env = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
            var workdir = TemplatePaths.Home;
            var n = 0;
            foreach (var step in spec.Steps)
            {
                n++;
                var at = $"step {n}/{spec.Steps.Length} (line {step.Line})";
                switch (step.Kind)
                {
                    case TemplateStepKind.Env:
                        env = env.SetItem(step.Args[0], step.Args[1]);
                        build.Log($"{at}: ENV {step.Args[0]}");
                        break;
                    case TemplateStepKind.Workdir:
                        workdir = step.Args[0];
                        build.Log($"{at}: WORKDIR {workdir}");
                        await agent.CallAsync(AgentOps.FsMkdir, w => w.WriteString("path", workdir), cancellationToken);
                        break;
                    case TemplateStepKind.Run:
                        build.Log($"{at}: RUN {step.Args[0]}");
                        var output = new StringBuilder();
                        var exit = await TemplateAgent.RunAsync(agent, step.Args[0], workdir, env, StepTimeout, (text, stderr) =>
                        {
                            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries)) build.Log(line.TrimEnd('\r'), stderr ? "warn" : "info");
                            if (output.Length < 8192) output.Append(text);
                        }, cancellationToken);
                        if (exit != 0)
                        {
                            var hint = spec.Network.Mode == NetworkMode.None
                                ? " The build has no network (network \"none\"): a step that downloads must use network \"allowlist\" with the hosts in allow_hosts, or install packages from the package cache."
                                : "";
                            throw new TemplateBuildException($"line {step.Line}: RUN exited with code {exit.ToString(CultureInfo.InvariantCulture)}.{hint}", step.Line);
                        }
                        break;
                    case TemplateStepKind.Copy:
                        build.Log($"{at}: COPY {string.Join(' ', step.Args)}");
                        await CopyAsync(agent, context, step, stagingDirectory, cancellationToken);
                        break;
                    case TemplateStepKind.Write:
                        build.Log($"{at}: file {step.Args[0]}");
                        var tar = Path.Join(stagingDirectory, "w-" + Guid.NewGuid().ToString("N") + ".tar");
                        try
                        {
                            await using (var file = File.Create(tar))
                            await using (var writer = new TarWriter(file, TarEntryFormat.Pax))
                            {
                                var entry = new PaxTarEntry(TarEntryType.RegularFile, step.Args[0][(TemplatePaths.Home.Length + 1)..])
                                {
                                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(step.Args[1])),
                                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                                };
                                await writer.WriteEntryAsync(entry, cancellationToken);
                            }
                            await TemplateAgent.ExtractAsync(agent, tar, TemplatePaths.Home, cancellationToken);
                        }
                        finally { File.Delete(tar); }
                        break;
                }
            }

            build.Log("Saving the layer (the home directory)");
            var archive = await TemplateAgent.RunAsync(agent, $"tar -cf {LayerInSandbox} -C {TemplatePaths.Home} .", "/tmp", ImmutableDictionary<string, string>.Empty,
                StepTimeout, (text, _) => build.Log(text.Trim(), "warn"), cancellationToken);
            if (archive != 0) throw new TemplateBuildException($"Archiving the home directory failed (exit code {archive}).", null);
            var maxBytes = (long)options.Max.DiskMb << 20;
            await using (var layer = File.Create(layerFile))
                if (!await TemplateAgent.GetAsync(agent, LayerInSandbox, layer, maxBytes, cancellationToken))
                    throw new TemplateBuildException($"The layer is larger than {options.Max.DiskMb} MB (sandboxes.max.disk_mb).", null);
            var size = new FileInfo(layerFile).Length;
            build.Log($"Layer saved: {size} bytes");
            return size;
        }
        catch (AgentException ex)
        {
            throw new TemplateBuildException($"The build sandbox failed: {ex.Message}", null);
        }
        finally
        {
            await manager.EndAsync(sandbox!, "template_build");
        }
    }

    /// <summary>
    /// COPY as Docker does it: a file to a file (or into a directory named with a trailing /), a directory's contents
    /// into the destination directory. The selected files go in as one tar archive, unpacked by the sandbox user.
    /// </summary>
    private static async Task CopyAsync(AgentConnection agent, TemplateContext context, TemplateStep step, string stagingDirectory, CancellationToken cancellationToken)
    {
        var destination = step.Args[^1];
        var intoDirectory = destination.EndsWith('/');
        var root = destination.TrimEnd('/');
        var tar = Path.Join(stagingDirectory, "c-" + Guid.NewGuid().ToString("N") + ".tar");
        try
        {
            string extractAt;
            await using (var file = File.Create(tar))
            await using (var writer = new TarWriter(file, TarEntryFormat.Pax))
            {
                var single = step.Args.Length == 2 && !context.IsDirectory(step.Args[0]);
                // A single file copied to a name: the archive holds it under that name, unpacked in its parent.
                extractAt = single && !intoDirectory ? root[..root.LastIndexOf('/')] : root;
                foreach (var source in step.Args.Take(step.Args.Length - 1))
                {
                    var files = context.Select(source) ?? throw new TemplateBuildException($"line {step.Line}: COPY {DockerfileParser.Shown(source)}: no such file or directory in the upload.", step.Line);
                    foreach (var (relative, full, mode) in files)
                    {
                        var name = single && !intoDirectory ? root[(root.LastIndexOf('/') + 1)..] : relative;
                        await using var data = File.OpenRead(full);
                        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = data, Mode = mode }, cancellationToken);
                    }
                }
            }
            await TemplateAgent.ExtractAsync(agent, tar, extractAt, cancellationToken);
        }
        finally { File.Delete(tar); }
    }

    /// <summary>The layer file's SHA-256, kept in the manifest: a cache hit whose file no longer matches is built again.</summary>
    public static string FileDigest(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>A build that failed for a reason of its own (a step's exit code, a missing COPY source), phrased for the caller.</summary>
internal sealed class TemplateBuildException(string message, int? line) : Exception(message)
{
    public int? Line { get; } = line;
}
