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
        E2bSdkChecks.Commands(r);
        // E2B's root: on bubblewrap the sandbox's one unprivileged user (never root on the host), at home in /home/user.
        Assert.Equal("/home/user\n", r.GetProperty("asRoot").GetString());
    }

    [Fact]
    public async Task Files_write_read_list_exists_rename_remove_makeDir_getInfo_and_watchDir()
    {
        var r = await e2b.RunSdkJsonAsync("envd-files.mjs");
        E2bSdkChecks.Files(r);
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
