using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary><c>execute</c> in node contexts (nodekernel.js under the agent).</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class NodeExecuteTests
{
    [Fact]
    public async Task State_persists_promises_are_awaited_and_output_streams()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("js", "node");
        var r = await a.ExecuteAsync("js", "let x = 5; const y = 2; function f(n) { return n * x; } console.log('hello'); x");
        Assert.Equal("hello\n", r.Stdout);
        Assert.Equal("5", r.MainText);
        r = await a.ExecuteAsync("js", "JSON.stringify([f(3), y, typeof require, process.cwd(), typeof setTimeout, typeof fetch])");
        // util.inspect of a string: the JSON in single quotes.
        Assert.StartsWith("'", r.MainText);
        var values = JsonDocument.Parse(r.MainText!.Trim('\'')).RootElement.EnumerateArray().Select(v => v.ToString()).ToArray();
        Assert.Equal(new[] { "15", "2", "function", AgentUnderTest.Home, "function", "function" }, values);    // persistence, globals
        Assert.Empty((await a.ExecuteAsync("js", "undefined")).Results);
        r = await a.ExecuteAsync("js", "console.error('err'); require('child_process').execSync('echo from-child', {stdio: 'inherit'}); 'done'");
        Assert.Equal("from-child\n", r.Stdout);       // a child's output is captured
        Assert.Equal("err\n", r.Stderr);
        Assert.Equal("{ ok: true }", (await a.ExecuteAsync("js", "new Promise(r => setTimeout(() => r({ok: true}), 50))")).MainText);
        r = await a.ExecuteAsync("js", "process.env.AGW_T2", new { env = new Dictionary<string, string> { ["AGW_T2"] = "v2" } });
        Assert.Equal("'v2'", r.MainText);
        Assert.Equal("'unset'", (await a.ExecuteAsync("js", "process.env.AGW_T2 ?? 'unset'")).MainText);      // env restored
        await a.UploadAsync(AgentUnderTest.Home + "/localmod.js", Encoding.UTF8.GetBytes("module.exports = { answer: 42 };"));
        Assert.Equal("42", (await a.ExecuteAsync("js", "require('./localmod').answer")).MainText);     // require is rooted at the cwd
        r = await a.ExecuteAsync("js", "console.log('a'.repeat(300000)); 1");
        Assert.Equal(300001, r.Stdout.Length);        // large output flushed before done
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Exceptions_and_rejections_are_reported_and_the_context_survives()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("jsx", "node");
        await a.ExecuteAsync("jsx", "const keep = 'kept'");
        var r = await a.ExecuteAsync("jsx", "function g() { return nope; }\ng()");
        Assert.Equal(1, r.ExitCode);
        var e = r.Exceptions[0];
        Assert.Equal("ReferenceError", e.Str("name"));
        Assert.Equal("nope is not defined", e.Str("value"));
        var traceback = e.Str("traceback")!;
        Assert.True(traceback.Contains("cell:1") && !traceback.Contains("nodekernel") && !traceback.Contains("node:vm"), traceback);
        r = await a.ExecuteAsync("jsx", "Promise.reject(new TypeError('bad'))");
        Assert.Equal(("TypeError", "bad"), (r.Exceptions[0].Str("name"), r.Exceptions[0].Str("value")));      // a rejected promise
        r = await a.ExecuteAsync("jsx", "throw 5");
        Assert.Equal(("number", "5"), (r.Exceptions[0].Str("name"), r.Exceptions[0].Str("value")));       // not an Error
        Assert.Equal("SyntaxError", (await a.ExecuteAsync("jsx", "let = ;")).ExceptionNames[0]);
        // An exception thrown by a timer after its cell ended; the timer leaves a file once it has run.
        await a.ExecuteAsync("jsx", "setTimeout(() => { require('fs').writeFileSync('/tmp/thrown', ''); throw new Error('later') }, 10); 1");
        var watch = Stopwatch.StartNew();
        while ((await a.WaitAsync(a.Send("fs.stat", new { path = "/tmp/thrown" }))).Final.Str("type") != "done")
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "the timer did not run");
            await Task.Delay(10);
        }
        Assert.Equal("'kept'", (await a.ExecuteAsync("jsx", "keep")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task A_timeout_breaks_off_a_loop_or_a_pending_promise_and_kills_a_loop_in_a_callback()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("jst", "node");
        await a.ExecuteAsync("jst", "var state = 42");
        var r = await a.ExecuteAsync("jst", "while (true) {}", new { timeout_ms = 300 });
        Assert.Equal((true, false), (r.TimedOut, r.ContextRestarted));         // a synchronous loop is broken off
        Assert.Equal(new[] { "TimeoutError" }, r.ExceptionNames);
        r = await a.ExecuteAsync("jst", "new Promise(() => {})", new { timeout_ms = 300 });
        Assert.Equal((true, false), (r.TimedOut, r.ContextRestarted));         // a pending promise is abandoned
        Assert.Equal("42", (await a.ExecuteAsync("jst", "state")).MainText);
        var watch = Stopwatch.StartNew();
        r = await a.ExecuteAsync("jst", "new Promise(r => setTimeout(r, 10)).then(() => { while (true) {} })", new { timeout_ms = 300 });
        Assert.Equal((true, true), (r.TimedOut, r.ContextRestarted));          // a loop in a callback: killed
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"{watch.Elapsed}");
        Assert.Equal("'undefined'", (await a.ExecuteAsync("jst", "typeof state")).MainText);      // fresh
        r = await a.ExecuteAsync("jst", "process.exit(3)");
        Assert.Equal((3, true), (r.ExitCode, r.ContextRestarted));
        r = await a.ExecuteAsync("jst", "process.kill(process.pid, 'SIGKILL')");
        Assert.Equal("InterpreterDied", r.ExceptionNames[0]);
        Assert.Contains("SIGKILL", r.Exceptions[0].Str("value"));
        r = await a.ExecuteAsync("jst", "process.stdout.write('x'.repeat(100_000_000)); 'end'", timeoutSeconds: 60);
        Assert.Equal((true, 1 << 20, "'end'"), (r.Truncated, r.Stdout.Length, r.MainText));      // the output cap
        await a.ShutdownAsync();
    }
}
