using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Deploy;

/// <summary>Reading deploy/: YAML by dotted paths, the Dockerfile's instructions, dashboard queries; running the built gateway and promtool.</summary>
internal static class DeployFiles
{
    public static readonly string Root = RepoRoot();
    public static readonly string DeployDir = Path.Combine(Root, "deploy");


    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticGateway.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public static List<YamlNode> LoadYaml(string path)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = File.OpenText(path);
            stream.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            Assert.Fail($"{path}: {ex.Message}");
        }
        return stream.Documents.Select(d => d.RootNode).ToList();
    }

    /// <summary>The node at a dotted path of mapping keys and sequence indexes ("a.b.0.c"); a key with a dot escapes it as "\.".</summary>
    public static YamlNode? At(YamlNode node, string path)
    {
        foreach (var part in Regex.Split(path, @"(?<!\\)\.").Select(p => p.Replace("\\.", ".")))
        {
            if (node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(part), out var child)) node = child;
            else if (node is YamlSequenceNode seq && int.TryParse(part, out var i) && i < seq.Children.Count) node = seq.Children[i];
            else return null;
        }
        return node;
    }

    public static string? Str(YamlNode node, string path) => (At(node, path) as YamlScalarNode)?.Value;

    public static IEnumerable<YamlNode> Seq(YamlNode node, string path) => (At(node, path) as YamlSequenceNode)?.Children ?? [];

    public static Dictionary<string, string> Labels(YamlNode? node) =>
        (node as YamlMappingNode)?.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!) ?? [];

    public static List<YamlNode> Manifests() =>
        [.. Directory.GetFiles(Path.Combine(DeployDir, "k8s"), "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").SelectMany(LoadYaml)];

    public static YamlNode Manifest(string kind) => Manifests().Single(m => Str(m, "kind") == kind);

    /// <summary>Dockerfile instructions with continuation lines joined and comments dropped.</summary>
    public static List<(string Verb, string Args)> Instructions(string dockerfile)
    {
        var joined = Regex.Replace(string.Join("\n", dockerfile.Split('\n').Where(l => !l.TrimStart().StartsWith('#'))), @"\\\n", " ");
        return [.. joined.Split('\n').Where(l => l.Trim().Length > 0).Select(l =>
        {
            var parts = l.Trim().Split(' ', 2);
            return (parts[0].ToUpperInvariant(), parts.Length > 1 ? Regex.Replace(parts[1].Trim(), @"\s+", " ") : "");
        })];
    }

    public static GatewayOptions LoadDeployConfig(IReadOnlyDictionary<string, string> environment)
    {
        // With the master key's variable set, as every deployment sets it (unset, it is an error).
        var file = Path.Combine(DeployDir, "config", "gateway.yaml");
        var result = ConfigLoader.Load(File.ReadAllText(file), file, environment, variables: new Dictionary<string, string> { ["AGW_MASTER_KEY"] = "sk-deploy-check" });
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        return result.Options!;
    }

    /// <summary>How long the gateway drains after SIGTERM, as its host is actually configured.</summary>
    public static async Task<TimeSpan> GatewayDrainTimeoutAsync()
    {
        var data = Directory.CreateTempSubdirectory("agw-drain-");
        try
        {
            var options = EmbeddedDefaults.Load().Options! with { Storage = new StorageOptions { DataDirectory = data.FullName, DatabaseUrl = default, RedisUrl = default } };
            await using var app = GatewayApp.Build(new GatewayStartOptions(options, null, "http://127.0.0.1:0", []));
            var timeout = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
            Assert.True(timeout >= TimeSpan.FromSeconds(5), $"shutdown timeout {timeout}");
            return timeout;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }

    public static (int Code, string Output) Promtool(params string[] arguments)
    {
        // promtool comes from Debian's prometheus package; scripts/test.sh installs it.
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed: run the tests with scripts/test.sh, which installs it (Debian package prometheus)");
        var (code, output) = RunAsync([promtool!, .. arguments], null, TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        return (code, output);
    }

    /// <summary>Runs a command to its end; its exit code and its stdout and stderr together.</summary>
    public static async Task<(int Code, string Output)> RunAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>()) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{string.Join(' ', command)} did not finish within {timeout.TotalSeconds} s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    public static string GatewayDll()
    {
        var configuration = typeof(DeployFiles).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(Root, "src", "AgenticGateway", "bin", configuration, "net10.0", "AgenticGateway.dll");
        Assert.True(File.Exists(dll), $"{dll} not found: build the solution first (dotnet build -c {configuration})");
        return dll;
    }

    public static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (host is not null && File.Exists(host)) return host;
        return LocalServers.Require("dotnet", LocalServers.PathDirectories(), "dotnet-sdk");
    }

    /// <summary>
    /// What deploy/compose.yaml gives the gateway container, with this machine's servers, and nothing from the test
    /// process's own environment that could change the outcome.
    /// </summary>
    public static Dictionary<string, string?> ComposeEnvironment(string masterKey, string databaseUrl, string redisUrl)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["AGW_CONFIG"] = "/etc/agentic-gateway/config.yaml",
            ["AGW_MASTER_KEY"] = masterKey,
            ["DATABASE_URL"] = databaseUrl,
            ["REDIS_URL"] = redisUrl,
            ["OPENAI_API_KEY"] = "",
            ["ANTHROPIC_API_KEY"] = "",
            ["AGW_URLS"] = null,
            ["AGW_DATA_DIR"] = null,
        };
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string k && k.StartsWith(ConfigLoader.EnvOverridePrefix, StringComparison.OrdinalIgnoreCase)) env[k] = null;
        }
        return env;
    }

    /// <summary>Every "expr" in the dashboards, and the template variables' queries.</summary>
    public static List<string> DashboardExpressions()
    {
        var exprs = new List<string>();
        void Walk(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in e.EnumerateObject())
                {
                    if (p.Name == "expr" && p.Value.ValueKind == JsonValueKind.String) exprs.Add(p.Value.GetString()!);
                    else Walk(p.Value);
                }
            }
            else if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in e.EnumerateArray()) Walk(item);
            }
        }
        foreach (var file in Directory.GetFiles(Path.Combine(DeployDir, "grafana", "dashboards"), "*.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            Walk(doc.RootElement.GetProperty("panels"));
        }
        return exprs;
    }

    public static List<string> TemplateQueries()
    {
        var queries = new List<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(DeployDir, "grafana", "dashboards"), "*.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var v in doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
            {
                var q = v.GetProperty("query");
                queries.Add(q.ValueKind == JsonValueKind.String ? q.GetString()! : q.GetProperty("query").GetString()!);
            }
        }
        return queries;
    }

    public static List<string> AlertExpressions() =>
        [.. Seq(LoadYaml(Path.Combine(DeployDir, "prometheus", "alerts.yml")).Single(), "groups").SelectMany(g => Seq(g, "rules")).Select(r => Str(r, "expr")!)];
}
