using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Sandboxes.Agent;

/// <summary>
/// Finds the published C# guest agent (<c>agw-agent</c>, src/AgenticGateway.GuestAgent) that the microVM images and the
/// tests use: AGW_GUEST_AGENT, else <c>guest-agent/agw-agent</c> beside the gateway (the container image publishes it
/// there), else, in a source checkout, a build cached under a hash of the agent's sources, published on first use.
/// Publishing goes to a temporary directory that is renamed into place, so concurrent test processes never see half a
/// binary, and a lock file keeps them from building the same sources twice at once.
/// </summary>
internal static class GuestAgentBinary
{
    public const string FileName = "agw-agent";
    private const string ProjectDirectory = "src/AgenticGateway.GuestAgent";
    private const string ProjectFile = ProjectDirectory + "/AgenticGateway.GuestAgent.csproj";

    /// <summary>Where published agents are cached (as agent-&lt;source hash&gt;).</summary>
    public static string DefaultCacheRoot => SandboxCache.Root;

    public static string Locate(Action<string> log) => Locate(log, DefaultCacheRoot);

    public static string Locate(Action<string> log, string cacheRoot)
    {
        if (Environment.GetEnvironmentVariable("AGW_GUEST_AGENT") is { Length: > 0 } configured)
            return File.Exists(configured) ? configured : throw new InvalidOperationException($"AGW_GUEST_AGENT is {configured}, which does not exist");
        var beside = Path.Join(AppContext.BaseDirectory, "guest-agent", FileName);
        if (File.Exists(beside)) return beside;
        var root = FindSourceTree(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"no guest agent: AGW_GUEST_AGENT is not set, {beside} does not exist, and {AppContext.BaseDirectory} is not inside a source checkout with {ProjectFile} (publish it with `dotnet publish {ProjectFile} -c Release`)");
        var target = Path.Join(cacheRoot, "agent-" + SourceHash(root));
        var binary = Path.Join(target, FileName);
        if (File.Exists(binary)) return binary;
        Directory.CreateDirectory(cacheRoot);
        using (AcquireLock(target + ".lock"))
        {
            if (File.Exists(binary)) return binary;        // another process published it meanwhile
            var temp = $"{target}.tmp-{Environment.ProcessId}";
            if (Directory.Exists(temp)) Directory.Delete(temp, true);
            log($"publishing the guest agent to {target}");
            var watch = Stopwatch.StartNew();
            Publish(Path.Join(root, ProjectFile), temp);
            if (!File.Exists(Path.Join(temp, FileName))) throw new InvalidOperationException($"dotnet publish left no {FileName} in {temp}");
            if (Directory.Exists(target)) Directory.Delete(target, true);
            Directory.Move(temp, target);
            log($"guest agent published in {watch.Elapsed.TotalSeconds:0.0} s: {binary}");
        }
        return binary;
    }

    /// <summary>The nearest directory at or above <paramref name="start"/> holding the agent's project.</summary>
    public static string? FindSourceTree(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Join(dir.FullName, ProjectFile))) return dir.FullName;
        return null;
    }

    /// <summary>SHA-256 (first 16 hex digits) of the agent's *.cs and *.csproj files and the repository's build props.</summary>
    public static string SourceHash(string root)
    {
        var project = Path.Join(root, ProjectDirectory);
        var files = Directory.EnumerateFiles(project, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
            .Where(f => !IsBuildOutput(Path.GetRelativePath(project, f)))
            .Select(f => Path.GetRelativePath(root, f))
            .Concat(["Directory.Build.props", "Directory.Packages.props"])
            .Where(f => File.Exists(Path.Join(root, f)))
            .Order(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file.Replace('\\', '/') + "\n"));
            hash.AppendData(File.ReadAllBytes(Path.Join(root, file)));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private static bool IsBuildOutput(string relative) =>
        relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal);

    private static FileStream AcquireLock(string path)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromMinutes(10)) { Thread.Sleep(200); }
        }
    }

    private static void Publish(string project, string output)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet, ["publish", project, "-c", "Release", "-o", output, "-nologo"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // A test host's MSBuild variables would point the nested build at the wrong SDK pieces.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(name);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {dotnet}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet publish {project} failed ({process.ExitCode}):\n{stdout.Trim()}\n{stderr.Result.Trim()}");
    }
}
