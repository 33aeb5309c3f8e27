using System.Text.Json;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// The official e2b and @e2b/code-interpreter SDKs, unchanged, against the gateway's /e2b API on bubblewrap sandboxes
/// (scripts in E2b/node): lifecycle and listing, runCode, and ownership.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bSdkTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    [Fact]
    public async Task Create_getInfo_list_by_metadata_setTimeout_and_kill()
    {
        var tag = Guid.NewGuid().ToString("N");
        var r = await e2b.RunSdkJsonAsync("lifecycle.mjs", new Dictionary<string, string> { ["RUN_TAG"] = tag });
        var first = r.GetProperty("first").GetString()!;
        var second = r.GetProperty("second").GetString()!;

        var created = r.GetProperty("created");
        Assert.Equal(first, created.GetProperty("sandboxId").GetString());
        Assert.Equal("base", created.GetProperty("templateId").GetString());
        Assert.Equal("running", created.GetProperty("state").GetString());
        Assert.Equal(tag, created.GetProperty("metadata").GetProperty("suite").GetString());
        Assert.True(created.GetProperty("memoryMB").GetInt32() > 0);
        var started = created.GetProperty("startedAt").GetDateTimeOffset();
        var ends = created.GetProperty("endAt").GetDateTimeOffset();
        Assert.InRange((ends - started).TotalSeconds, 110, 130);

        // The metadata filter: one sandbox by role, both by suite; none of them paused.
        var listed = Assert.Single(r.GetProperty("listedFirst").EnumerateArray());
        Assert.Equal(first, listed.GetProperty("sandboxId").GetString());
        Assert.Equal("first", listed.GetProperty("metadata").GetProperty("role").GetString());
        Assert.Equal(new[] { first, second }.Order(), r.GetProperty("listedSuite").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(2, r.GetProperty("running").GetInt32());
        Assert.Equal(0, r.GetProperty("paused").GetInt32());

        // setTimeout(600 s) moved the end about ten minutes from now.
        var extended = r.GetProperty("extended");
        Assert.InRange((extended.GetProperty("endAt").GetDateTimeOffset() - DateTimeOffset.UtcNow).TotalSeconds, 500, 610);

        Assert.True(r.GetProperty("killed").GetBoolean());
        Assert.False(r.GetProperty("killedAgain").GetBoolean());
        // A killed sandbox is "not running" to the SDK (E2B's 502), not an authentication failure.
        Assert.True(r.GetProperty("runningBeforeKill").GetBoolean());
        Assert.False(r.GetProperty("runningAfterKill").GetBoolean());
        var read = r.GetProperty("readAfterKill").GetProperty("error");
        Assert.Equal("TimeoutError", read.GetProperty("name").GetString());
        Assert.Contains("not found (it may have timed out or been killed)", read.GetProperty("message").GetString());
        Assert.Equal([second], r.GetProperty("afterKill").EnumerateArray().Select(e => e.GetString()!));
        var (status, _) = await e2b.Gateway.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{first}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task RunCode_keeps_state_reports_errors_runs_javascript_and_draws_a_matplotlib_png()
    {
        var r = await e2b.RunSdkJsonAsync("interpreter.mjs");
        E2bSdkChecks.Interpreter(r);
    }

    [Fact]
    public async Task RunCode_calls_on_one_context_wait_their_turn_and_silent_cells_honour_timeoutMs_not_requestTimeoutMs()
    {
        var r = await e2b.RunSdkJsonAsync("interpreter-queue.mjs");
        // Three at once on one context: each ran (no 409), one after another (the counter saw 1, 2, 3).
        var parallel = r.GetProperty("parallel").EnumerateArray().ToList();
        Assert.All(parallel, p => Assert.Equal(JsonValueKind.Null, p.GetProperty("error").ValueKind));
        Assert.Equal(["1", "2", "3"], parallel.Select(p => p.GetProperty("text").GetString()!).Order().ToArray());
        // A silent cell is ended by its timeoutMs (the headers came before any output), not after it finished.
        Assert.Equal("TimeoutError", r.GetProperty("timedOut").GetProperty("error").GetProperty("name").GetString());
        Assert.InRange(r.GetProperty("timedOutAfterMs").GetInt32(), 1000, 6000);
        // The interrupted cell's context takes the next one at once.
        Assert.Equal("42", r.GetProperty("next").GetProperty("text").GetString());
        // A silent cell longer than requestTimeoutMs runs to its end.
        Assert.Equal("done", r.GetProperty("slow").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Pause_then_connect_resumes_the_sandbox_with_its_files()
    {
        var r = await e2b.RunSdkJsonAsync("pause.mjs", new Dictionary<string, string> { ["RUN_TAG"] = Guid.NewGuid().ToString("N") });
        var id = r.GetProperty("id").GetString()!;
        Assert.True(r.GetProperty("paused").GetBoolean());
        Assert.False(r.GetProperty("pausedAgain").GetBoolean());
        Assert.Equal("paused", r.GetProperty("state").GetString());
        Assert.Equal([id], r.GetProperty("listedPaused").EnumerateArray().Select(e => e.GetString()!));
        Assert.Empty(r.GetProperty("listedRunning").EnumerateArray());
        // Not running while paused: E2B's 502, which the SDK reports as a sandbox that is not running.
        Assert.Contains("is paused; resume it with Sandbox.connect", r.GetProperty("whilePaused").GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(id, r.GetProperty("resumedId").GetString());
        Assert.True(r.GetProperty("sameToken").GetBoolean());
        Assert.True(r.GetProperty("read").GetString() == "kept across the pause", r.GetProperty("readError").ToString());
        Assert.Equal("running", r.GetProperty("after").GetString());
    }

    [Fact]
    public async Task Snapshots_and_forks_start_new_sandboxes_with_the_source_files()
    {
        var r = await e2b.RunSdkJsonAsync("snapshot.mjs");
        var snapshot = r.GetProperty("snapshotId").GetString()!;
        Assert.Contains(snapshot, r.GetProperty("listed").EnumerateArray().Select(e => e.GetString()));
        Assert.NotEqual(r.GetProperty("source").GetString(), r.GetProperty("fromSnapshot").GetString());
        Assert.Equal("from the source", r.GetProperty("readFromSnapshot").GetString());
        var forks = r.GetProperty("forkIds").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(2, forks.Count);
        Assert.All(forks, Assert.NotNull);
        Assert.Equal(2, forks.Distinct().Count());
        Assert.All(r.GetProperty("forkReads").EnumerateArray(), e => Assert.Equal("from the source", e.GetString()));
        Assert.Equal("running", r.GetProperty("sourceState").GetString());
        Assert.True(r.GetProperty("deleted").GetBoolean());
        Assert.False(r.GetProperty("deletedAgain").GetBoolean());
        Assert.Contains(snapshot, r.GetProperty("createFromDeleted").GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Another_owner_can_neither_see_nor_touch_a_sandbox()
    {
        var created = await e2b.RunSdkJsonAsync("create.mjs");
        var id = created.GetProperty("sandboxId").GetString()!;
        try
        {
            var other = await e2b.NewKeyAsync();
            var r = await e2b.RunSdkJsonAsync("other-owner.mjs", new Dictionary<string, string> { ["SANDBOX_ID"] = id }, other);
            Assert.Equal("SandboxNotFoundError", r.GetProperty("getInfo").GetProperty("error").GetProperty("name").GetString());
            Assert.Equal("SandboxNotFoundError", r.GetProperty("setTimeout").GetProperty("error").GetProperty("name").GetString());
            Assert.Equal("SandboxNotFoundError", r.GetProperty("connect").GetProperty("error").GetProperty("name").GetString());
            Assert.False(r.GetProperty("kill").GetProperty("ok").GetBoolean());
            Assert.DoesNotContain(id, r.GetProperty("listed").EnumerateArray().Select(e => e.GetString()));

            // Still there, untouched, for its owner.
            var (status, body) = await e2b.Gateway.SendAsync(HttpMethod.Get, $"/e2b/sandboxes/{id}");
            Assert.True(status == System.Net.HttpStatusCode.OK, body.ToString());
            Assert.Equal("running", body.GetProperty("state").GetString());
        }
        finally
        {
            await e2b.Gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
    }

    [Fact]
    public async Task A_wrong_access_token_or_api_key_is_refused()
    {
        var created = await e2b.RunSdkJsonAsync("create.mjs");
        var id = created.GetProperty("sandboxId").GetString()!;
        try
        {
            var r = await e2b.RunSdkJsonAsync("bad-token.mjs", new Dictionary<string, string> { ["SANDBOX_ID"] = id });
            Assert.Equal("2", r.GetProperty("right").GetProperty("ok").GetString());
            var wrong = r.GetProperty("wrong").GetProperty("error");
            Assert.Contains("401", wrong.GetProperty("message").GetString());
            Assert.Equal("AuthenticationError", r.GetProperty("badKey").GetProperty("error").GetProperty("name").GetString());
        }
        finally
        {
            await e2b.Gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
    }

    [Fact]
    public async Task Commands_and_files_are_the_users_and_root_stays_the_user()
    {
        var r = await e2b.RunSdkJsonAsync("users.mjs");
        Assert.Equal("user\n1000\n1000\n1000\n/home/user user user\n/home/user\n", r.GetProperty("who").GetString());
        // Never root on the host: E2B's root is the sandbox's one user here (the microVMs' root is real, E2bQemuTests).
        Assert.Equal("1000\n/home/user\n", r.GetProperty("asRoot").GetString());
        // /tmp is the one user's own here (no other uid exists in the sandbox to share it with).
        Assert.Equal("/home/user 1000:1000\n/home/user/api 1000:1000\n/home/user/api/dir 1000:1000\n/home/user/api/dir/note.txt 1000:1000\n/tmp 755\n",
            r.GetProperty("owners").GetString());
        Assert.Equal("from the files API\nby a command\n", r.GetProperty("modified").GetString());
        Assert.Equal("1000\n", r.GetProperty("rootFile").GetString());
    }
}
