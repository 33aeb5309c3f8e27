using System.Text.Json;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// What the SDK scripts in E2b/node must have seen, shared by every isolation they run on (bubblewrap and QEMU), so
/// both are held to the same E2B behaviour.
/// </summary>
internal static class E2bSdkChecks
{
    /// <summary>envd-commands.mjs: foreground, exit codes, envs and cwd, the user, background with onStdout, list, kill, stdin, timeouts.</summary>
    public static void Commands(JsonElement r)
    {
        var fg = r.GetProperty("fg");
        Assert.Equal(("hello\n", "oops\n", 0), (fg.GetProperty("stdout").GetString(), fg.GetProperty("stderr").GetString(), fg.GetProperty("exitCode").GetInt32()));

        // A non-zero exit is the SDK's CommandExitError, with the code and what the command printed.
        var exit = r.GetProperty("exit");
        Assert.True(exit.GetProperty("isCommandExitError").GetBoolean(), exit.ToString());
        Assert.Equal((3, "partial\n"), (exit.GetProperty("exitCode").GetInt32(), exit.GetProperty("stdout").GetString()));

        // envs and cwd per command, over the sandbox's own envs (from create); the user is `user`, at home in /home/user.
        Assert.Equal("hi-env created\n/tmp\n", r.GetProperty("envCwd").GetString());
        Assert.Equal("user\n/home/user\n/home/user\n", r.GetProperty("who").GetString());

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

    /// <summary>envd-files.mjs: write, read, list (depth), exists, rename, remove, makeDir, getInfo, watchDir; writes outside the roots refused.</summary>
    public static void Files(JsonElement r)
    {
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

    /// <summary>interpreter.mjs: runCode with state across cells, errors, a JavaScript context, contexts, a matplotlib PNG.</summary>
    public static void Interpreter(JsonElement r)
    {
        var first = r.GetProperty("first");
        Assert.Equal(["set\n"], first.GetProperty("stdout").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(["set\n"], r.GetProperty("streamed").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(JsonValueKind.Null, first.GetProperty("error").ValueKind);
        Assert.Equal(1, first.GetProperty("executionCount").GetInt32());

        // State across cells, the main result's text, and the count going on.
        var second = r.GetProperty("second");
        Assert.Equal("42", second.GetProperty("text").GetString());
        Assert.True(Assert.Single(second.GetProperty("results").EnumerateArray()).GetProperty("isMainResult").GetBoolean());
        Assert.Equal(2, second.GetProperty("executionCount").GetInt32());
        Assert.Equal("a string", r.GetProperty("text").GetProperty("text").GetString());

        var error = r.GetProperty("failed").GetProperty("error");
        Assert.Equal("ZeroDivisionError", error.GetProperty("name").GetString());
        Assert.Equal("division by zero", error.GetProperty("value").GetString());
        Assert.Contains("ZeroDivisionError", error.GetProperty("traceback").GetString());
        Assert.Equal("yes", r.GetProperty("env").GetProperty("text").GetString());

        // A JavaScript context keeps its own state; a language's default context serves runCode({language}).
        var js = r.GetProperty("js");
        Assert.Equal("javascript", js.GetProperty("language").GetString());
        Assert.Equal("20", r.GetProperty("jsFirst").GetProperty("text").GetString());
        Assert.Equal(["js\n"], r.GetProperty("jsFirst").GetProperty("stdout").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal("40", r.GetProperty("jsSecond").GetProperty("text").GetString());
        Assert.Equal("42", r.GetProperty("jsByLanguage").GetProperty("text").GetString());
        Assert.Contains(r.GetProperty("contexts").EnumerateArray(), c => c.GetProperty("id").GetString() == js.GetProperty("id").GetString()
            && c.GetProperty("language").GetString() == "javascript");
        // A restarted context has lost its state.
        Assert.Equal("undefined", r.GetProperty("afterRestart").GetProperty("text").GetString());
        Assert.False(r.GetProperty("removed").GetBoolean());

        // The figure: a PNG (base64 of its signature) among the results.
        var plot = r.GetProperty("plot");
        Assert.Equal(JsonValueKind.Null, plot.GetProperty("error").ValueKind);
        var png = Assert.Single(plot.GetProperty("results").EnumerateArray(), x => x.GetProperty("png").ValueKind == JsonValueKind.String);
        Assert.StartsWith("iVBORw0KGgo", png.GetProperty("png").GetString());
        Assert.Contains("png", png.GetProperty("formats").EnumerateArray().Select(e => e.GetString()));
    
    }
}
