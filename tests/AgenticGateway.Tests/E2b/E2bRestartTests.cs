using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Services.E2b;
using AgenticGateway.Tests.Sandboxes;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// E2B sandboxes across a gateway restart on the same data directory, driven by the official SDK (E2b/node
/// restart-before.mjs, restart-after.mjs): what the SDK was handed before (template, tokens) still holds after.
/// </summary>
[Trait("Category", "sandbox")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class E2bRestartTests
{
    [Fact]
    public async Task Paused_sandboxes_are_listed_with_their_template_and_resume_with_their_files_under_the_same_tokens_after_a_restart()
    {
        await NodeProject.E2b.EnsureInstalledAsync();
        var data = Directory.CreateTempSubdirectory("agw-e2b-restart-").FullName;
        var tag = Guid.NewGuid().ToString("N");
        JsonElement before;
        await using (var first = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data))
        {
            before = await E2bSdk.RunJsonAsync(first, "restart-before.mjs", new Dictionary<string, string> { ["RUN_TAG"] = tag });
        }
        var paused = before.GetProperty("paused");
        var auto = before.GetProperty("auto");
        var pausedId = paused.GetProperty("id").GetString()!;
        var autoId = auto.GetProperty("id").GetString()!;

        // The key the tokens come from is in the data directory, its owner's alone.
        var keyFile = Path.Join(data, E2bTokenKey.FileName);
        Assert.Equal(32, new FileInfo(keyFile).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));

        await using var second = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
        try
        {
            // An old handle's token reaches the sandbox it was handed for: paused, so Connect's unavailable (not running;
            // a wrong token is 401).
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await EnvdListAsync(second, pausedId, paused.GetProperty("token").GetString()!));
            Assert.Equal(HttpStatusCode.Unauthorized, await EnvdListAsync(second, pausedId, auto.GetProperty("token").GetString()!));

            var after = await E2bSdk.RunJsonAsync(second, "restart-after.mjs", new Dictionary<string, string>
            {
                ["RUN_TAG"] = tag, ["PAUSED_ID"] = pausedId, ["AUTO_ID"] = autoId,
            });
            var listed = after.GetProperty("listed").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!);
            Assert.Equal(2, listed.Count);
            Assert.Equal("paused", listed[pausedId].GetProperty("state").GetString());
            Assert.Equal("code-interpreter-v1", listed[pausedId].GetProperty("templateId").GetString());
            Assert.Equal("paused", listed[autoId].GetProperty("state").GetString());
            Assert.Equal("base", listed[autoId].GetProperty("templateId").GetString());
            Assert.Equal("code-interpreter-v1", after.GetProperty("info").GetProperty("templateId").GetString());
            Assert.Equal("paused", after.GetProperty("info").GetProperty("state").GetString());

            Assert.Equal("kept across the restart", after.GetProperty("read").GetString());
            Assert.True(after.GetProperty("ranError").ValueKind == JsonValueKind.Null, after.ToString());
            Assert.Equal("kept across the restart", after.GetProperty("ran").GetString()!.Trim('\''));
            Assert.True(after.GetProperty("contexts").GetInt32() >= 1);
            Assert.Equal("paused as the gateway stopped", after.GetProperty("autoRead").GetString());
            Assert.Equal("running", after.GetProperty("after").GetString());

            // Connect handed out the tokens of before the restart, and the old handles' tokens work on the resumed sandbox.
            foreach (var (old, now) in new[] { (paused, after.GetProperty("paused")), (auto, after.GetProperty("auto")) })
            {
                Assert.Equal(old.GetProperty("token").GetString(), now.GetProperty("token").GetString());
                Assert.Equal(old.GetProperty("traffic").GetString(), now.GetProperty("traffic").GetString());
            }
            Assert.Equal(HttpStatusCode.OK, await EnvdListAsync(second, pausedId, paused.GetProperty("token").GetString()!));
            Assert.Equal(HttpStatusCode.OK, await EnvdListAsync(second, autoId, auto.GetProperty("token").GetString()!));
        }
        finally
        {
            foreach (var id in new[] { pausedId, autoId })
            {
                using var kill = new HttpRequestMessage(HttpMethod.Delete, $"/e2b/sandboxes/{id}");
                kill.Headers.Add("X-API-KEY", SandboxGateway.Master);
                using var _ = await second.Server.Client.SendAsync(kill);
            }
        }
    }

    [Fact]
    public void The_token_key_is_made_once_owner_only_and_read_back_the_same()
    {
        var data = Directory.CreateTempSubdirectory("agw-e2b-key-").FullName;
        try
        {
            var first = E2bTokenKey.Load(data, NullLogger.Instance);
            var path = Path.Join(data, E2bTokenKey.FileName);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(32, File.ReadAllBytes(path).Length);
            Assert.Single(Directory.GetFiles(data));     // no temporary file left behind

            var again = E2bTokenKey.Load(data, NullLogger.Instance);
            Assert.Equal(first.EnvdToken("sb-1"), again.EnvdToken("sb-1"));
            Assert.Equal(first.TrafficToken("sb-1"), again.TrafficToken("sb-1"));
            Assert.NotEqual(first.EnvdToken("sb-1"), first.EnvdToken("sb-2"));
            Assert.NotEqual(first.EnvdToken("sb-1"), first.TrafficToken("sb-1"));
            Assert.Equal(43, first.EnvdToken("sb-1").Length);

            // Another data directory (another host) has a key of its own.
            var other = Directory.CreateTempSubdirectory("agw-e2b-key-").FullName;
            try { Assert.NotEqual(first.EnvdToken("sb-1"), E2bTokenKey.Load(other, NullLogger.Instance).EnvdToken("sb-1")); }
            finally { Directory.Delete(other, recursive: true); }

            // Readable by others: tightened, the same key kept.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            Assert.Equal(first.EnvdToken("sb-1"), E2bTokenKey.Load(data, NullLogger.Instance).EnvdToken("sb-1"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

            // Cut short: replaced by a new key rather than used.
            File.WriteAllBytes(path, new byte[5]);
            var replaced = E2bTokenKey.Load(data, NullLogger.Instance);
            Assert.NotEqual(first.EnvdToken("sb-1"), replaced.EnvdToken("sb-1"));
            Assert.Equal(32, File.ReadAllBytes(path).Length);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>envd's process.Process/List on a sandbox with a token, as the SDK sends it: the status.</summary>
    private static async Task<HttpStatusCode> EnvdListAsync(SandboxGateway gateway, string id, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/e2b/process.Process/List") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("E2b-Sandbox-Id", id);
        request.Headers.Add("E2b-Sandbox-Port", "49983");
        request.Headers.Add("X-Access-Token", token);
        request.Headers.Add("Connect-Protocol-Version", "1");
        using var response = await gateway.Server.Client.SendAsync(request);
        return response.StatusCode;
    }
}
