using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary><c>context.create</c>, <c>context.list</c>, <c>context.restart</c> and <c>context.remove</c>.</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class ContextOpsTests
{
    private static async Task<JsonElement> Listed(AgentUnderTest a, string name) =>
        (await a.CallAsync("context.list")).GetProperty("contexts").EnumerateArray().Single(c => c.Str("context") == name);

    [Fact]
    public async Task Create_refuses_a_taken_name_an_unknown_language_and_a_missing_directory()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var created = await a.CreateContextAsync("m1", "python", new { cwd = AgentUnderTest.Tmp });
        Assert.Equal(("m1", "python", AgentUnderTest.Tmp), (created.Str("context"), created.Str("language"), created.Str("cwd")));
        Assert.True(created.GetProperty("pid").GetInt32() > 0, created.ToString());
        await a.CallAsync("context.create", new { context = "m1", language = "python" }, expect: "exists");
        await a.CallAsync("context.create", new { context = "m2", language = "cobol" }, expect: "invalid");
        await a.CallAsync("context.create", new { context = "m2", language = "python", cwd = AgentUnderTest.Home + "/no/such/dir" }, expect: "not_found");
        await a.CallAsync("execute", new { context = "nope", code = "1" }, expect: "not_found");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task A_context_started_at_launch_is_joined_by_the_first_create_of_its_name_and_language()
    {
        await using var a = await AgentUnderTest.StartAsync(agentArgs: ["--context", "py=python"]);
        var listed = await Listed(a, "py");         // there before any request asked for it
        var joined = await a.CreateContextAsync("py", "python");
        Assert.Equal(("py", "python", AgentUnderTest.Home), (joined.Str("context"), joined.Str("language"), joined.Str("cwd")));
        Assert.True(joined.GetProperty("pid").GetInt32() > 0, joined.ToString());
        Assert.Equal(listed.Int("pid"), joined.Int("pid"));         // the same interpreter, not a second one
        await a.CallAsync("context.create", new { context = "py", language = "python" }, expect: "exists");   // joined once only
        Assert.Equal("2", (await a.ExecuteAsync("py", "1 + 1")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task A_create_that_differs_from_the_context_started_at_launch_does_not_join_it()
    {
        await using var a = await AgentUnderTest.StartAsync(agentArgs: ["--context", "py=python"]);
        await a.CallAsync("context.create", new { context = "py", language = "node" }, expect: "exists");
        await a.CallAsync("context.create", new { context = "py", language = "python", cwd = AgentUnderTest.Tmp }, expect: "exists");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task List_shows_language_directory_and_whether_a_context_is_busy()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("m1", "python", new { cwd = AgentUnderTest.Tmp });
        await a.ExecuteAsync("m1", "v = 1");
        var m1 = await Listed(a, "m1");
        Assert.Equal(("python", AgentUnderTest.Tmp, false), (m1.Str("language"), m1.Str("cwd"), m1.Bool("busy")));
        var id = a.Send("execute", new { context = "m1", code = "import time; print('started', flush=True); time.sleep(30)" });
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout");
        Assert.True((await Listed(a, "m1")).Bool("busy"));       // busy while executing
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Restart_gives_a_fresh_interpreter()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("m1", "python", new { cwd = AgentUnderTest.Tmp });
        await a.ExecuteAsync("m1", "v = 1");
        var oldPid = (await Listed(a, "m1")).GetProperty("pid").GetInt32();
        var info = await a.CallAsync("context.restart", new { context = "m1" });
        Assert.True(info.GetProperty("pid").GetInt32() != oldPid && info.Str("context") == "m1", info.ToString());
        Assert.Equal("False", (await a.ExecuteAsync("m1", "'v' in globals()")).MainText);       // a restart clears the state
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Remove_ends_a_running_execution_and_the_context()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("m1", "python");
        var id = a.Send("execute", new { context = "m1", code = "import time; print('started', flush=True); time.sleep(30)" });
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout");
        await a.CallAsync("context.remove", new { context = "m1" });
        var (_, final) = await a.WaitAsync(id, 5);
        Assert.Equal("done", final.Str("type"));           // the execution is ended by the removal
        Assert.DoesNotContain((await a.CallAsync("context.list")).GetProperty("contexts").EnumerateArray(), c => c.Str("context") == "m1");
        await a.CallAsync("context.remove", new { context = "m1" }, expect: "not_found");
        await a.ShutdownAsync();
    }
}
