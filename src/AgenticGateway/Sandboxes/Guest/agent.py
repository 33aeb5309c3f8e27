"""The sandbox agent: runs inside every sandbox as its unprivileged user and serves the gateway over JSON lines on
stdin (requests) and stdout (events). Standard library only. The protocol is in docs/sandbox-agent-protocol.md.
"""
import base64, codecs, errno, fcntl, json, os, pty, selectors, shutil, signal, socket, stat, struct, subprocess
import sys, termios, threading, time

VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
HOME = os.environ.get("AGW_HOME", "/home/user")
ROOTS = [os.path.realpath(r) for r in os.environ.get("AGW_FS_ROOTS", "/home/user:/tmp").split(":") if r]
MAX_READ = 4 << 20
DEFAULT_OUTPUT = 1 << 20
SIGNALS = {n: getattr(signal, n) for n in ("SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGSTOP", "SIGCONT")}

_out = sys.stdout.buffer
sys.stdout = sys.stderr  # stray prints must never corrupt the protocol stream
_out_lock = threading.Lock()
_running = {}            # request id -> cancel callable
_contexts = {}           # name -> Context
_processes = {}          # pid -> Proc
_uploads = {}            # token -> (temp path, fd, target, next offset)
_registry_lock = threading.Lock()


class OpError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def emit(obj):
    line = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
    with _out_lock:
        _out.write(line)
        _out.flush()


def done(rid, **fields):
    emit(dict(id=rid, type="done", **fields))


