using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Tests.Support;

/// <summary>
/// A folder of Node scripts in the test project with its own package.json and package-lock.json (the MCP upstreams
/// and clients in Mcp/node, the Responses API clients in Clients/node). node_modules is installed by scripts/test.sh,
/// or here on first use (npm ci, once per run, under a lock shared by the test processes of one checkout).
/// </summary>
internal sealed class NodeProject
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);
    private static readonly Lazy<string> NodeBinary = new(() => LocalServers.Require("node", LocalServers.PathDirectories(), "nodejs"));
    private static readonly Lazy<string> TestsRoot = new(FindTestsRoot);

    private readonly Lazy<Task> _installed;
    private readonly Lazy<string> _directory;

    private NodeProject(string relativePath)
    {
        _directory = new(() => Path.Combine(TestsRoot.Value, relativePath));
        _installed = new(InstallAsync);
    }

    /// <summary>Mcp/node: MCP upstreams and clients on the official TypeScript SDK and the MCP Inspector CLI.</summary>
    public static NodeProject Mcp { get; } = new(Path.Combine("Mcp", "node"));

    /// <summary>Clients/node: the openai Node SDK, the AI SDK and LangChain against the gateway's Responses API.</summary>
    public static NodeProject Clients { get; } = new(Path.Combine("Clients", "node"));

    /// <summary>E2b/node: the official e2b and @e2b/code-interpreter SDKs against the gateway's /e2b API.</summary>
    public static NodeProject E2b { get; } = new(Path.Combine("E2b", "node"));

    public static string Node => NodeBinary.Value;

    /// <summary>The folder of the scripts and their node_modules, in the source tree (the scripts import from it).</summary>
    public string Directory => _directory.Value;

    /// <summary>Installs node_modules if it is missing or older than package-lock.json.</summary>
    public Task EnsureInstalledAsync() => _installed.Value;

    /// <summary>Runs one of the project's scripts with node, in its folder, to its end (see <see cref="NodeRun.RunAsync"/>).</summary>
    public async Task<NodeRun> RunAsync(string script, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        await EnsureInstalledAsync();
        return await NodeRun.RunAsync(Node, [Path.Combine(Directory, script), .. arguments], timeout, environment, Directory);
    }

    private static string FindTestsRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticGateway.slnx")))
            dir = dir.Parent;
        if (dir is null)
            throw new InvalidOperationException($"repository root (AgenticGateway.slnx) not found above {AppContext.BaseDirectory}");
        return Path.Combine(dir.FullName, "tests", "AgenticGateway.Tests");
    }

    private bool IsInstalled()
    {
        // npm ci writes node_modules/.package-lock.json last; a lock newer than it means the pins changed since.
        var installed = new FileInfo(Path.Combine(Directory, "node_modules", ".package-lock.json"));
        return installed.Exists && installed.LastWriteTimeUtc >= File.GetLastWriteTimeUtc(Path.Combine(Directory, "package-lock.json"));
    }

    private async Task InstallAsync()
    {
        if (IsInstalled())
            return;
        // Test processes of one checkout (several dotnet test runs) share node_modules: one installs, the others wait.
        var lockName = "agw-npm-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Directory)))[..16] + ".lock";
        await using var fileLock = await AcquireLockAsync(Path.Combine(Path.GetTempPath(), lockName));
        if (IsInstalled())
            return;
        var npm = LocalServers.Require("npm", LocalServers.PathDirectories(), "nodejs");
        var run = await NodeRun.RunAsync(npm, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], InstallTimeout, workingDirectory: Directory);
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"npm ci in {Directory} failed with exit code {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
    }

    private static async Task<FileStream> AcquireLockAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None takes an advisory lock (flock) that other processes' opens respect.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < InstallTimeout)
            {
                await Task.Delay(200);
            }
        }
    }
}
