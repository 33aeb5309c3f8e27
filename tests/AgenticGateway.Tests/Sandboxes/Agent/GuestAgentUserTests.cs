using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Tests.Sandboxes.Agent;

/// <summary>
/// The agent as a microVM runs it: root, told its user by <c>AGW_USER</c> (the image's init sets 1000:1000). Run here
/// on the host as root over stdio, with a scratch home owned by that user as the init mounts /home/user: processes,
/// ptys, interpreters and file ops are the user's unless a request says <c>"user": "root"</c>, and the agent stays
/// root between them. The QEMU tests check the same inside a real VM; these show each piece fast.
/// </summary>
[Trait("Category", "sandbox")]
public sealed class GuestAgentUserTests : IAsyncLifetime
{
    private const int Uid = 1000, Gid = 1000;
    private string _home = null!;
    private Process _process = null!;
    private AgentConnection _agent = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Environment.IsPrivilegedProcess, "these tests run the agent as root, as a microVM does (scripts/test.sh runs as root)");
        _home = Directory.CreateTempSubdirectory("agw-agent-user-").FullName;
        Tool("chown", $"{Uid}:{Gid}", _home);
        Tool("chmod", "755", _home);
        // The kernels must be readable by the user, as /opt/agw is in the image.
        var guest = Path.Join(_home, ".guest");
        Directory.CreateDirectory(guest);
        foreach (var file in Directory.EnumerateFiles(GuestAgentBuild.GuestDirectory)) File.Copy(file, Path.Join(guest, Path.GetFileName(file)));
        var info = new ProcessStartInfo(GuestAgentBuild.Executable, ["--transport", "stdio", "--guest-dir", guest])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _home,
        };
        info.Environment["AGW_HOME"] = _home;
        info.Environment["AGW_FS_ROOTS"] = _home;
        info.Environment["AGW_USER"] = $"{Uid}:{Gid}";
        info.Environment["HOME"] = _home;
        _process = Process.Start(info)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _agent = new AgentConnection(_process.StandardInput.BaseStream, _process.StandardOutput.BaseStream);
        await _agent.Ready.WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        if (!_process.WaitForExit(5000)) _process.Kill(entireProcessTree: true);
        _process.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    [Fact]
    public async Task Commands_run_as_the_user_with_its_environment_and_no_groups_and_root_only_when_asked()
    {
        var (output, exit) = await RunAsync("id -u; id -g; id -G; echo \"$HOME $USER $LOGNAME\"; touch made-by-command; stat -c %u:%g made-by-command", user: null);
        Assert.Equal(0, exit);
        Assert.Equal($"1000\n1000\n1000\n{_home} user user\n1000:1000\n", output);

        // Asked for root: root, with root's home; and the user again afterwards (the spawning thread switched back).
        (output, exit) = await RunAsync("id -u; id -G; echo \"$HOME $USER\"", user: "root");
        Assert.Equal((0, "0\n0\n/root root\n"), (exit, output));
        (output, _) = await RunAsync("id -u", user: "user");
        Assert.Equal("1000\n", output);

        // The user cannot take root back: its saved ids are its own (setuid(0) fails), and it has no capabilities.
        (output, _) = await RunAsync("python3 -c 'import os\ntry:\n os.setuid(0); print(\"root\")\nexcept PermissionError: print(\"refused\")'; grep -E '^(Uid|Gid|CapPrm|CapEff):' /proc/self/status | tr -s '\\t' ' '", user: null);
        Assert.Equal("refused\nUid: 1000 1000 1000 1000\nGid: 1000 1000 1000 1000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\n", output);
    }

    [Fact]
    public async Task A_command_on_a_pty_is_the_users_and_so_is_its_terminal()
    {
        var call = _agent.Start("process.start", w =>
        {
            w.WriteString("cmd", "id -u; stat -c %u \"$(tty)\"");
            w.WriteStartObject("pty");
            w.WriteNumber("cols", 80);
            w.WriteNumber("rows", 24);
            w.WriteEndObject();
        });
        var output = new StringBuilder();
        var exit = -1;
        await foreach (var e in call.Events.ReadAllAsync(Timeout()))
        {
            if (e.Type == "stdout") output.Append(Encoding.UTF8.GetString(Convert.FromBase64String(e.String("data_b64")!)));
            else if (e.Type == "error") Assert.Fail(e.String("message"));
            else if (e.Type == "done") exit = e.Body.GetProperty("exit_code").GetInt32();
        }
        Assert.Equal((0, "1000\r\n1000\r\n"), (exit, output.ToString()));
    }

    [Fact]
    public async Task Interpreters_are_the_users()
    {
        foreach (var (language, code) in new[] { ("python", "import os\nprint(os.getuid(), os.getgid(), os.getgroups(), os.environ['HOME'] == os.getcwd())"), ("bash", "echo $(id -u) $(id -G)") })
        {
            await _agent.CallAsync("context.create", w => { w.WriteString("context", language); w.WriteString("language", language); }, Timeout());
            var call = _agent.Start("execute", w => { w.WriteString("context", language); w.WriteString("code", code); });
            var output = new StringBuilder();
            await foreach (var e in call.Events.ReadAllAsync(Timeout()))
            {
                if (e.Type == "stdout") output.Append(e.String("data"));
                else if (e.Type is "error" or "exception" or "stderr") Assert.Fail($"{language}: {e.Body}");
            }
            Assert.Equal(language == "python" ? "1000 1000 [] True\n" : "1000 1000\n", output.ToString());
        }
    }

    [Fact]
    public async Task Files_the_agent_writes_are_the_users_and_its_commands_can_change_them()
    {
        await WriteAsync("data/note.txt", "from the files API\n", user: null);
        await _agent.CallAsync("fs.mkdir", w => w.WriteString("path", "made/by/mkdir"), Timeout());
        await _agent.CallAsync("fs.move", w => { w.WriteString("from", "data/note.txt"); w.WriteString("to", "made/note.txt"); }, Timeout());
        Assert.Equal((Uid, Gid), Owner("data"));
        Assert.Equal((Uid, Gid), Owner("made/by/mkdir"));
        Assert.Equal((Uid, Gid), Owner("made/by"));
        Assert.Equal((Uid, Gid), Owner("made/note.txt"));
        var stat = await _agent.CallAsync("fs.stat", w => w.WriteString("path", "made/note.txt"), Timeout());
        Assert.Equal(Uid, stat.GetProperty("entry").GetProperty("uid").GetInt32());

        var (output, exit) = await RunAsync("echo by the user >> made/note.txt && mv made/note.txt made/by/ && cat made/by/note.txt && rm -r data made", user: null);
        Assert.Equal((0, "from the files API\nby the user\n"), (exit, output));

        // A file op reaches only what the user's processes could: a directory of root's is closed to it, not to root.
        (_, exit) = await RunAsync("mkdir -m 755 roots", user: "root");
        Assert.Equal(0, exit);
        var refused = await Assert.ThrowsAsync<AgentException>(() => WriteAsync("roots/x.txt", "no", user: null));
        Assert.Equal("denied", refused.Code);
        await WriteAsync("roots/x.txt", "yes", user: "root");
        Assert.Equal((0, 0), Owner("roots/x.txt"));

        var invalid = await Assert.ThrowsAsync<AgentException>(() => WriteAsync("x.txt", "no", user: "nobody"));
        Assert.Equal("invalid", invalid.Code);
        invalid = await Assert.ThrowsAsync<AgentException>(() => RunAsync("true", user: "admin"));
        Assert.Equal("invalid", invalid.Code);
    }

    private async Task<(string Output, int Exit)> RunAsync(string cmd, string? user)
    {
        var call = _agent.Start("process.start", w =>
        {
            w.WriteString("cmd", cmd);
            if (user is not null) w.WriteString("user", user);
        });
        var output = new StringBuilder();
        await foreach (var e in call.Events.ReadAllAsync(Timeout()))
        {
            switch (e.Type)
            {
                case "stdout" or "stderr": output.Append(e.String("data")); break;
                case "error": throw AgentConnection.ToException(e);
                case "done": return (output.ToString(), e.Body.GetProperty("exit_code").GetInt32());
            }
        }
        throw new InvalidOperationException("the agent ended");
    }

    private Task WriteAsync(string path, string text, string? user) =>
        _agent.CallAsync("fs.write", w =>
        {
            w.WriteString("path", path);
            w.WriteBase64String("data_b64", Encoding.UTF8.GetBytes(text));
            w.WriteNumber("offset", 0);
            w.WriteBoolean("final", true);
            w.WriteString("upload", Guid.NewGuid().ToString("N"));
            if (user is not null) w.WriteString("user", user);
        }, Timeout());

    private (int, int) Owner(string path)
    {
        var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%u %g", Path.Join(_home, path)]) { RedirectStandardOutput = true })!;
        var parts = stat.StandardOutput.ReadToEnd().Trim().Split(' ');
        stat.WaitForExit();
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }

    private static void Tool(string name, params string[] args)
    {
        using var tool = Process.Start(name, args)!;
        tool.WaitForExit();
        Assert.Equal(0, tool.ExitCode);
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
