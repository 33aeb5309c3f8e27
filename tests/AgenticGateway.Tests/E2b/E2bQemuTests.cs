using AgenticGateway.Tests.Sandboxes.Qemu;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// The official E2B SDKs against QEMU microVMs, held to the same checks as on bubblewrap (<see cref="E2bSdkChecks"/>):
/// lifecycle, commands, files, runCode (a matplotlib PNG included), and pause then connect with the memory kept.
/// </summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class E2bQemuTests(QemuGatewayFixture fixture)
{
    [Fact]
    public async Task Create_list_setTimeout_and_kill_on_microVMs()
    {
        var tag = Guid.NewGuid().ToString("N");
        var r = await E2bSdk.RunJsonAsync(fixture.Gateway, "lifecycle.mjs", new Dictionary<string, string> { ["RUN_TAG"] = tag });
        Assert.Equal("running", r.GetProperty("created").GetProperty("state").GetString());
        Assert.Single(r.GetProperty("listedFirst").EnumerateArray());
        Assert.Equal(2, r.GetProperty("running").GetInt32());
        Assert.True(r.GetProperty("killed").GetBoolean());
        Assert.Equal([r.GetProperty("second").GetString()!], r.GetProperty("afterKill").EnumerateArray().Select(e => e.GetString()!));
    }

    [Fact]
    public async Task Pause_then_connect_keeps_the_interpreter_memory_and_the_files()
    {
        var r = await E2bSdk.RunJsonAsync(fixture.Gateway, "pause-memory.mjs");
        Assert.Equal("41", r.GetProperty("before").GetString());
        Assert.True(r.GetProperty("paused").GetBoolean());
        Assert.Equal("paused", r.GetProperty("state").GetString());
        Assert.True(r.GetProperty("variable").GetString() == "42", r.GetProperty("variableError").ToString());
        Assert.True(r.GetProperty("file").GetString() == "kept", r.GetProperty("fileError").ToString());
    }

    [Fact]
    public async Task Commands_run_with_exit_codes_background_output_list_kill_and_timeouts_on_microVMs() =>
        E2bSdkChecks.Commands(await E2bSdk.RunJsonAsync(fixture.Gateway, "envd-commands.mjs"));

    [Fact]
    public async Task Files_write_read_list_rename_remove_makeDir_and_watchDir_on_microVMs() =>
        E2bSdkChecks.Files(await E2bSdk.RunJsonAsync(fixture.Gateway, "envd-files.mjs"));

    [Fact]
    public async Task RunCode_keeps_state_reports_errors_runs_javascript_and_draws_a_matplotlib_png_on_microVMs() =>
        E2bSdkChecks.Interpreter(await E2bSdk.RunJsonAsync(fixture.Gateway, "interpreter.mjs"));

    [Fact]
    public async Task Commands_and_files_are_the_users_and_root_is_root_when_asked()
    {
        var r = await E2bSdk.RunJsonAsync(fixture.Gateway, "users.mjs");
        Assert.Equal("user\n1000\n1000\n1000\n/home/user user user\n/home/user\n", r.GetProperty("who").GetString());
        // The VM is the boundary: E2B's root is root inside it.
        Assert.Equal("0\n/root\n", r.GetProperty("asRoot").GetString());
        Assert.Equal("/home/user 1000:1000\n/home/user/api 1000:1000\n/home/user/api/dir 1000:1000\n/home/user/api/dir/note.txt 1000:1000\n/tmp 1777\n",
            r.GetProperty("owners").GetString());
        Assert.Equal("from the files API\nby a command\n", r.GetProperty("modified").GetString());
        Assert.Equal("0\n", r.GetProperty("rootFile").GetString());
    }
}
