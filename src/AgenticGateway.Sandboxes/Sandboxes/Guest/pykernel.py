"""Python interpreter loop of a code context, started by the agent (one process per context, its own process group).

fd 0: /dev/null. fd 1, 2: pipes the agent reads (so subprocesses' output is captured too). fd 3: results to the agent,
JSON lines. fd 4: executions from the agent, JSON lines {"seq", "code", "env"?, "cwd"?}.

To the agent: {"type": "ready", "pid"} once, then per execution any number of {"type": "result", "seq", ...} and
{"type": "exception", "seq", "name", "value", "traceback"}, and one {"type": "done", "seq", "exit_code"}, written after
stdout and stderr are flushed. SIGINT (the agent's timeout or cancel) raises KeyboardInterrupt in the user's code and is
ignored between executions.
"""

import os
import sys


def _main():
    # Only what every execution needs is imported at start, and the C parts rather than their Python wrappers: each
    # module imported here is paid by every sandbox's cold start (ast.py alone was a fifth of the interpreter's start).
    # base64, io, traceback and asyncio are imported when a result, figure or exception first needs them.
    import _ast
    import builtins
    import json
    import linecache
    import signal
    import types

    RES_FD, CTL_FD = 3, 4
    kernel_file = os.path.abspath(__file__)
    os.set_inheritable(RES_FD, False)
    os.set_inheritable(CTL_FD, False)
    cwd = os.environ.pop("AGW_CWD", "")
    if cwd:
        os.chdir(cwd)
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("500")          # under memory pressure the interpreter goes before the agent
    except OSError:
        pass
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.argv = [""]
    if sys.path and sys.path[0] == os.path.dirname(kernel_file):
        sys.path[0] = ""            # like the interactive interpreter: the cwd, not the kernel's directory
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8", errors="backslashreplace", line_buffering=True)
        except Exception:
            pass

    # The user's globals live in a fresh __main__ module (pickle and friends look classes up there).
    kernel_module = sys.modules["__main__"]
    main_module = types.ModuleType("__main__")
    main_module.__builtins__ = builtins
    sys.modules["__main__"] = main_module
    ns = main_module.__dict__

    def write(obj):
        data = (json.dumps(obj) + "\n").encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(RES_FD, view):]

    def user_tb(tb):
        """The traceback from the first frame of the user's code on (the kernel's own frames hidden)."""
        t = tb
        while t is not None and not t.tb_frame.f_code.co_filename.startswith("<cell-"):
            t = t.tb_next
        if t is not None:
            return t
        while tb is not None and tb.tb_frame.f_code.co_filename == kernel_file:
            tb = tb.tb_next
        return tb

    def report_exception(seq, e):
        try:
            value = str(e)
        except BaseException:
            value = "<unprintable %s>" % type(e).__name__
        try:
            import traceback
            tb = "".join(traceback.format_exception(type(e), e, user_tb(e.__traceback__)))
        except BaseException:
            tb = ""
        write({"type": "exception", "seq": seq, "name": type(e).__name__, "value": value, "traceback": tb})

    rich = (("html", "_repr_html_"), ("markdown", "_repr_markdown_"), ("svg", "_repr_svg_"), ("png", "_repr_png_"),
            ("jpeg", "_repr_jpeg_"), ("json", "_repr_json_"), ("latex", "_repr_latex_"))
    mime = {"text/plain": "text", "text/html": "html", "text/markdown": "markdown", "image/svg+xml": "svg",
            "image/png": "png", "image/jpeg": "jpeg", "application/json": "json", "text/latex": "latex"}

    def rich_value(key, v):
        if isinstance(v, tuple) and len(v) == 2:
            v = v[0]                # (data, metadata)
        if v is None:
            return None
        if key in ("png", "jpeg"):
            if isinstance(v, (bytes, bytearray)):
                import base64
                return base64.b64encode(v).decode("ascii")
            return v if isinstance(v, str) else None
        if key == "json":
            json.dumps(v)           # must be JSON
            return v
        return v if isinstance(v, str) else str(v)

    def method(value, name):
        if isinstance(value, type):
            return None             # a class's _repr_*_ are unbound functions
        try:
            f = getattr(value, name, None)
        except Exception:           # a __getattr__ that raises something else
            return None
        return f if callable(f) else None

    def display(seq, value):
        msg = {"type": "result", "seq": seq, "is_main_result": True}
        try:
            msg["text"] = repr(value)
        except Exception as e:
            msg["text"] = "<repr failed: %s: %s>" % (type(e).__name__, e)
        bundle = method(value, "_repr_mimebundle_")
        if bundle is not None:
            try:
                b = bundle()
                if isinstance(b, tuple):
                    b = b[0]
                for m, v in (b or {}).items():
                    key = mime.get(m)
                    if key and key != "text":
                        v = rich_value(key, v)
                        if v is not None:
                            msg[key] = v
            except Exception:
                pass
        for key, attr in rich:
            if key in msg:
                continue
            f = method(value, attr)
            if f is not None:
                try:
                    v = rich_value(key, f())
                    if v is not None:
                        msg[key] = v
                except Exception:
                    pass
        write(msg)

    def show_figures(seq):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        try:
            nums = plt.get_fignums()
        except Exception:
            return
        import base64
        import io
        for num in nums:
            try:
                fig = plt.figure(num)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", bbox_inches="tight")
                write({"type": "result", "seq": seq, "is_main_result": False, "text": repr(fig),
                       "png": base64.b64encode(buf.getvalue()).decode("ascii")})
            except Exception as e:
                print("could not render figure %s: %s: %s" % (num, type(e).__name__, e), file=sys.stderr)
        try:
            plt.close("all")
        except Exception:
            pass

    loop_holder = []

    def run_code(code):
        if code.co_flags & 0x80:    # CO_COROUTINE: top-level await
            if not loop_holder:
                import asyncio
                loop_holder.append(asyncio.new_event_loop())
                asyncio.set_event_loop(loop_holder[0])
            return loop_holder[0].run_until_complete(eval(code, ns))
        return eval(code, ns)

    def run_cell(seq, n, source):
        fname = "<cell-%d>" % n
        linecache.cache[fname] = (len(source), None, source.splitlines(True), fname)
        tree = compile(source, fname, "exec", _ast.PyCF_ONLY_AST)       # what ast.parse does
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
        flags = getattr(_ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
        body = compile(tree, fname, "exec", flags, dont_inherit=True)
        expr = compile(last, fname, "eval", flags, dont_inherit=True) if last is not None else None
        run_code(body)
        if expr is not None:
            value = run_code(expr)
            if value is not None:
                ns["_"] = value
                display(seq, value)

    def ignore_sigint(*_):
        pass

    user_sigint = signal.default_int_handler
    signal.signal(signal.SIGINT, ignore_sigint)
    ctl = os.fdopen(CTL_FD, "rb", buffering=1 << 16)
    write({"type": "ready", "pid": os.getpid()})
    del kernel_module
    n = 0
    while True:
        try:
            line = ctl.readline()
        except KeyboardInterrupt:
            continue
        if not line:
            os._exit(0)
        try:
            msg = json.loads(line)
            seq = msg["seq"]
        except Exception:
            continue
        n += 1
        env = msg.get("env") or {}
        saved = {}
        exit_code = 0
        try:
            for k, v in env.items():
                saved[k] = os.environ.get(k)
                os.environ[k] = v
            signal.signal(signal.SIGINT, user_sigint)
            try:
                if msg.get("cwd"):
                    os.chdir(msg["cwd"])    # stays, as a cd would
                run_cell(seq, n, msg.get("code") or "")
            except BaseException as e:      # KeyboardInterrupt and SystemExit too: the context survives
                exit_code = 1
                report_exception(seq, e)
            show_figures(seq)
        except BaseException as e:          # interrupted while reporting
            exit_code = 1
            try:
                report_exception(seq, e)
            except BaseException:
                pass
        # From here on SIGINT must not interrupt: the done line has to be written.
        while True:
            try:
                h = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, ignore_sigint)
                if h is not ignore_sigint:
                    user_sigint = h
                break
            except BaseException:
                exit_code = 1
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:
                pass
        write({"type": "done", "seq": seq, "exit_code": exit_code})


if __name__ == "__main__":
    _main()
