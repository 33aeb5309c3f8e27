using System.Diagnostics;
using System.Text;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary><c>execute</c> in python contexts (pykernel.py under the agent).</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class PythonExecuteTests
{
    private const string Home = AgentUnderTest.Home;
    private const string Tmp = AgentUnderTest.Tmp;

    [Fact]
    public async Task State_persists_and_output_of_the_interpreter_and_its_children_streams()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("py", "python");
        var r = await a.ExecuteAsync("py", "x = 5\ndef f(n):\n    return n * x\nprint('hello')\nx");
        Assert.Equal("hello\n", r.Stdout);
        Assert.Equal("5", r.MainText);
        Assert.Equal(0, r.ExitCode);
        Assert.False(r.Truncated || r.TimedOut || r.ContextRestarted, r.ToString());
        r = await a.ExecuteAsync("py", "import os\nf(3), __name__, os.getcwd()");
        Assert.Equal($"(15, '__main__', '{Home}')", r.MainText);
        r = await a.ExecuteAsync("py", "y = 1");
        Assert.True(r.Main is null && r.Results.Count == 0, r.ToString());
        r = await a.ExecuteAsync("py", "None");
        Assert.Empty(r.Results);
        r = await a.ExecuteAsync("py", "print('out'); import sys; print('err', file=sys.stderr)\nimport subprocess\n"
            + "subprocess.run(['sh', '-c', 'echo from-child; echo child-err >&2'])\nprint('after')");
        Assert.Equal("out\nfrom-child\nafter\n", r.Stdout);
        Assert.Equal("err\nchild-err\n", r.Stderr);
        r = await a.ExecuteAsync("py", "print('é ✓ 😀')");
        Assert.Equal("é ✓ 😀\n", r.Stdout);
        r = await a.ExecuteAsync("py", "input()");
        Assert.Equal("EOFError", r.ExceptionNames[0]);          // stdin is /dev/null
        Assert.Equal("42", (await a.ExecuteAsync("py", "6 * 7")).MainText);
        Assert.Equal("42", (await a.ExecuteAsync("py", "_")).MainText);     // _ is the last main result
        Assert.Equal($"'{Tmp}'", (await a.ExecuteAsync("py", "os.getcwd()", new { cwd = Tmp })).MainText);
        Assert.Equal($"'{Tmp}'", (await a.ExecuteAsync("py", "os.getcwd()")).MainText);      // the cwd stays
        await a.CallAsync("execute", new { context = "py", code = "1", cwd = Home + "/no/such/dir" }, expect: "not_found");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Exceptions_are_reported_without_the_kernels_frames_and_the_context_survives()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("pyx", "python");
        await a.ExecuteAsync("pyx", "keep = 'kept'");
        var r = await a.ExecuteAsync("pyx", "def g():\n    return 1 / 0\ng()");
        Assert.Equal(1, r.ExitCode);
        var e = r.Exceptions[0];
        Assert.Equal("ZeroDivisionError", e.Str("name"));
        Assert.Equal("division by zero", e.Str("value"));
        var traceback = e.Str("traceback")!;
        Assert.True(traceback.Contains("<cell-") && traceback.Contains("return 1 / 0"), traceback);
        Assert.DoesNotContain("pykernel", traceback);
        r = await a.ExecuteAsync("pyx", "x = = 1");
        Assert.Equal("SyntaxError", r.ExceptionNames[0]);
        Assert.DoesNotContain("pykernel", r.Exceptions[0].Str("traceback"));
        r = await a.ExecuteAsync("pyx", "raise SystemExit(3)");
        Assert.Equal("SystemExit", r.ExceptionNames[0]);
        Assert.Equal("'kept'", (await a.ExecuteAsync("pyx", "keep")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Rich_results_env_per_execution_and_top_level_await()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("pyr", "python");
        var r = await a.ExecuteAsync("pyr", "class H:\n    def _repr_html_(self): return '<b>hi</b>'\n"
            + "    def _repr_png_(self): return b'\\x89PNG'\n    def _repr_json_(self): return {'a': 1}\n"
            + "    def __repr__(self): return 'H()'\nH()");
        var main = r.Main!.Value;
        Assert.Equal("H()", main.Str("text"));
        Assert.Equal("<b>hi</b>", main.Str("html"));
        Assert.Equal("\u0089PNG", Latin1(main.Str("png")));
        var json = main.GetProperty("json");
        Assert.Equal(new[] { "a" }, json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, json.GetProperty("a").GetInt32());
        r = await a.ExecuteAsync("pyr", "class W:\n    def __getattr__(self, n): raise RuntimeError(n)\n"
            + "    def __repr__(self): return 'W'\nW()");
        Assert.Equal(("W", 0, 0), (r.MainText, r.ExitCode, r.Exceptions.Count));     // a hostile __getattr__
        r = await a.ExecuteAsync("pyr", "int");
        Assert.Equal("<class 'int'>", r.MainText);
        Assert.Equal(new[] { "id", "type", "is_main_result", "text" }, r.Main!.Value.EnumerateObject().Select(p => p.Name));
        r = await a.ExecuteAsync("pyr", "import os\nos.environ.get('AGW_T1')", new { env = new Dictionary<string, string> { ["AGW_T1"] = "v1" } });
        Assert.Equal("'v1'", r.MainText);
        Assert.Equal("'unset'", (await a.ExecuteAsync("pyr", "os.environ.get('AGW_T1', 'unset')")).MainText);       // env restored
        r = await a.ExecuteAsync("pyr", "import asyncio\nawait asyncio.sleep(0.01)\nasync def h(): return 7\nawait h()");
        Assert.Equal("7", r.MainText);
        Assert.Equal("'Agg'", (await a.ExecuteAsync("pyr", "import os\nos.environ.get('MPLBACKEND')")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Open_figures_become_png_results_and_are_closed()
    {
        await using var a = await AgentUnderTest.StartAsync();
        // A stand-in for matplotlib.pyplot with the calls the kernel makes (the real one: the next test).
        var mods = Home + "/fakemods";
        await a.UploadAsync(mods + "/matplotlib/__init__.py", []);
        await a.UploadAsync(mods + "/matplotlib/pyplot.py", Encoding.UTF8.GetBytes("""

            _figs = {}
            class Figure:
                def __init__(self, num): self.num = num
                def savefig(self, buf, format=None, **kw): buf.write(b'\x89PNG-fig%d' % self.num)
                def __repr__(self): return '<Figure %d>' % self.num
            def figure(num=None):
                num = num or (max(_figs) + 1 if _figs else 1)
                return _figs.setdefault(num, Figure(num))
            def get_fignums(): return sorted(_figs)
            def close(which='all'): _figs.clear()

            """));
        await a.CreateContextAsync("pym", "python", new { env = new Dictionary<string, string> { ["PYTHONPATH"] = mods } });
        var r = await a.ExecuteAsync("pym", "import matplotlib.pyplot as plt\nplt.figure(); plt.figure()\n1");
        var figures = r.Results.Where(x => !x.Bool("is_main_result")).ToList();
        Assert.Equal(2, figures.Count);
        Assert.Equal("\u0089PNG-fig1", Latin1(figures[0].Str("png")));
        Assert.Equal("1", r.MainText);
        Assert.Equal("[]", (await a.ExecuteAsync("pym", "plt.get_fignums()")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Real_matplotlib_figures_become_png_results_with_the_agg_backend()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("mpl", "python");
        var r = await a.ExecuteAsync("mpl", "import matplotlib.pyplot", timeoutSeconds: 120);
        Assert.True(r.Exceptions.Count == 0, $"matplotlib cannot be imported (scripts/test.sh installs python3-matplotlib): {r}");
        r = await a.ExecuteAsync("mpl", "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\n"
            + "fig2 = plt.figure()\nNone", timeoutSeconds: 120);
        var figures = r.Results.Where(x => !x.Bool("is_main_result")).ToList();
        Assert.Equal(2, figures.Count);
        Assert.StartsWith("\u0089PNG\r\n\u001a\n", Latin1(figures[0].Str("png")));
        Assert.True(r.Main is null && r.Exceptions.Count == 0, r.ToString());
        Assert.Equal("[]", (await a.ExecuteAsync("mpl", "plt.get_fignums()")).MainText);
        Assert.Equal("'agg'", (await a.ExecuteAsync("mpl", "import matplotlib\nmatplotlib.get_backend()")).MainText);
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task A_timeout_interrupts_then_kills_and_restarts_and_a_dead_interpreter_is_restarted()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("pyt", "python");
        await a.ExecuteAsync("pyt", "state = 42");
        var watch = Stopwatch.StartNew();
        var r = await a.ExecuteAsync("pyt", "import time\nprint('before', flush=True)\ntime.sleep(30)", new { timeout_ms = 300 });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{watch.Elapsed}");
        Assert.True(r.TimedOut);
        Assert.False(r.ContextRestarted);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(new[] { "TimeoutError" }, r.ExceptionNames);
        Assert.Equal("before\n", r.Stdout);
        Assert.Equal("42", (await a.ExecuteAsync("pyt", "state")).MainText);       // state survives a timeout
        // An execution that ignores SIGINT is killed 2 s later and the context restarts.
        watch.Restart();
        r = await a.ExecuteAsync("pyt", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(30)", new { timeout_ms = 200 });
        Assert.InRange(watch.Elapsed.TotalSeconds, 2, 4);
        Assert.True(r.TimedOut);
        Assert.True(r.ContextRestarted);
        Assert.Equal(new[] { "TimeoutError" }, r.ExceptionNames);
        // A finally: block that ignores the interrupt and hangs: killed 2 s later, one TimeoutError.
        r = await a.ExecuteAsync("pyt", "import time\ntry:\n    time.sleep(30)\nfinally:\n    import signal\n"
            + "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    time.sleep(30)", new { timeout_ms = 200 });
        Assert.Equal(new[] { "TimeoutError" }, r.ExceptionNames);
        Assert.True(r.ContextRestarted);
        Assert.Equal("False", (await a.ExecuteAsync("pyt", "'state' in globals()")).MainText);       // a fresh interpreter
        // Death by a signal (as the OOM killer would).
        r = await a.ExecuteAsync("pyt", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)");
        Assert.True(r.ContextRestarted);
        Assert.Equal("InterpreterDied", r.ExceptionNames[0]);
        Assert.Contains("SIGKILL", r.Exceptions[0].Str("value"));
        Assert.Equal("2", (await a.ExecuteAsync("pyt", "1+1")).MainText);
        r = await a.ExecuteAsync("pyt", "import os\nos._exit(5)");
        Assert.Equal((5, true), (r.ExitCode, r.ContextRestarted));
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Output_beyond_the_cap_is_dropped_across_both_streams()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("pyo", "python");
        var r = await a.ExecuteAsync("pyo", "import sys\nsys.stdout.write('x' * 100_000_000)\nprint('tail')\n'end'", timeoutSeconds: 60);
        Assert.True(r.Truncated);
        Assert.Equal(1 << 20, r.Stdout.Length);
        Assert.Equal("'end'", r.MainText);          // the result is still reported
        r = await a.ExecuteAsync("pyo", "import os\nfor i in range(5): os.write(1, b'y' * 1000); os.write(2, b'z' * 1000)", new { max_output_bytes = 2500 });
        Assert.Equal(2500, r.Stdout.Length + r.Stderr.Length);
        Assert.True(r.Truncated);
        r = await a.ExecuteAsync("pyo", "print('ok')");
        Assert.Equal(("ok\n", false), (r.Stdout, r.Truncated));       // the next execution is clean
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Cancel_interrupts_an_execution_and_another_execution_meanwhile_is_busy()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CreateContextAsync("pyc", "python");
        var id = a.Send("execute", new { context = "pyc", code = "import time\nprint('started', flush=True)\ntime.sleep(30)" });
        await a.WaitEventAsync(id, e => e.Str("type") == "stdout" && e.Str("data") == "started\n");
        await a.CallAsync("execute", new { context = "pyc", code = "1" }, expect: "busy");
        await a.CallAsync("cancel", new { target = id });
        var (events, final) = await a.WaitAsync(id, 5);
        Assert.Equal("done", final.Str("type"));
        Assert.Equal(new[] { "KeyboardInterrupt" }, events.Where(e => e.Str("type") == "exception").Select(e => e.Str("name")));
        Assert.False(final.Bool("context_restarted"));
        await a.CallAsync("cancel", new { target = id });        // already ended: nothing to do, no error
        Assert.Equal("2", (await a.ExecuteAsync("pyc", "2")).MainText);
        await a.ShutdownAsync();
    }

    /// <summary>Base64 decoded, as one char per byte.</summary>
    private static string Latin1(string? base64) => Encoding.Latin1.GetString(Convert.FromBase64String(base64!));
}
