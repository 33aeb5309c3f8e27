using System.Text.Json;

namespace AgenticGateway.Tests.E2b.Envd;

/// <summary>
/// The official e2b SDK, unchanged, against envd on bubblewrap sandboxes (scripts E2b/node/envd-*.mjs): commands
/// (foreground, exit codes, background with onStdout, list, kill, sendStdin, envs, cwd, timeouts) and files (write,
/// read, list, exists, rename, remove, makeDir, getInfo, watchDir, and writes outside the roots refused).
/// </summary>
[Trait("Category", "sandbox")]
public sealed class EnvdSdkTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    [Fact]
    public async Task Commands_run_in_the_foreground_and_background_with_exit_codes_list_kill_stdin_envs_cwd_and_timeouts()
    {
        var r = await e2b.RunSdkJsonAsync("envd-commands.mjs");
        var fg = r.GetProperty("fg");
        Assert.Equal(("hello\n", "oops\n", 0), (fg.GetProperty("stdout").GetString(), fg.GetProperty("stderr").GetString(), fg.GetProperty("exitCode").GetInt32()));

        // A non-zero exit is the SDK's CommandExitError, with the code and what the command printed.
        var exit = r.GetProperty("exit");
        Assert.True(exit.GetProperty("isCommandExitError").GetBoolean(), exit.ToString());
        Assert.Equal((3, "partial\n"), (exit.GetProperty("exitCode").GetInt32(), exit.GetProperty("stdout").GetString()));

        // envs and cwd per command, over the sandbox's own envs (from create); the user is `user`, at home in /home/user.
        Assert.Equal("hi-env created\n/tmp\n", r.GetProperty("envCwd").GetString());
        Assert.Equal("user\n/home/user\n/home/user\n", r.GetProperty("who").GetString());
        Assert.Equal("/home/user\n", r.GetProperty("asRoot").GetString());

        // Background: onStdout saw the output as it came, list showed the command with its config, kill ended it once.
        Assert.Contains("tick-1\ntick-2\ntick-3\n", r.GetProperty("ticks").GetString());
        var listed = r.GetProperty("listedBg");
        Assert.Equal("/bin/bash", listed.GetProperty("cmd").GetString());
        Assert.Equal(["-l", "-c"], listed.GetProperty("args").EnumerateArray().Take(2).Select(a => a.GetString()!).ToArray());
        Assert.True(r.GetProperty("killed").GetBoolean());
        Assert.Equal("CommandExitError", r.GetProperty("bgEnd").GetProperty("error").GetProperty("name").GetString());
        Assert.False(r.GetProperty("killedAgain").GetBoolean());
        Assert.False(r.GetProperty("listedAfter").GetBoolean());

        Assert.Equal("got-ping\n", r.GetProperty("reader").GetString());

        // timeoutMs: the command is ended at its deadline (envd's TimeoutError) and does not live on.
        Assert.Equal("TimeoutError", r.GetProperty("timedOut").GetProperty("error").GetProperty("name").GetString());
        Assert.InRange(r.GetProperty("timedOutAfterMs").GetInt32(), 1000, 15_000);
        Assert.Equal(0, r.GetProperty("stillThere").GetInt32());
    }

    [Fact]
    public async Task Files_write_read_list_exists_rename_remove_makeDir_getInfo_and_watchDir()
    {
        var r = await e2b.RunSdkJsonAsync("envd-files.mjs");
        var written = r.GetProperty("written");
        Assert.Equal(("hello.txt", "/home/user/hello.txt", "file"), (written.GetProperty("name").GetString(), written.GetProperty("path").GetString(), written.GetProperty("type").GetString()));
        Assert.Equal("hello world", r.GetProperty("read").GetString());
        Assert.Equal([66, 10], r.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()).ToArray());

        var hello = r.GetProperty("home").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "hello.txt");
        Assert.Equal(("file", 11, "user", "-rw-r--r--"), (hello.GetProperty("type").GetString(), hello.GetProperty("size").GetInt32(),
            hello.GetProperty("owner").GetString(), hello.GetProperty("permissions").GetString()));
        Assert.Contains("/home/user/multi/a.txt", r.GetProperty("deep").EnumerateArray().Select(p => p.GetString()));
        Assert.Contains("usr", r.GetProperty("root").EnumerateArray().Select(p => p.GetString()));

        Assert.True(r.GetProperty("existsBefore").GetBoolean());
        Assert.Equal("/home/user/renamed.txt", r.GetProperty("renamed").GetProperty("path").GetString());
        Assert.False(r.GetProperty("existsOld").GetBoolean());
        Assert.Equal(("renamed.txt", 11), (r.GetProperty("info").GetProperty("name").GetString(), r.GetProperty("info").GetProperty("size").GetInt32()));
        Assert.True(r.GetProperty("made").GetBoolean());
        Assert.False(r.GetProperty("madeAgain").GetBoolean());
        Assert.False(r.GetProperty("existsRemoved").GetBoolean());
        Assert.Equal("FileNotFoundError", r.GetProperty("missing").GetProperty("error").GetProperty("name").GetString());

        // Outside /home/user and /tmp nothing is written: the upload's 403 and MakeDir's permission_denied.
        Assert.True(r.GetProperty("outsideWrite").TryGetProperty("error", out var writeError), r.GetProperty("outsideWrite").ToString());
        Assert.Contains("permission denied", writeError.GetProperty("message").GetString());
        Assert.Contains("permission denied", r.GetProperty("outsideDir").GetProperty("error").GetProperty("message").GetString());

        var events = r.GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("name").GetString(), e.GetProperty("type").GetString())).ToList();
        Assert.Contains(("watched.txt", "create"), events);
        Assert.Contains(("watched.txt", "remove"), events);
    }

    [Fact]
    public async Task Pip_and_npm_install_into_the_sandbox_despite_the_system_being_read_only_and_externally_managed()
    {
        var r = await e2b.RunSdkJsonAsync("envd-packages.mjs");
        Assert.Equal(0, r.GetProperty("pip").GetInt32());
        Assert.Equal("42 True\n", r.GetProperty("imported").GetString());
        Assert.Equal(0, r.GetProperty("npm").GetInt32());
        Assert.Equal("43\n", r.GetProperty("required").GetString());
    }

    [Fact]
    public async Task A_pty_takes_input_and_resizes_and_a_background_command_can_be_reconnected()
    {
        var r = await e2b.RunSdkJsonAsync("envd-pty.mjs");
        Assert.Equal([true, true], r.GetProperty("sizes").EnumerateArray().Select(b => b.GetBoolean()).ToArray());
        Assert.Equal(0, r.GetProperty("ptyEnd").GetInt32());
        // Connected after its first line: the rest of its output, and its end.
        Assert.Contains("after", r.GetProperty("reconnected").GetString());
        Assert.Contains("after", r.GetProperty("seen").GetString());
    }
}
