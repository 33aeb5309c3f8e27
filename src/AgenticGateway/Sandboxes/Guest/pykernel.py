"""Python context of the sandbox agent: one persistent namespace, code in, results out.

Control lines (JSON) arrive on the file descriptor in AGW_CONTROL_FD; results, exceptions and "done" go as JSON lines
to AGW_RESULT_FD. stdout and stderr are the process's own (the agent reads them), so output of child processes is
captured too. See docs/sandbox-agent-protocol.md.
"""
import ast, base64, json, linecache, os, signal, sys, traceback

_res = os.fdopen(int(os.environ.pop("AGW_RESULT_FD")), "w", buffering=1)
_ctl = os.fdopen(int(os.environ.pop("AGW_CONTROL_FD")), "r")
_fd = os.open(os.devnull, os.O_RDONLY)
os.dup2(_fd, 0)  # user code reading stdin gets end-of-file, never the control channel
os.close(_fd)
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = ""
try:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("500")  # under memory pressure the interpreter goes before the agent
except OSError:
    pass

_G = {"__name__": "__main__", "__builtins__": __builtins__}
_REPRS = (("_repr_html_", "html"), ("_repr_markdown_", "markdown"), ("_repr_svg_", "svg"), ("_repr_png_", "png"),
          ("_repr_jpeg_", "jpeg"), ("_repr_json_", "json"), ("_repr_latex_", "latex"))
_cells = 0


def _send(obj):
    _res.write(json.dumps(obj) + "\n")


def _formats(value):
    out = {"text": repr(value)}
    for attr, key in _REPRS:
        method = getattr(type(value), attr, None)
        if method is None:
            continue
        try:
            r = method(value)
        except Exception:
            continue
        if isinstance(r, tuple):
            r = r[0]
        if r is None:
            continue
        if isinstance(r, bytes):
            r = base64.b64encode(r).decode()
        out[key] = r
    return out


def _figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    import io
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png")
        _send({"type": "result", "is_main_result": False, "png": base64.b64encode(buf.getvalue()).decode(), "text": "<Figure>"})
    plt.close("all")


def _exception(e):
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # hide the kernel's own frames
    lines = traceback.format_exception(type(e), e, tb)
    _send({"type": "exception", "name": type(e).__name__, "value": str(e), "traceback": "".join(lines)})


def _run(msg):
    global _cells
    _cells += 1
    name = "<cell-%d>" % _cells
    code = msg.get("code", "")
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    saved = {}
    for k, v in (msg.get("env") or {}).items():
        saved[k] = os.environ.get(k)
        os.environ[k] = v
    ok = True
    try:
        if msg.get("cwd"):
            os.chdir(msg["cwd"])
        tree = ast.parse(code, name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), _G)
        if last is not None:
            value = eval(compile(last, name, "eval"), _G)
            if value is not None:
                _G["_"] = value
                _send(dict(type="result", is_main_result=True, **_formats(value)))
    except BaseException as e:  # KeyboardInterrupt (timeout) and SystemExit too: the context lives on
        ok = False
        _exception(e)
    finally:
        try:
            _figures()
        except Exception as e:
            _exception(e)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    _send({"type": "done", "ok": ok})


def _main():
    _send({"type": "ready", "pid": os.getpid()})
    while True:
        try:
            line = _ctl.readline()
            if not line:
                return
            _run(json.loads(line))
        except KeyboardInterrupt:
            continue  # an interrupt that arrived between executions
        except ValueError:
            continue


_main()
