using System.Net;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Storage;

/// <summary>
/// What the gateway writes into its data directory (key hashes, spend logs naming keys and teams, the audit log) is its
/// user's alone, also when the directory itself was made readable to others (a volume keeps the mode it was given).
/// </summary>
[Trait("Category", "functional")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DataFileModesTests
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerDirectory = OwnerFile | UnixFileMode.UserExecute;

    [Fact]
    public async Task The_database_and_the_spend_log_are_owner_only_in_a_directory_others_may_read()
    {
        var dir = Directory.CreateTempSubdirectory("agw-modes-").FullName;
        try
        {
            File.SetUnixFileMode(dir, OwnerDirectory | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            await using (var gw = await GatewayServer.StartAsync("models:\n  - {name: m, provider: mock}\n", dataDirectory: dir))
            {
                Assert.Equal(HttpStatusCode.OK, (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).StatusCode);
                // The database is opened by the spend writer's first batch, after the answer.
                await gw.FlushSpendAsync();
                Assert.Equal(OwnerFile, File.GetUnixFileMode(Path.Join(dir, "gateway.db")));
                Assert.Equal(OwnerDirectory, File.GetUnixFileMode(Path.Join(dir, "spend-wal")));
                foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("gateway.lock", StringComparison.Ordinal)))
                    Assert.True((File.GetUnixFileMode(file) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead)) == 0, $"{file} is readable by others: {File.GetUnixFileMode(file)}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
