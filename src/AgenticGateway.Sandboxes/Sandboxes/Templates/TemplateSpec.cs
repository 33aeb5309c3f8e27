using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Sandboxes.Templates;

internal enum TemplateStepKind { Run, Copy, Env, Workdir, Write }

/// <summary>
/// One build step, in the order written. <see cref="Line"/> is the Dockerfile line (or the step's index in a
/// declarative spec, counted from 1) that errors name.
/// </summary>
/// <param name="Args">Run: the shell command. Copy: the sources, then the destination. Env: name, value.
/// Workdir: the absolute directory. Write: the absolute path, then the file's text.</param>
internal sealed record TemplateStep(TemplateStepKind Kind, ImmutableArray<string> Args, int Line);

/// <summary>
/// A template to build, whichever way it was written (a declarative spec or the Dockerfile subset): the runtime it
/// starts from, packages installed first, the steps, and the start command. Immutable and validated: every path is
/// already resolved to an absolute one inside the sandbox's home, the only place a layer keeps.
/// </summary>
internal sealed record TemplateSpec
{
    public required string Runtime { get; init; }
    public ImmutableArray<string> Packages { get; init; } = [];
    public ImmutableArray<TemplateStep> Steps { get; init; } = [];
    /// <summary>Run in the background when a sandbox from the template starts (E2B's start command).</summary>
    public string? StartCommand { get; init; }
    /// <summary>The build's network (default none: a RUN that needs the network fails, and says so).</summary>
    public NetworkPolicy Network { get; init; } = NetworkPolicy.None;

    /// <summary>The environment a sandbox from the template starts with: every ENV, the last value of a name winning.</summary>
    public ImmutableDictionary<string, string> Env =>
        Steps.Where(s => s.Kind == TemplateStepKind.Env).Aggregate(ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal), (env, s) => env.SetItem(s.Args[0], s.Args[1]));

    /// <summary>The last WORKDIR: where a sandbox from the template runs its commands and code.</summary>
    public string Workdir => Steps.LastOrDefault(s => s.Kind == TemplateStepKind.Workdir)?.Args[0] ?? TemplatePaths.Home;

    /// <summary>
    /// The cache key's part for the spec: every field that changes the layer, written unambiguously (lengths before
    /// strings). The start command is left out: it runs in each sandbox, not in the build, so it does not change the layer.
    /// </summary>
    public byte[] Canonical()
    {
        var text = new StringBuilder();
        void Add(string s) => text.Append(s.Length).Append(':').Append(s).Append(';');
        Add("agw-template-v1");
        Add(Runtime);
        Add(Network.Mode.ToString());
        foreach (var h in Network.AllowHosts) Add(h);
        text.Append('|');
        foreach (var p in Packages) Add(p);
        text.Append('|');
        foreach (var step in Steps)
        {
            Add(step.Kind.ToString());
            text.Append(step.Args.Length).Append('#');
            foreach (var a in step.Args) Add(a);
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The layer's content address: the spec and the uploaded files it copies (their digest).</summary>
    public string Digest(string contextDigest)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Canonical());
        hash.AppendData(Encoding.UTF8.GetBytes("|context:" + contextDigest));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>The limits and path rules every way of writing a template shares.</summary>
internal static class TemplatePaths
{
    public const string Home = "/home/user";
    public const int MaxSteps = 200;
    public const int MaxCommandChars = 16 * 1024;
    public const int MaxSpecBytes = 256 * 1024;
    public const int MaxInlineFileBytes = 1 << 20;

    /// <summary>
    /// <paramref name="path"/> made absolute against <paramref name="workdir"/> and normalized; null when it leaves
    /// the home (the layer is the home: anything written elsewhere would be lost, and is refused rather than dropped).
    /// </summary>
    public static string? InHome(string path, string workdir)
    {
        if (path.Length == 0 || path.Length > 4096 || path.Contains('\0')) return null;
        var joined = path.StartsWith('/') ? path : workdir.TrimEnd('/') + "/" + path;
        var parts = new List<string>();
        foreach (var part in joined.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count == 0) return null; parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        var full = "/" + string.Join('/', parts);
        return full == Home || full.StartsWith(Home + "/", StringComparison.Ordinal) ? full : null;
    }

    /// <summary>A relative path inside the uploaded files, normalized; null when absolute or escaping upwards.</summary>
    public static string? InContext(string path)
    {
        if (path.Length == 0 || path.Length > 4096 || path.Contains('\0') || path.StartsWith('/') || path.Contains('\\')) return null;
        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") return null;
            parts.Add(part);
        }
        return string.Join('/', parts);   // "" is the whole upload
    }

    /// <summary>Template names: what a sandbox's <c>template</c> names and E2B's templateID.</summary>
    public static bool ValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && char.IsAsciiLetterOrDigit(name[0]);

    /// <summary>Names that are not templates of anyone's: the runtimes and E2B's defaults, served without a build.</summary>
    public static readonly ImmutableHashSet<string> BuiltIn = ImmutableHashSet.Create(StringComparer.OrdinalIgnoreCase, "base", "code-interpreter-v1", "code-interpreter", "python", "node", "nodejs", "bash");

    /// <summary>The runtime a FROM (or <c>runtime:</c>, or E2B's fromTemplate) names: a runtime, or E2B's defaults (Python).</summary>
    public static string? BaseRuntime(string name) => name.ToLowerInvariant() switch
    {
        "python" or "base" or "code-interpreter-v1" or "code-interpreter" => "python",
        "node" or "nodejs" => "node",
        "bash" => "bash",
        _ => null,
    };
}