def signame(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return "SIG%d" % num


def child_env(extra):
    env = dict(os.environ)
    for k in ("AGW_FS_ROOTS", "AGW_HOME"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def set_nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def read_some(fd):
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError as e:
        if e.errno == errno.EIO:  # a pty whose other side has closed
            return b""
        raise


class Output:
    """Forwards one execution's or process's output as events, decoded as UTF-8, up to a byte cap."""

    def __init__(self, rid, cap, raw=False):
        self.rid, self.cap, self.raw, self.sent, self.truncated = rid, cap, raw, 0, False
        self.decoders = {}

    def feed(self, stream, data):
        room = self.cap - self.sent
        if room <= 0:
            self.truncated = True
            return
        if len(data) > room:
            data, self.truncated = data[:room], True
        self.sent += len(data)
        if self.raw:
            emit({"id": self.rid, "type": stream, "data_b64": base64.b64encode(data).decode()})
            return
        dec = self.decoders.setdefault(stream, codecs.getincrementaldecoder("utf-8")("replace"))
        text = dec.decode(data)
        if text:
            emit({"id": self.rid, "type": stream, "data": text})


# ---------------------------------------------------------------- contexts

KERNELS = {
    "python": lambda: ["/usr/bin/python3", "-u", os.path.join(HERE, "pykernel.py")],
    "node": lambda: ["/usr/bin/node", os.path.join(HERE, "nodekernel.js")],
    "bash": lambda: ["/bin/bash", "--noprofile", "--norc"],
}


class Context:
    def __init__(self, name, language, cwd, env):
        self.name, self.language, self.cwd, self.env = name, language, cwd or HOME, env or {}
        self.lock = threading.Lock()
        self.proc = None
        self.cell = 0

    def start(self):
        ctl_r, ctl_w = os.pipe()
        res_r, res_w = os.pipe()
        env = child_env(self.env)
        env["AGW_RESULT_FD"], env["AGW_CONTROL_FD"] = str(res_w), str(ctl_r)
        if self.language == "bash":
            stdin = ctl_r  # bash reads its commands from stdin; each cell is sourced with stdin from /dev/null
        else:
            stdin = subprocess.DEVNULL
        self.proc = subprocess.Popen(KERNELS[self.language](), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=(ctl_r, res_w), cwd=self.cwd, env=env, start_new_session=True)
        os.close(ctl_r)
        os.close(res_w)
        self.ctl = os.fdopen(ctl_w, "wb", buffering=0)
        self.res = res_r
        for fd in (self.res, self.proc.stdout.fileno(), self.proc.stderr.fileno()):
            set_nonblocking(fd)
        self.pending = b""
        if self.language == "bash":
            os.makedirs("/tmp/.agw", exist_ok=True)
            self.send(b"trap ':' INT; echo 500 > /proc/self/oom_score_adj 2>/dev/null; printf '{\"type\":\"ready\"}\\n' >&$AGW_RESULT_FD\n")
        deadline = time.monotonic() + 30
        while True:
            line = self.next_line(deadline)
            if line is None:
                self.kill()
                raise OpError("internal", "the %s interpreter did not start" % self.language)
            if line.get("type") == "ready":
                return

    def send(self, data):
        self.ctl.write(data)

    def next_line(self, deadline):
        """The next JSON line from the result channel, or None on death or deadline (used at start only)."""
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(self.res, selectors.EVENT_READ)
            ready = sel.select(left)
            sel.close()
            if not ready:
                continue
            data = read_some(self.res)
            if data == b"":
                return None
            self.pending += data or b""
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def kill(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.ctl, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        try:
            os.close(self.res)
        except OSError:
            pass

    def restart(self):
        self.kill()
        self.start()

    def describe(self):
        return {"context": self.name, "language": self.language, "cwd": self.cwd, "pid": self.proc.pid, "busy": self.lock.locked()}

    def execute(self, rid, req):
        if not self.lock.acquire(blocking=False):
            raise OpError("busy", "context %s is already executing; run one execution at a time per context" % self.name)
        try:
            result = self._execute(rid, req)
        finally:
            self.lock.release()
        # Answered only once the context is free again, so the caller's next execute is never refused as busy.
        done(rid, **result)

    def _execute(self, rid, req):
        started = time.monotonic()
        timeout = req.get("timeout_ms", 60000) / 1000.0
        out = Output(rid, int(req.get("max_output_bytes", DEFAULT_OUTPUT)))
        code = req.get("code", "")
        if not isinstance(code, str):
            raise OpError("invalid", "code must be a string")
        if self.language == "bash":
            self.cell += 1
            path = "/tmp/.agw/%s-%d.sh" % (self.name, self.cell)
            with open(path, "w") as f:
                f.write(code)
            exports = "".join("export %s=%s; " % (k, shquote(v)) for k, v in (req.get("env") or {}).items())
            cd = "cd %s && " % shquote(req["cwd"]) if req.get("cwd") else ""
            self.send(("%s%s. %s </dev/null; printf '{\"type\":\"done\",\"exit_code\":%%d}\\n' \"$?\" >&$AGW_RESULT_FD; rm -f %s\n"
                       % (exports, cd, shquote(path), shquote(path))).encode())
        else:
            self.send(json.dumps({"code": code, "env": req.get("env") or {}, "cwd": req.get("cwd")}).encode() + b"\n")

        cancelled = threading.Event()
        with _registry_lock:
            _running[rid] = cancelled.set
        sel = selectors.DefaultSelector()
        streams = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        for fd in streams:
            sel.register(fd, selectors.EVENT_READ)
        sel.register(self.res, selectors.EVENT_READ)
        deadline, interrupted_at = started + timeout, None
        timed_out = restarted = False
        exit_code, error = 0, None
        try:
            while True:
                now = time.monotonic()
                if cancelled.is_set() and interrupted_at is None:
                    deadline = now
                if interrupted_at is None and now >= deadline:
                    timed_out = not cancelled.is_set()
                    interrupted_at = now
                    try:
                        os.killpg(self.proc.pid, signal.SIGINT)
                    except OSError:
                        pass
                if interrupted_at is not None and now >= interrupted_at + 2:
                    error = ("TimeoutError" if timed_out else "Cancelled",
                             "execution exceeded %.3g s; the %s context was restarted" % (timeout, self.language) if timed_out
                             else "execution cancelled; the %s context was restarted" % self.language)
                    restarted = True
                    break
                limit = (interrupted_at + 2 if interrupted_at is not None else deadline) - now
                for key, _ in sel.select(max(0.0, min(limit, 0.5))):
                    fd = key.fd
                    data = read_some(fd)
                    if data is None:
                        continue
                    if fd == self.res:
                        if data == b"":
                            raise KernelDied()
                        self.pending += data
                        continue
                    if data == b"":
                        sel.unregister(fd)
                        continue
                    out.feed(streams[fd], data)
                finished = None
                while b"\n" in self.pending:
                    line, self.pending = self.pending.split(b"\n", 1)
                    msg = json.loads(line)
                    kind = msg.get("type")
                    if kind == "done":
                        finished = msg
                        break
                    if kind == "exception":
                        exit_code = 1
                    msg["id"] = rid
                    emit(msg)
                if finished is not None:
                    # Everything the interpreter wrote before it said done is in the pipes: forward it first.
                    for fd, name in streams.items():
                        while True:
                            try:
                                data = read_some(fd)
                            except OSError:
                                data = b""
                            if not data:
                                break
                            out.feed(name, data)
                    if self.language == "bash":
                        exit_code = int(finished.get("exit_code", 0))
                    elif not finished.get("ok", True):
                        exit_code = 1
                    if timed_out:
                        emit({"id": rid, "type": "exception", "name": "TimeoutError",
                              "value": "execution exceeded %.3g s and was interrupted" % timeout, "traceback": ""})
                        exit_code = exit_code or 1
                    break
        except KernelDied:
            self.proc.wait()
            sig = -self.proc.returncode if self.proc.returncode < 0 else None
            why = "killed by %s%s" % (signame(sig), " (out of memory?)" if sig == signal.SIGKILL else "") if sig else "exited with status %d" % self.proc.returncode
            error = ("ContextRestarted", "the %s interpreter %s; the context was restarted and its state is lost" % (self.language, why))
            restarted = True
        finally:
            sel.close()
            with _registry_lock:
                _running.pop(rid, None)
        if restarted:
            self.restart()
            emit({"id": rid, "type": "exception", "name": error[0], "value": error[1], "traceback": ""})
            exit_code = 1
        return dict(exit_code=exit_code, duration_ms=round((time.monotonic() - started) * 1000, 3), truncated=out.truncated,
                    timed_out=timed_out, context_restarted=restarted)


class KernelDied(Exception):
    pass


def shquote(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


def op_context_create(rid, req):
    name, language = req.get("context"), req.get("language", "python")
    if not isinstance(name, str) or not name or language not in KERNELS:
        raise OpError("invalid", "context (a name) and language (python, node, bash) are required")
    with _registry_lock:
        if name in _contexts:
            raise OpError("exists", "context %s exists" % name)
        ctx = Context(name, language, req.get("cwd"), req.get("env"))
        _contexts[name] = ctx
    try:
        ctx.start()
    except BaseException:
        with _registry_lock:
            _contexts.pop(name, None)
        raise
    done(rid, **ctx.describe())


def find(table, key, what):
    item = table.get(key)
    if item is None:
        raise OpError("not_found", "no %s %s" % (what, key))
    return item


def get_context(req):
    return find(_contexts, req.get("context"), "context named")


def op_context_list(rid, req):
    done(rid, contexts=[c.describe() for c in list(_contexts.values())])


def op_context_restart(rid, req):
    ctx = get_context(req)
    ctx.restart()
    done(rid, **ctx.describe())


def op_context_remove(rid, req):
    ctx = get_context(req)
    with _registry_lock:
        _contexts.pop(ctx.name, None)
    ctx.kill()
    done(rid)


def op_execute(rid, req):
    get_context(req).execute(rid, req)


# ---------------------------------------------------------------- processes

class Proc:
    def __init__(self, rid, req):
        self.rid, self.cmd, self.tag = rid, req.get("cmd"), req.get("tag")
        if not isinstance(self.cmd, str) or not self.cmd:
            raise OpError("invalid", "cmd (a shell command) is required")
        self.cwd = resolve_dir(req.get("cwd")) if req.get("cwd") else HOME
        self.pty = req.get("pty")
        self.started_at = time.time()
        env = child_env(req.get("env"))
        argv = ["/bin/bash", "-lc", self.cmd]
        if self.pty:
            self.master, slave = pty.openpty()
            set_winsize(self.master, self.pty.get("cols", 80), self.pty.get("rows", 24))
            env.setdefault("TERM", "xterm-256color")
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=self.cwd, env=env,
                                         start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            os.close(slave)
            self.streams = {self.master: "stdout"}
        else:
            self.master = None
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         cwd=self.cwd, env=env, start_new_session=True)
            self.streams = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        self.pid = self.proc.pid
        for fd in self.streams:
            set_nonblocking(fd)

    def run(self, req):
        started = time.monotonic()
        timeout = req.get("timeout_ms")
        deadline = started + timeout / 1000.0 if timeout else None
        out = Output(self.rid, int(req.get("max_output_bytes", DEFAULT_OUTPUT)), raw=bool(self.pty))
        emit({"id": self.rid, "type": "start", "pid": self.pid})
        # A waiter thread turns the process's exit into a readable pipe, so one select covers output and exit.
        exit_r, exit_w = os.pipe()
        threading.Thread(target=lambda: (self.proc.wait(), os.close(exit_w)), daemon=True).start()
        sel = selectors.DefaultSelector()
        for fd in self.streams:
            sel.register(fd, selectors.EVENT_READ)
        sel.register(exit_r, selectors.EVENT_READ)
        timed_out, exited_at = False, None
        try:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline and not timed_out:
                    timed_out = True
                    self.signal(signal.SIGKILL)
                if exited_at is not None and (not sel.get_map() or now >= exited_at + 0.05):
                    break  # exited; background children may hold the pipes open, so do not wait for their end
                wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))
                if exited_at is not None:
                    wait = max(0.0, exited_at + 0.05 - now)
                for key, _ in sel.select(wait):
                    if key.fd == exit_r:
                        sel.unregister(exit_r)
                        exited_at = time.monotonic()
                        continue
                    data = read_some(key.fd)
                    if data is None:
                        continue
                    if data == b"":
                        sel.unregister(key.fd)
                        continue
                    out.feed(self.streams[key.fd], data)
                if exited_at is not None and len(sel.get_map()) == 0:
                    break
        finally:
            sel.close()
            os.close(exit_r)
            with _registry_lock:
                _processes.pop(self.pid, None)
                _running.pop(self.rid, None)
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
            if self.master is not None:
                os.close(self.master)
        rc = self.proc.returncode
        fields = {"exit_code": rc if rc >= 0 else 128 - rc, "duration_ms": round((time.monotonic() - started) * 1000, 3),
                  "truncated": out.truncated, "timed_out": timed_out}
        if rc < 0:
            fields["signal"] = signame(-rc)
        done(self.rid, **fields)

    def signal(self, num):
        try:
            os.killpg(self.pid, num)
        except ProcessLookupError:
            pass

    def write(self, data, eof):
        if self.master is not None:
            if data:
                os.write(self.master, data)
            if eof:
                os.write(self.master, b"\x04")
            return
        if self.proc.stdin is None or self.proc.stdin.closed:
            raise OpError("invalid", "stdin of process %d is closed" % self.pid)
        try:
            if data:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            if eof:
                self.proc.stdin.close()
        except BrokenPipeError:
            raise OpError("invalid", "process %d no longer reads its stdin" % self.pid)

    def describe(self):
        return {"pid": self.pid, "cmd": self.cmd, "tag": self.tag, "cwd": self.cwd, "pty": bool(self.pty), "started_at": self.started_at}


def set_winsize(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", int(rows), int(cols), 0, 0))


def op_process_start(rid, req):
    p = Proc(rid, req)
    with _registry_lock:
        _processes[p.pid] = p
        _running[rid] = lambda: p.signal(signal.SIGKILL)
    p.run(req)


def get_process(req):
    return find(_processes, req.get("pid"), "running process with pid")


def op_process_input(rid, req):
    p = get_process(req)
    data = base64.b64decode(req["data_b64"]) if req.get("data_b64") else (req.get("data") or "").encode()
    p.write(data, bool(req.get("eof")))
    done(rid)


def op_process_signal(rid, req):
    p = get_process(req)
    num = SIGNALS.get(req.get("signal"))
    if num is None:
        raise OpError("invalid", "unknown signal %s" % req.get("signal"))
    p.signal(num)
    done(rid)


def op_process_resize(rid, req):
    p = get_process(req)
    if p.master is None:
        raise OpError("invalid", "process %d has no pty" % p.pid)
    set_winsize(p.master, req.get("cols", 80), req.get("rows", 24))
    done(rid)


def op_process_list(rid, req):
    done(rid, processes=[p.describe() for p in list(_processes.values())])


# ---------------------------------------------------------------- files

def full(path):
    if not isinstance(path, str) or not path or "\0" in path:
        raise OpError("invalid", "path is required")
    return path if path.startswith("/") else os.path.join(HOME, path)


def inside(real):
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in ROOTS)


def deny(path):
    return OpError("denied", "%s is outside the sandbox's writable roots (%s)" % (path, ", ".join(ROOTS)))


def resolve(path):
    """The path with every symlink followed; it must stay within the roots."""
    real = os.path.realpath(full(path))
    if not inside(real):
        raise deny(path)
    return real


def resolve_entry(path):
    """The path with its directory resolved but its last component kept (a symlink names itself)."""
    f = os.path.normpath(full(path))
    parent, name = os.path.split(f)
    real_parent = os.path.realpath(parent)
    real = os.path.join(real_parent, name) if name else real_parent
    if not inside(real) or not name:
        raise deny(path)
    return real


def resolve_dir(path):
    real = resolve(path)
    if not os.path.isdir(real):
        raise OpError("not_found", "no directory %s" % path)
    return real


def check_fd(fd, path):
    """Re-checks an opened file: a symlink swapped in after resolving must not lead out."""
    if not inside(os.readlink("/proc/self/fd/%d" % fd)):
        os.close(fd)
        raise deny(path)


def describe(path, st=None):
    st = st or os.lstat(path)
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "other"
    out = {"name": os.path.basename(path) or path, "path": path, "type": kind, "size": st.st_size,
           "mode": oct(stat.S_IMODE(st.st_mode)), "mtime": st.st_mtime}
    if kind == "symlink":
        out["symlink_target"] = os.readlink(path)
    return out


def op_fs_stat(rid, req):
    real = resolve_entry(req.get("path"))
    done(rid, **describe(real))


def op_fs_list(rid, req):
    root = resolve_dir(req.get("path") or HOME)
    depth = max(1, min(int(req.get("depth", 1)), 10))
    entries = []

    def walk(d, level):
        with os.scandir(d) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                entries.append(describe(e.path, st))
                if level < depth and stat.S_ISDIR(st.st_mode):
                    walk(e.path, level + 1)
                if len(entries) > 100000:
                    raise OpError("too_large", "more than 100000 entries; list a smaller directory or depth")
    walk(root, 1)
    entries.sort(key=lambda e: e["path"])
    done(rid, entries=entries)


def op_fs_read(rid, req):
    path = req.get("path")
    real = resolve(path)
    offset, length = int(req.get("offset", 0)), min(int(req.get("length", 1 << 20)), MAX_READ)
    if offset < 0 or length < 0:
        raise OpError("invalid", "offset and length must not be negative")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    check_fd(fd, path)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise OpError("invalid", "%s is a directory; list it instead" % path)
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    done(rid, data_b64=base64.b64encode(data).decode(), size=st.st_size, eof=offset + len(data) >= st.st_size or not data)


def op_fs_write(rid, req):
    path, token, offset = req.get("path"), req.get("upload") or "single", int(req.get("offset", 0))
    data = base64.b64decode(req.get("data_b64") or "")
    with _registry_lock:
        upload = _uploads.pop(token, None)
    if offset == 0:
        if upload is not None:
            os.close(upload[1])
            silent_unlink(upload[0])
        target = resolve(path)
        if os.path.isdir(target):
            raise OpError("invalid", "%s is a directory" % path)
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        temp = os.path.join(parent, ".%s.agw-upload-%s" % (os.path.basename(target)[:100], token[:32]))
        silent_unlink(temp)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        check_fd(fd, path)
        upload = (temp, fd, target, 0)
    elif upload is None or upload[3] != offset:
        raise OpError("invalid", "upload %s: expected the chunk at offset %s" % (token, upload[3] if upload else 0))
    temp, fd, target, _ = upload
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        os.close(fd)
        silent_unlink(temp)
        raise OpError("too_large" if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) else "internal", "writing %s: %s" % (path, e.strerror))
    size = offset + len(data)
    if req.get("final", True):
        os.close(fd)
        os.rename(temp, target)
    else:
        with _registry_lock:
            _uploads[token] = (temp, fd, target, size)
    done(rid, size=size)


