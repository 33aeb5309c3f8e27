using System.Net;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Mcp.Upstreams;
using AgenticGateway.Sandboxes;
using AgenticGateway.Services.Mcp;
using AgenticGateway.Tests.Sandboxes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Mcp;

/// <summary>
/// The built-in sandbox MCP server called directly (as the federation calls it) on a gateway running real bubblewrap
/// sandboxes: state kept per language and session, commands, files, owners kept apart, sessions' ends, errors.
/// </summary>
[Trait("Category", "sandbox")]
public class SandboxToolServerTests(SandboxGatewayFixture fixture) : IClassFixture<SandboxGatewayFixture>
{
    private SandboxToolServer Server => fixture.Gateway.Server.Services.GetRequiredService<SandboxToolServer>();
    private SandboxManager Manager => fixture.Gateway.Server.Services.GetRequiredService<SandboxManager>();

    private static McpCallContext Caller(string owner, string? session = null) => new(owner, session, []);

    [Fact]
    public async Task The_server_lists_five_tools_with_object_schemas_that_forbid_unknown_arguments()
    {
        var tools = await Server.ListToolsAsync(CancellationToken.None);
        Assert.Equal(["run_code", "run_command", "read_file", "write_file", "list_files"], tools.Select(t => t.Name));
        foreach (var tool in tools)
        {
            Assert.False(string.IsNullOrWhiteSpace(tool.Description));
            Assert.Equal("object", tool.InputSchema.GetProperty("type").GetString());
            Assert.False(tool.InputSchema.GetProperty("additionalProperties").GetBoolean());
        }
        Assert.Equal(["python", "node", "bash"], tools[0].InputSchema.GetProperty("properties").GetProperty("language").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Null(tools[2].OutputSchema);
        // Fresh objects each time: a caller renaming what it was given changes nothing here.
        tools[0].Name = "renamed";
        Assert.Equal("run_code", (await Server.ListToolsAsync(CancellationToken.None))[0].Name);
    }

    [Fact]
    public async Task Python_state_persists_between_calls_of_one_session()
    {
        var caller = Caller("key:python-state", "session-1");
        var first = await CallAsync("run_code", """{"code":"x = 1\nprint('set')"}""", caller);
        Assert.Equal("set\n", Structured(first).GetProperty("stdout").GetString());

        var second = await CallAsync("run_code", """{"language":"python","code":"x + 1"}""", caller);
        var results = Structured(second).GetProperty("results");
        Assert.Equal("2", results[0].GetProperty("text").GetString());
        Assert.True(results[0].GetProperty("is_main_result").GetBoolean());
        Assert.NotEqual(true, second.IsError);
        // The serialized JSON is in a text block too, for clients that read no structuredContent.
        Assert.Contains("\"text\":\"2\"", Text(second));

        // Another session of the same owner has a sandbox (and interpreter) of its own.
        var other = await CallAsync("run_code", """{"code":"print('x' in globals())"}""", Caller("key:python-state", "session-2"));
        Assert.Equal("False\n", Structured(other).GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task Node_and_bash_keep_their_own_state_beside_python()
    {
        var caller = Caller("key:languages", "s");
        await OkAsync("run_code", """{"language":"node","code":"var y = 40"}""", caller);
        var node = await CallAsync("run_code", """{"language":"node","code":"y + 2"}""", caller);
        Assert.Equal("42", Structured(node).GetProperty("results")[0].GetProperty("text").GetString());

        await OkAsync("run_code", """{"language":"bash","code":"A=5; cd /tmp"}""", caller);
        var bash = await CallAsync("run_code", """{"language":"bash","code":"echo $((A+1)) $PWD"}""", caller);
        Assert.Equal("6 /tmp\n", Structured(bash).GetProperty("stdout").GetString());
        Assert.Equal(0, Structured(bash).GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task An_exception_is_a_failed_result_with_its_traceback_and_the_state_survives()
    {
        var caller = Caller("key:exception");
        await OkAsync("run_code", """{"code":"kept = 'yes'"}""", caller);
        var failed = await CallAsync("run_code", """{"code":"print('before')\n1 / 0"}""", caller);
        Assert.True(failed.IsError);
        var result = Structured(failed);
        Assert.Equal("before\n", result.GetProperty("stdout").GetString());
        Assert.Equal("ZeroDivisionError", result.GetProperty("error").GetProperty("name").GetString());
        Assert.Contains("1 / 0", result.GetProperty("error").GetProperty("traceback").GetString());
        Assert.Equal(1, result.GetProperty("exit_code").GetInt32());

        var after = await CallAsync("run_code", """{"code":"kept"}""", caller);
        Assert.Equal("'yes'", Structured(after).GetProperty("results")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_run_past_its_timeout_is_interrupted_and_reported()
    {
        var result = await CallAsync("run_code", """{"code":"import time\ntime.sleep(30)","timeout_seconds":1}""", Caller("key:timeout"));
        Assert.True(result.IsError);
        Assert.True(Structured(result).GetProperty("timed_out").GetBoolean());
        Assert.Equal("TimeoutError", Structured(result).GetProperty("error").GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_cancelled_call_interrupts_its_run_and_the_interpreter_keeps_its_state()
    {
        var caller = Caller("key:cancel");
        await OkAsync("run_code", """{"code":"kept = 7"}""", caller);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        using var document = JsonDocument.Parse("""{"code":"import time\ntime.sleep(60)"}""");
        var arguments = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Server.CallToolAsync("run_code", arguments, caller, cts.Token).AsTask());

        // The interrupt reaches the interpreter within seconds (not the 60 s of the sleep); until then the context is busy.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        CallToolResult after;
        while ((after = await CallAsync("run_code", """{"code":"kept"}""", caller)).IsError == true && Text(after).Contains("still running") && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        Assert.Equal("7", Structured(after).GetProperty("results")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Run_command_returns_exit_code_stdout_and_stderr_and_fails_on_a_non_zero_exit()
    {
        var caller = Caller("key:command", "s");
        var ok = await CallAsync("run_command", """{"command":"mkdir -p work && cd work && pwd && echo oops >&2"}""", caller);
        Assert.NotEqual(true, ok.IsError);
        var result = Structured(ok);
        Assert.Equal(0, result.GetProperty("exit_code").GetInt32());
        Assert.Equal("/home/user/work\n", result.GetProperty("stdout").GetString());
        Assert.Equal("oops\n", result.GetProperty("stderr").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("signal").ValueKind);

        var inDir = await CallAsync("run_command", """{"command":"pwd; exit 3","cwd":"work"}""", caller);
        Assert.True(inDir.IsError);
        Assert.Equal(3, Structured(inDir).GetProperty("exit_code").GetInt32());
        Assert.Equal("/home/user/work\n", Structured(inDir).GetProperty("stdout").GetString());

        // A directory that is not there is the agent's not_found, told to the model.
        var missing = await CallAsync("run_command", """{"command":"true","cwd":"no/such/dir"}""", caller);
        Assert.True(missing.IsError);
        Assert.StartsWith("Not found", Text(missing));
    }

    [Fact]
    public async Task Write_read_and_list_files_and_the_code_sees_them()
    {
        var caller = Caller("key:files", "s");
        var written = await CallAsync("write_file", """{"path":"notes/hello.txt","content":"héllo\nworld\n"}""", caller);
        Assert.Equal(13, Structured(written).GetProperty("size").GetInt32());

        var read = await CallAsync("read_file", """{"path":"/home/user/notes/hello.txt"}""", caller);
        Assert.Equal("héllo\nworld\n", Assert.IsType<TextContentBlock>(Assert.Single(read.Content)).Text);
        var code = await CallAsync("run_code", """{"code":"open('notes/hello.txt').read().split()"}""", caller);
        Assert.Equal("['héllo', 'world']", Structured(code).GetProperty("results")[0].GetProperty("text").GetString());

        var listed = Structured(await CallAsync("list_files", """{"path":"notes"}""", caller));
        var entry = Assert.Single(listed.GetProperty("entries").EnumerateArray());
        Assert.Equal("hello.txt", entry.GetProperty("name").GetString());
        Assert.Equal("file", entry.GetProperty("type").GetString());
        Assert.Equal(13, entry.GetProperty("size").GetInt32());
        Assert.False(listed.GetProperty("truncated").GetBoolean());
        var home = Structured(await CallAsync("list_files", "{}", caller));
        Assert.Equal("/home/user", home.GetProperty("path").GetString());
        Assert.Contains(home.GetProperty("entries").EnumerateArray(), e => e.GetProperty("name").GetString() == "notes" && e.GetProperty("type").GetString() == "dir");

        // A picture comes back as an image, other binary data as a blob resource.
        await OkAsync("run_code", """{"code":"open('dot.png','wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(8)); open('raw.bin','wb').write(bytes([0, 255, 1]))"}""", caller);
        var image = Assert.IsType<ImageContentBlock>(Assert.Single((await CallAsync("read_file", """{"path":"dot.png"}""", caller)).Content));
        Assert.Equal("image/png", image.MimeType);
        Assert.Equal(16, image.DecodedData.Length);
        var blob = Assert.IsType<EmbeddedResourceBlock>(Assert.Single((await CallAsync("read_file", """{"path":"raw.bin"}""", caller)).Content));
        var contents = Assert.IsType<BlobResourceContents>(blob.Resource);
        Assert.Equal(new byte[] { 0, 255, 1 }, contents.DecodedData.ToArray());
        Assert.Equal("file:///home/user/raw.bin", contents.Uri);

        var missing = await CallAsync("read_file", """{"path":"nothing-here.txt"}""", caller);
        Assert.True(missing.IsError);
        var outside = await CallAsync("write_file", """{"path":"/etc/evil","content":"x"}""", caller);
        Assert.True(outside.IsError);
        Assert.StartsWith("Not permitted", Text(outside));
    }

    [Fact]
    public async Task Two_owners_get_different_sandboxes_and_cannot_read_each_others_files()
    {
        await OkAsync("write_file", """{"path":"secret.txt","content":"owner A only"}""", Caller("key:owner-a"));
        var b = Caller("key:owner-b");
        var read = await CallAsync("read_file", """{"path":"secret.txt"}""", b);
        Assert.True(read.IsError);
        Assert.StartsWith("Not found", Text(read));
        var listed = Structured(await CallAsync("list_files", "{}", b));
        Assert.DoesNotContain(listed.GetProperty("entries").EnumerateArray(), e => e.GetProperty("name").GetString() == "secret.txt");

        var ofA = Assert.Single(Manager.List("key:owner-a"));
        var ofB = Assert.Single(Manager.List("key:owner-b"));
        Assert.NotEqual(ofA.Id, ofB.Id);
        Assert.Equal("mcp", ofA.Spec.Metadata["created_by"]);
    }

    [Fact]
    public async Task Ending_a_session_ends_its_sandbox_and_only_that_one()
    {
        const string owner = "key:session-end";
        await OkAsync("run_code", """{"code":"v = 1"}""", Caller(owner, "ending"));
        await OkAsync("run_code", """{"code":"v = 2"}""", Caller(owner, "staying"));
        var sandboxes = Manager.List(owner).ToList();
        Assert.Equal(2, sandboxes.Count);

        Assert.True(await Server.EndSessionAsync(owner, "ending"));
        Assert.Single(sandboxes, s => s.HasEnded);
        Assert.Equal("session_ended", sandboxes.Single(s => s.HasEnded).EndReason);
        Assert.False(await Server.EndSessionAsync(owner, "ending"));
        Assert.False(await Server.EndSessionAsync(owner, "never-used"));

        var staying = await CallAsync("run_code", """{"code":"v"}""", Caller(owner, "staying"));
        Assert.Equal("2", Structured(staying).GetProperty("results")[0].GetProperty("text").GetString());
        // The ended session's id, used again, starts from nothing.
        var again = await CallAsync("run_code", """{"code":"print('v' in globals())"}""", Caller(owner, "ending"));
        Assert.Equal("False\n", Structured(again).GetProperty("stdout").GetString());
    }

    [Fact]
    public async Task A_sandbox_that_ended_is_replaced_and_the_model_is_told_its_state_is_gone()
    {
        var caller = Caller("key:replaced");
        await OkAsync("run_code", """{"code":"w = 1"}""", caller);
        var first = Assert.Single(Manager.List("key:replaced"));
        await Manager.EndAsync(first, "expired");

        var next = await CallAsync("run_code", """{"code":"print('w' in globals())"}""", caller);
        Assert.Equal("False\n", Structured(next).GetProperty("stdout").GetString());
        var note = Assert.IsType<TextContentBlock>(next.Content[0]).Text;
        Assert.Contains("earlier sandbox ended (expired)", note);
        Assert.NotEqual(first.Id, Assert.Single(Manager.List("key:replaced")).Id);
        // Told once: the call after runs in the same new sandbox without the note.
        var later = await CallAsync("run_code", """{"code":"1"}""", caller);
        Assert.DoesNotContain(later.Content, c => c is TextContentBlock t && t.Text.StartsWith("Note:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_call_keeps_its_sandbox_alive_past_the_default_lifetime()
    {
        var caller = Caller("key:keep-alive");
        await OkAsync("run_code", """{"code":"1"}""", caller);
        var sandbox = Assert.Single(Manager.List("key:keep-alive"));
        var lifetime = Manager.Options.Defaults.Timeout;
        // A long timeout pushes the expiry past the run's own length plus the idle lifetime.
        await OkAsync("run_code", """{"code":"1","timeout_seconds":600}""", caller);
        Assert.InRange(sandbox.ExpiresAt - DateTimeOffset.UtcNow, lifetime + TimeSpan.FromSeconds(590), lifetime + TimeSpan.FromSeconds(601));
    }

    [Theory]
    [InlineData("run_code", """{}""", "code is required")]
    [InlineData("run_code", """{"code":1}""", "code must be a string")]
    [InlineData("run_code", """{"code":"1","language":"cobol"}""", "language must be python, node or bash")]
    [InlineData("run_code", """{"code":"1","timeout_seconds":0}""", "timeout_seconds must be a number")]
    [InlineData("run_code", """{"code":"1","timeout_seconds":"5"}""", "timeout_seconds must be a number")]
    [InlineData("run_code", """{"code":"1","context":"other"}""", "unknown argument 'context'")]
    [InlineData("run_command", """{"command":""}""", "command is required and may not be empty")]
    [InlineData("run_command", """{"command":"ls","cwd":""}""", "cwd must be a non-empty path")]
    [InlineData("read_file", """{"path":"a\u0000b"}""", "path must be a non-empty path without NUL")]
    [InlineData("write_file", """{"path":"a.txt"}""", "content is required")]
    [InlineData("list_files", """{"path":["a"]}""", "path must be a string")]
    public async Task Bad_arguments_are_an_invalid_params_protocol_error(string tool, string arguments, string problem)
    {
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => CallAsync(tool, arguments, Caller("key:bad-arguments")));
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Contains(problem, ex.Message);
        Assert.StartsWith($"Invalid arguments for tool {tool}", ex.Message);
        // Refused before any sandbox was made.
        Assert.Empty(Manager.List("key:bad-arguments"));
    }

    [Fact]
    public async Task An_unknown_tool_is_an_invalid_params_protocol_error()
    {
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => CallAsync("rm_rf", "{}", Caller("key:unknown-tool")));
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Contains("Unknown tool", ex.Message);
    }

    [Fact]
    public async Task The_sandbox_is_the_keys_own_as_the_rest_api_sees_it()
    {
        var key = await fixture.Gateway.NewKeyAsync();
        var owner = "key:" + VirtualKey.TokenOf(key);
        await OkAsync("run_code", """{"code":"1"}""", Caller(owner));
        var (status, body) = await fixture.Gateway.SendAsync(HttpMethod.Get, "/v1/sandboxes?metadata.created_by=mcp", key: key);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Assert.Single(Manager.List(owner)).Id, Assert.Single(body.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
    }

    internal static async Task<CallToolResult> CallAsync(SandboxToolServer server, string tool, string json, McpCallContext caller)
    {
        using var document = JsonDocument.Parse(json);
        var arguments = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        var result = await server.CallToolAsync(tool, arguments, caller, CancellationToken.None);
        // What the tool's outputSchema requires is there whenever a result is structured (the TypeScript SDK checks).
        var schema = (await server.ListToolsAsync(CancellationToken.None)).Single(t => t.Name == tool).OutputSchema;
        if (result.StructuredContent is { } structured && schema is { } s)
            foreach (var required in s.GetProperty("required").EnumerateArray())
                Assert.True(structured.TryGetProperty(required.GetString()!, out _), $"{tool}'s result lacks {required}: {structured}");
        if (schema is not null && result.IsError != true) Assert.NotNull(result.StructuredContent);
        return result;
    }

    private Task<CallToolResult> CallAsync(string tool, string json, McpCallContext caller) => CallAsync(Server, tool, json, caller);

    /// <summary>A call that must succeed (a sandbox that failed to start says why here, not in a later assertion).</summary>
    internal static async Task<CallToolResult> OkAsync(SandboxToolServer server, string tool, string json, McpCallContext caller)
    {
        var result = await CallAsync(server, tool, json, caller);
        Assert.True(result.IsError != true, $"{tool} failed: {Text(result)}");
        return result;
    }

    private Task<CallToolResult> OkAsync(string tool, string json, McpCallContext caller) => OkAsync(Server, tool, json, caller);

    internal static JsonElement Structured(CallToolResult result) =>
        result.StructuredContent ?? throw new Xunit.Sdk.XunitException($"No structured content: {Text(result)}");

    internal static string Text(CallToolResult result) =>
        string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
}

/// <summary>The server's refusals and limits, each with a gateway configured for it.</summary>
[Trait("Category", "sandbox")]
public class SandboxToolServerLimitTests
{
    [Fact]
    public async Task Output_and_files_are_bounded_by_the_sandbox_limits()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}, max_output_bytes: 2000, max_file_bytes: 3000");
        var server = g.Server.Services.GetRequiredService<SandboxToolServer>();
        var caller = new McpCallContext("key:limits", null, []);

        var printed = await SandboxToolServerTests.CallAsync(server, "run_code", """{"code":"print('x' * 10000)"}""", caller);
        Assert.True(SandboxToolServerTests.Structured(printed).GetProperty("truncated").GetBoolean());
        Assert.InRange(SandboxToolServerTests.Structured(printed).GetProperty("stdout").GetString()!.Length, 1, 2000);
        var command = await SandboxToolServerTests.CallAsync(server, "run_command", """{"command":"head -c 10000 /dev/zero | tr '\\0' y"}""", caller);
        Assert.True(SandboxToolServerTests.Structured(command).GetProperty("truncated").GetBoolean());
        Assert.InRange(SandboxToolServerTests.Structured(command).GetProperty("stdout").GetString()!.Length, 1, 2000);

        var tooLarge = await SandboxToolServerTests.CallAsync(server, "write_file", $$"""{"path":"big.txt","content":"{{new string('z', 3001)}}"}""", caller);
        Assert.True(tooLarge.IsError);
        Assert.Contains("sandboxes.max_file_bytes", SandboxToolServerTests.Text(tooLarge));
        await SandboxToolServerTests.OkAsync(server, "write_file", $$"""{"path":"fits.txt","content":"{{new string('z', 3000)}}"}""", caller);
        Assert.Equal(3000, Assert.IsType<TextContentBlock>(Assert.Single((await SandboxToolServerTests.CallAsync(server, "read_file", """{"path":"fits.txt"}""", caller)).Content)).Text.Length);

        await SandboxToolServerTests.OkAsync(server, "run_command", """{"command":"head -c 5000 /dev/zero > big.bin"}""", caller);
        var readTooLarge = await SandboxToolServerTests.CallAsync(server, "read_file", """{"path":"big.bin"}""", caller);
        Assert.True(readTooLarge.IsError);
        Assert.Contains("5000 bytes", SandboxToolServerTests.Text(readTooLarge));
    }

    [Fact]
    public async Task A_quota_refusal_is_a_failed_result_the_model_can_read()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}, quota: {max_concurrent: 1}");
        var server = g.Server.Services.GetRequiredService<SandboxToolServer>();
        await SandboxToolServerTests.OkAsync(server, "run_code", """{"code":"1"}""", new McpCallContext("key:quota", "first", []));
        var refused = await SandboxToolServerTests.CallAsync(server, "run_code", """{"code":"1"}""", new McpCallContext("key:quota", "second", []));
        Assert.True(refused.IsError);
        Assert.Null(refused.StructuredContent);
        Assert.StartsWith("No sandbox could be started:", SandboxToolServerTests.Text(refused));
        // Once the first session ends, the second has room.
        Assert.True(await server.EndSessionAsync("key:quota", "first"));
        var admitted = await SandboxToolServerTests.CallAsync(server, "run_code", """{"code":"1"}""", new McpCallContext("key:quota", "second", []));
        Assert.NotEqual(true, admitted.IsError);
    }

    [Fact]
    public async Task With_sandboxes_off_a_call_fails_with_the_reason()
    {
        await using var g = await SandboxGateway.StartAsync("enabled: false");
        var server = g.Server.Services.GetRequiredService<SandboxToolServer>();
        var result = await SandboxToolServerTests.CallAsync(server, "run_command", """{"command":"true"}""", new McpCallContext("key:off", null, []));
        Assert.True(result.IsError);
        Assert.Equal("Sandboxes are off on this gateway: sandboxes.enabled is false.", SandboxToolServerTests.Text(result));
        Assert.Equal(0, server.Bindings);
    }
}
