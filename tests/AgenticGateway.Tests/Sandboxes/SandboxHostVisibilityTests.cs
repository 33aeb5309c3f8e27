using System.Security.Cryptography;
using System.Text.Json;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>
/// Tests that plant secrets in this process's environment. They run alone (after the parallel tests), so that no other
/// test's gateway or config sees the planted AGW_MASTER_KEY.
/// </summary>
[CollectionDefinition("process environment", DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

/// <summary>What a tenant can read of the host from inside a bubblewrap sandbox: nothing of the gateway.</summary>
[Collection("process environment")]
[Trait("Category", "sandbox")]
public class SandboxHostVisibilityTests
{
    /// <summary>
    /// Every process visible in the sandbox: its environment, command line, mount table and open files (the links in
    /// /proc/*/fd), plus the kernel command line. As JSON: path to content, or "unreadable: ..." for what the kernel refused.
    /// </summary>
    internal const string ProcDump = """
        import glob, json, os
        out = {}
        def read(path):
            try:
                with open(path, 'rb') as f: out[path] = f.read().decode('latin-1')
            except OSError as e:
                out[path] = 'unreadable: ' + type(e).__name__
        for d in glob.glob('/proc/[0-9]*'):
            for name in ('environ', 'cmdline', 'mountinfo'):
                read(d + '/' + name)
            try:
                for fd in os.listdir(d + '/fd'):
                    try: out[d + '/fd/' + fd] = os.readlink(d + '/fd/' + fd)
                    except OSError: pass
            except OSError:
                pass
        read('/proc/cmdline')
        print(json.dumps(out))
        """;

    [Fact]
    public async Task No_secret_of_the_gateways_environment_and_no_path_of_its_state_is_readable_through_proc()
    {
        var secret = "agw-planted-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var masterKey = "sk-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var data = Directory.CreateTempSubdirectory("agw-visibility-").FullName;
        Environment.SetEnvironmentVariable("AGW_TEST_SECRET", secret);
        Environment.SetEnvironmentVariable("AGW_MASTER_KEY", masterKey);
        try
        {
            await using var g = await SandboxGateway.StartAsync("pools: {}", dataDirectory: data);
            // A tenant with nothing but a virtual key, in a sandbox with every mount the driver makes (egress included).
            var key = await g.NewKeyAsync();
            var id = await g.CreateAsync("""{"runtime":"python","network":"allowlist","allow_hosts":["pypi.org"]}""", key);
            var r = await g.ExecAsync(id, ProcDump, key: key);
            var dump = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetProperty("stdout").GetString()!)!;

            // The dump saw what it must: pid 1 (bwrap) and the agent, pid 1's environment readable, not refused.
            Assert.Contains("/proc/1/cmdline", dump.Keys);
            Assert.Contains("/proc/2/environ", dump.Keys);
            Assert.DoesNotContain("unreadable", dump["/proc/1/environ"]);
            Assert.Contains("bwrap", dump["/proc/1/cmdline"]);
            Assert.Contains(dump, e => e.Key.EndsWith("/mountinfo", StringComparison.Ordinal) && e.Value.Contains(" /home/user ", StringComparison.Ordinal));

            string[] forbidden = [secret, masterKey, "agentic-gateway", HostState.Tag(data), data, Path.GetFileName(data)];
            foreach (var (path, content) in dump)
            {
                foreach (var word in forbidden)
                    Assert.False(content.Contains(word, StringComparison.Ordinal), $"{path} shows '{word}':\n{content}");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("AGW_TEST_SECRET", null);
            Environment.SetEnvironmentVariable("AGW_MASTER_KEY", null);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