def silent_unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def op_fs_mkdir(rid, req):
    real = resolve(req.get("path"))
    os.makedirs(real, exist_ok=True)
    done(rid)


def op_fs_move(rid, req):
    src, dst = resolve_entry(req.get("from")), resolve_entry(req.get("to"))
    if not os.path.lexists(src):
        raise OpError("not_found", "no such file %s" % req.get("from"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(src, dst)
    done(rid)


def op_fs_remove(rid, req):
    real = resolve_entry(req.get("path"))
    if real in ROOTS:
        raise OpError("denied", "a root directory cannot be removed")
    st = os.lstat(real)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(real)
    else:
        os.unlink(real)
    done(rid)


# ---------------------------------------------------------------- egress

def op_egress_start(rid, req):
    port, path = int(req.get("port", 3128)), req.get("socket")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)

    def relay(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve(client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            return
        t = threading.Thread(target=relay, args=(upstream, client), daemon=True)
        t.start()
        relay(client, upstream)
        t.join()
        client.close()
        upstream.close()

    def accept():
        while True:
            client, _ = server.accept()
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    done(rid)


# ---------------------------------------------------------------- dispatch

def op_ping(rid, req):
    done(rid)


def op_cancel(rid, req):
    cancel = _running.get(req.get("target"))
    if cancel is not None:
        cancel()
    done(rid)


OPS = {
    "ping": op_ping, "cancel": op_cancel,
    "context.create": op_context_create, "context.list": op_context_list, "context.restart": op_context_restart,
    "context.remove": op_context_remove, "execute": op_execute,
    "process.start": op_process_start, "process.input": op_process_input, "process.signal": op_process_signal,
    "process.resize": op_process_resize, "process.list": op_process_list,
    "fs.stat": op_fs_stat, "fs.list": op_fs_list, "fs.read": op_fs_read, "fs.write": op_fs_write,
    "fs.mkdir": op_fs_mkdir, "fs.move": op_fs_move, "fs.remove": op_fs_remove,
    "egress.start": op_egress_start,
}
INLINE = {"ping", "cancel", "process.input", "process.signal", "process.resize", "process.list", "context.list"}


def handle(rid, op, req):
    try:
        OPS[op](rid, req)
    except OpError as e:
        emit({"id": rid, "type": "error", "code": e.code, "message": str(e)})
    except FileNotFoundError as e:
        emit({"id": rid, "type": "error", "code": "not_found", "message": "no such file or directory: %s" % (e.filename or req.get("path"))})
    except FileExistsError as e:
        emit({"id": rid, "type": "error", "code": "exists", "message": "already exists: %s" % e.filename})
    except (PermissionError, IsADirectoryError, NotADirectoryError) as e:
        code = "denied" if isinstance(e, PermissionError) else "invalid"
        emit({"id": rid, "type": "error", "code": code, "message": "%s: %s" % (e.strerror, e.filename)})
    except OSError as e:
        if e.errno == errno.EAGAIN:
            emit({"id": rid, "type": "error", "code": "limit", "message": "the sandbox is at its process limit (max_processes); end some processes first"})
            return
        code = "too_large" if e.errno in (errno.ENOSPC, errno.EFBIG) else "denied" if e.errno == errno.ELOOP else "internal"
        emit({"id": rid, "type": "error", "code": code, "message": "%s: %s" % (e.strerror or e, e.filename or "")})
    except (ValueError, TypeError, KeyError) as e:
        emit({"id": rid, "type": "error", "code": "invalid", "message": "bad arguments: %s" % e})
    except Exception as e:  # never let one request take the agent down
        emit({"id": rid, "type": "error", "code": "internal", "message": "%s: %s" % (type(e).__name__, e)})


def shutdown():
    for group in list(_contexts.values()) + list(_processes.values()):
        try:
            os.killpg(group.proc.pid, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    os._exit(0)


def main():
    os.chdir(HOME if os.path.isdir(HOME) else "/")
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    emit({"id": 0, "type": "ready", "pid": os.getpid(), "version": VERSION})
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            shutdown()
        try:
            req = json.loads(line)
            rid, op = int(req["id"]), req["op"]
        except (ValueError, KeyError, TypeError):
            continue
        if op not in OPS:
            emit({"id": rid, "type": "error", "code": "invalid", "message": "unknown op %s" % op})
        elif op in INLINE:
            handle(rid, op, req)
        else:
            try:
                threading.Thread(target=handle, args=(rid, op, req), daemon=True).start()
            except RuntimeError:  # no thread to be had: the sandbox is at its process limit
                emit({"id": rid, "type": "error", "code": "limit", "message": "the sandbox is at its process limit (max_processes); end some processes first"})


if __name__ == "__main__":
    main()
