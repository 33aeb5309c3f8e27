using System.Diagnostics;
using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Sandboxes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Storage;

/// <summary>One gateway per data directory, also while its sandboxes run.</summary>
[Trait("Category", "sandbox")]
public class DataDirectoryTests
{
    internal const string Config = "models:\n  - {name: m, provider: mock}\nsandboxes: {pools: {}}\n";

    [Fact]
    public async Task A_second_gateway_on_the_same_data_directory_refuses_to_start_and_the_first_ones_sandbox_lives_on()
    {
        var data = Directory.CreateTempSubdirectory("agw-two-").FullName;
        try
        {
            await using (var first = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data))
            {
                var id = await first.CreateAsync("""{"runtime":"bash"}""");
                await first.RunAsync(id, "echo before > ~/note");

                // In this process: the lock is on the open file, not the process.
                var options = Load(Config) with { Storage = new StorageOptions { DataDirectory = data, DatabaseUrl = default, RedisUrl = default } };
                var error = Assert.ThrowsAny<IOException>(() =>
                    GatewayApp.Build(new GatewayStartOptions(options, null, "http://127.0.0.1:0", [])));
                Assert.Contains($"the data directory {data} is in use by another gateway (pid {Environment.ProcessId})", error.Message);

                // In another process, as an operator would start it: exit code 1 and the same message.
                var config = Path.Combine(data, "second.yaml");
                await File.WriteAllTextAsync(config, Config + $"storage: {{data_dir: {data}}}\nserver: {{urls: \"http://127.0.0.1:{LocalServers.FreePort()}\"}}\n");
                var dll = typeof(GatewayApp).Assembly.Location;
                using var second = Process.Start(new ProcessStartInfo("dotnet", [dll, "--config", config]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                try
                {
                    var stderr = second.StandardError.ReadToEndAsync();
                    Assert.True(second.WaitForExit(60_000), "the second gateway did not exit");
                    Assert.Equal(1, second.ExitCode);
                    Assert.Contains($"the data directory {data} is in use by another gateway (pid {Environment.ProcessId})", await stderr);
                }
                finally
                {
                    if (!second.HasExited) second.Kill();
                }

                // Neither start reaped the first gateway's sandbox.
                var after = await first.RunAsync(id, "cat ~/note");
                Assert.Equal("before\n", after.GetProperty("stdout").GetString());
            }

            // Stopped, the first gateway has let go: the directory is free for the next one.
            await using var next = await GatewayServer.StartAsync(Config, dataDirectory: data);
            Assert.Equal(HttpStatusCode.OK, (await next.Client.GetAsync("/health/live")).StatusCode);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    internal static GatewayOptions Load(string yaml)
    {
        var result = ConfigLoader.Load(yaml, "test.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        return result.Options!;
    }
}

/// <summary>Where the data directory is when nobody says, and where a relative one in a config file points.</summary>
[Trait("Category", "unit")]
public class DataDirectoryLocationTests
{
    private const string Config = DataDirectoryTests.Config;

    [Fact]
    public void The_default_data_directory_is_absolute_and_not_the_working_directory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("AGW_DATA_DIR");
        var expected = fromEnvironment is { Length: > 0 } ? Path.GetFullPath(fromEnvironment)
            : Environment.IsPrivilegedProcess ? "/var/lib/agentic-gateway"
            : Path.Join(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } x && Path.IsPathRooted(x) ? x : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "agentic-gateway");

        Assert.Equal(expected, new StorageOptions().DataDirectory);
        Assert.Equal(expected, EmbeddedDefaults.Load().Options!.Storage.DataDirectory);
        Assert.Equal(expected, Load(Config).Storage.DataDirectory);
        Assert.False(new StorageOptions().DataDirectory.StartsWith(Environment.CurrentDirectory + "/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_relative_data_dir_in_a_config_file_is_relative_to_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("agw-config-").FullName;
        try
        {
            var file = Path.Combine(dir, "gateway.yaml");
            File.WriteAllText(file, Config + "storage: {data_dir: ./state}\n");
            Assert.Equal(Path.Combine(dir, "state"), ConfigLoader.LoadFile(file, new Dictionary<string, string>()).Options!.Storage.DataDirectory);

            File.WriteAllText(file, Config + "storage: {data_dir: /srv/agw}\n");
            Assert.Equal("/srv/agw", ConfigLoader.LoadFile(file, new Dictionary<string, string>()).Options!.Storage.DataDirectory);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static GatewayOptions Load(string yaml) => DataDirectoryTests.Load(yaml);
}
