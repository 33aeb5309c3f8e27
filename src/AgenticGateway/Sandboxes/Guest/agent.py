"""Agentic Gateway guest agent: the one process the gateway talks to inside a sandbox.

Protocol: docs/sandbox-agent-protocol.md. Requests arrive as JSON lines on stdin, events leave as JSON lines on stdout.
Runs under the sandbox's own `/usr/bin/python3 -I`, standard library only.

Structure: one event loop thread (epoll) owns stdin, every code context (interpreter process: output pipes, result
channel, pidfd) and every started process, so an execution's hot path (request line -> control pipe -> result
channel -> done) involves no thread hand-off. File ops run on a small thread pool (uploads on one thread of their own,
so the chunks of an upload stay in order); the egress forwarder uses threads per connection. Events written by the
loop are batched and written once per loop iteration; other threads write theirs directly, under the same lock.

Configuration (environment): AGW_FS_ROOTS (colon-separated writable roots, default /home/user:/tmp), AGW_HOME (base of
relative paths and default cwd, default /home/user), AGW_PYTHON / AGW_NODE / AGW_BASH (interpreters, default
/usr/bin/python3, /usr/bin/node, /bin/bash).
"""

import base64
import codecs
import collections
import errno
import fcntl
import heapq
import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from queue import SimpleQueue

VERSION = 1
GUEST_DIR = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("AGW_PYTHON") or "/usr/bin/python3"
NODE = os.environ.get("AGW_NODE") or "/usr/bin/node"
BASH = os.environ.get("AGW_BASH") or "/bin/bash"
HOME = os.environ.get("AGW_HOME") or "/home/user"
ROOTS = []
for _r in (os.environ.get("AGW_FS_ROOTS") or "/home/user:/tmp").split(":"):
    if _r:
        _r = os.path.realpath(_r)
        if _r not in ROOTS:
            ROOTS.append(_r)
del _r

DEFAULT_MAX_OUTPUT = 1 << 20
READ_MAX = 4 << 20          # fs.read: bytes per call
WRITE_CHUNK_MAX = 8 << 20   # fs.write: decoded bytes per chunk
LIST_MAX = 100_000          # fs.list: entries per call
KILL_GRACE = 2.0            # seconds between the interrupt (SIGINT) and SIGKILL
START_TIMEOUT = 30.0        # seconds an interpreter gets to report ready
GROUP_GONE_WAIT = 1.0       # seconds a restart waits for the old interpreter's process group to be reaped
PTY_LINGER = 0.1            # seconds to collect a pty's last output after its process exited
READ_SIZE = 65536
LANGUAGES = ("python", "node", "bash")
SIGNALS = {name: getattr(signal, name) for name in (
    "SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGSTOP", "SIGCONT")}
# Signals a child must start with at their default action, whatever the agent inherited or set.
CHILD_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                         signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGCHLD)
EPOLL_IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
EPOLL_OUT = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR


class OpError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def format_exc():
    import traceback        # here: only failures need it, and every import costs the agent's start
    return traceback.format_exc()


class Pool:
    """A few worker threads, started on demand (concurrent.futures would cost ~5 ms of the agent's start)."""

    def __init__(self, max_workers, name):
        self.max_workers = max_workers
        self.name = name
        self.queue = SimpleQueue()
        self.workers = 0
        self.idle = 0
        self.lock = threading.Lock()

    def submit(self, fn, *args):
        """Raises RuntimeError when no thread can be started (the sandbox is at its process limit)."""
        with self.lock:
            if self.idle:
                self.idle -= 1      # a waiting worker takes it
            elif self.workers < self.max_workers:
                threading.Thread(target=self._work, daemon=True, name="%s-%d" % (self.name, self.workers)).start()
                self.workers += 1
        self.queue.put((fn, args))  # else it waits for a worker (one worker: in order)

    def _work(self):
        while True:
            fn, args = self.queue.get()
            try:
                fn(*args)
            except BaseException:
                log("pooled call failed:\n" + format_exc())
            with self.lock:
                self.idle += 1


def log(*args):
    try:
        print("agw-agent:", *args, file=sys.stderr, flush=True)
    except Exception:
        pass


def signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return "SIG%d" % num


LIMIT_MESSAGE = "the sandbox is at its process limit (max_processes); end some processes first"


def errno_code(e):
    n = e.errno
    if n == errno.EAGAIN:          # fork/clone/thread creation refused: the pids cgroup or RLIMIT_NPROC
        return "limit"
    if n == errno.ENOENT:
        return "not_found"
    if n in (errno.EEXIST, errno.ENOTEMPTY):
        return "exists"
    if n in (errno.EACCES, errno.EPERM, errno.ELOOP, errno.EROFS):
        return "denied"
    if n in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "too_large"
    if n in (errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ENAMETOOLONG, errno.EXDEV, errno.EBUSY):
        return "invalid"
    return "internal"


def high_fd(fd):
    """Moves fd to a number >= 10 (close-on-exec), so the dup2 file actions of a spawn cannot clobber it."""
    if fd >= 10:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def pipe_pair():
    r, w = os.pipe2(os.O_CLOEXEC)
    return high_fd(r), high_fd(w)


def close_fd(fd):
    if fd is not None and fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid):
    """Whether process group pgid has a process left (zombies included: their pids still count until reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def kill_group_except(pgid, keep):
    """SIGKILLs every live process of process group pgid but keep (the group's leader, a shell that must survive).
    Repeated until a pass finds none: what it forks while it is being killed (a fork bomb) is caught by the next."""
    for _ in range(200):
        found = False
        try:
            names = os.listdir("/proc")
        except OSError:
            return
        for name in names:
            if not name.isdigit() or int(name) == keep:
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    data = f.read()
                fields = data[data.rindex(b")") + 2:].split()
                if fields[0] == b"Z" or int(fields[2]) != pgid:
                    continue
                os.kill(int(name), signal.SIGKILL)
                found = True
            except (OSError, ValueError, IndexError):
                continue
        if not found:
            return


def new_decoder():
    return codecs.getincrementaldecoder("utf-8")("replace")


# ---------------------------------------------------------------------------------------------------------------------
# Argument helpers


def arg_str(req, key, required=True, default=None, empty=False):
    v = req.get(key)
    if v is None:
        if required:
            raise OpError("invalid", "%s is required" % key)
        return default
    if not isinstance(v, str) or (not v and not empty):
        raise OpError("invalid", "%s must be a non-empty string" % key)
    if "\0" in v:
        raise OpError("invalid", "%s contains a NUL character" % key)
    return v


def arg_int(req, key, default=None, lo=None, hi=None):
    v = req.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise OpError("invalid", "%s must be an integer" % key)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise OpError("invalid", "%s is out of range" % key)
    return v


def arg_bool(req, key, default=False):
    v = req.get(key)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise OpError("invalid", "%s must be a boolean" % key)
    return v


def arg_env(req, key="env"):
    v = req.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise OpError("invalid", "%s must be an object of strings" % key)
    for k, val in v.items():
        if not k or "=" in k or "\0" in k or not isinstance(val, str) or "\0" in val:
            raise OpError("invalid", "%s: bad variable %r" % (key, k))
    return v


def resolve_cwd(req):
    cwd = arg_str(req, "cwd", required=False)
    cwd = os.path.normpath(os.path.join(HOME, cwd)) if cwd else HOME
    if not os.path.isdir(cwd):
        raise OpError("not_found", "cwd %s is not a directory" % cwd)
    return cwd


# ---------------------------------------------------------------------------------------------------------------------
# Event output


class Out:
    """The event stream. The loop thread batches its events (written once per loop iteration); other threads write
    theirs at once. One lock keeps lines whole."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()
        self.batch = []
        self.loop_thread = None
        self.on_broken = None
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def send(self, obj):
        b64 = obj.get("data_b64")
        if b64 is not None and len(b64) > 4096:
            # fs.read's answer, pty output: the base64 needs no escaping, and the JSON encoder would scan every
            # character of it (~20 ms per MiB with ensure_ascii=False on Debian's Python 3.11).
            rest = dict(obj)
            del rest["data_b64"]
            line = self.dumps(rest)[:-1] + ',"data_b64":"' + b64 + '"}'
        else:
            line = self.dumps(obj)
        if threading.get_ident() == self.loop_thread:
            self.batch.append(line)
        else:
            self._write(line + "\n")

    def flush(self):
        if self.batch:
            data = "\n".join(self.batch) + "\n"
            self.batch.clear()
            self._write(data)

    def _write(self, text):
        # Lone surrogates (from a repr, a file name) would make the line invalid UTF-8: they become '?'.
        data = text.encode("utf-8", "replace")
        with self.lock:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
                return
            except OSError:
                pass
        if self.on_broken:      # the gateway is gone
            self.on_broken()


# ---------------------------------------------------------------------------------------------------------------------
# Event loop


class Timer:
    __slots__ = ("cancelled",)

    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Loop:
    def __init__(self, out):
        self.out = out
        self.ep = select.epoll()
        self.readers = {}
        self.writers = {}
        self.masks = {}
        self.timers = []
        self.tseq = 0
        self.calls = collections.deque()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.add_reader(self.wake_r, self._on_wake)

    def _update(self, fd):
        mask = (EPOLL_IN if fd in self.readers else 0) | (EPOLL_OUT if fd in self.writers else 0)
        old = self.masks.get(fd, 0)
        if mask == old:
            return
        if not mask:
            del self.masks[fd]
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass
        elif not old:
            self.masks[fd] = mask
            self.ep.register(fd, mask)
        else:
            self.masks[fd] = mask
            self.ep.modify(fd, mask)

    def add_reader(self, fd, cb):
        self.readers[fd] = cb
        self._update(fd)

    def remove_reader(self, fd):
        if self.readers.pop(fd, None) is not None:
            self._update(fd)

    def add_writer(self, fd, cb):
        self.writers[fd] = cb
        self._update(fd)

    def remove_writer(self, fd):
        if self.writers.pop(fd, None) is not None:
            self._update(fd)

    def forget(self, fd):
        self.readers.pop(fd, None)
        self.writers.pop(fd, None)
        self._update(fd)

    def call_later(self, delay, cb):
        t = Timer()
        self.tseq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.tseq, t, cb))
        return t

    def call_soon_threadsafe(self, cb):
        self.calls.append(cb)
        try:
            os.write(self.wake_w, b"x")
        except BlockingIOError:
            pass

    def _on_wake(self):
        try:
            os.read(self.wake_r, 4096)
        except BlockingIOError:
            pass

    @staticmethod
    def _call(cb):
        try:
            cb()
        except Exception:
            log("callback failed:\n" + format_exc())

    def run(self):
        self.out.loop_thread = threading.get_ident()
        poll = self.ep.poll
        readers, writers, timers, calls = self.readers, self.writers, self.timers, self.calls
        while True:
            timeout = -1
            while timers and timers[0][2].cancelled:
                heapq.heappop(timers)
            if timers:
                timeout = max(0.0, timers[0][0] - time.monotonic())
            for fd, ev in poll(timeout):
                if ev & EPOLL_IN:
                    cb = readers.get(fd)
                    if cb is not None:
                        self._call(cb)
                if ev & EPOLL_OUT:
                    cb = writers.get(fd)
                    if cb is not None:
                        self._call(cb)
            if timers:
                now = time.monotonic()
                while timers and timers[0][0] <= now:
                    _, _, t, cb = heapq.heappop(timers)
                    if not t.cancelled:
                        self._call(cb)
            while calls:
                self._call(calls.popleft())
            self.out.flush()


class FdWriter:
    """Non-blocking writes to a pipe or pty on the loop; what does not fit waits for EPOLLOUT."""

    def __init__(self, loop, fd, on_error=None):
        self.loop = loop
        self.fd = fd
        self.buf = bytearray()
        self.close_when_drained = False
        self.closed = False
        self.on_error = on_error

    def write(self, data):
        if self.closed or self.close_when_drained:
            raise OpError("invalid", "stdin is closed")
        if not data:
            return
        if not self.buf:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                n = 0
            except OSError:
                self._fail()
                return
            if n == len(data):
                return
            data = data[n:]
            self.loop.add_writer(self.fd, self._on_writable)
        self.buf += data

    def _on_writable(self):
        try:
            n = os.write(self.fd, self.buf)
        except BlockingIOError:
            return
        except OSError:
            self._fail()
            return
        del self.buf[:n]
        if not self.buf:
            self.loop.remove_writer(self.fd)
            if self.close_when_drained:
                self.close()

    def close_after_drain(self):
        if self.buf:
            self.close_when_drained = True
        else:
            self.close()

    def _fail(self):
        self.buf.clear()
        self.close()
        if self.on_error:
            self.on_error()

    def close(self):
        if not self.closed:
            self.closed = True
            self.loop.forget(self.fd)
            close_fd(self.fd)


# ---------------------------------------------------------------------------------------------------------------------
# Code contexts


class Execution:
    __slots__ = ("rid", "code", "env", "cwd", "timeout_ms", "max_out", "seq", "started", "used", "truncated",
                 "timed_out", "cancelled", "had_exception", "timer", "kill_timer", "decoders", "ctx")

    def __init__(self, ctx, rid, code, env, cwd, timeout_ms, max_out):
        self.ctx = ctx
        self.rid = rid
        self.code = code
        self.env = env
        self.cwd = cwd
        self.timeout_ms = timeout_ms
        self.max_out = max_out
        self.seq = 0
        self.started = 0.0
        self.used = 0
        self.truncated = False
        self.timed_out = False
        self.cancelled = False
        self.had_exception = False
        self.timer = None
        self.kill_timer = None
        self.decoders = None

    def cancel(self):
        self.ctx.interrupt(self, timeout=False)


class Kernel:
    """One interpreter process of a context (a restart makes a new one)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.pid = None
        self.pidfd = None
        self.ctl = None
        self.out_r = self.err_r = self.res_r = -1
        self.resbuf = bytearray()
        self.ready = False
        self.closed = False

    def start(self):
        ctx = self.ctx
        ctl_r, ctl_w = pipe_pair()
        out_r, out_w = pipe_pair()
        err_r, err_w = pipe_pair()
        res_r, res_w = pipe_pair()
        devnull = high_fd(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        if ctx.language == "python":
            argv = [PYTHON, os.path.join(GUEST_DIR, "pykernel.py")]
        elif ctx.language == "node":
            argv = [NODE, os.path.join(GUEST_DIR, "nodekernel.js")]
        else:
            argv = [BASH, "--noprofile", "--norc"]
        env = dict(os.environ)
        env.update(ctx.env)
        env["AGW_CWD"] = ctx.cwd
        dup = os.POSIX_SPAWN_DUP2
        actions = [(dup, ctl_r if ctx.language == "bash" else devnull, 0), (dup, out_w, 1), (dup, err_w, 2),
                   (dup, res_w, 3)]
        if ctx.language != "bash":
            actions.append((dup, ctl_r, 4))
        try:
            self.pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True,
                                      setsigdef=CHILD_DEFAULT_SIGNALS)
        except OSError as e:
            for fd in (ctl_r, ctl_w, out_r, out_w, err_r, err_w, res_r, res_w):
                close_fd(fd)
            if e.errno == errno.EAGAIN:
                raise OpError("limit", LIMIT_MESSAGE)
            raise OpError("invalid" if e.errno == errno.ENOENT else "internal",
                          "cannot start %s: %s" % (argv[0], e.strerror))
        finally:
            close_fd(devnull)
        for fd in (ctl_r, out_w, err_w, res_w):
            close_fd(fd)
        for fd in (ctl_w, out_r, err_r, res_r):
            os.set_blocking(fd, False)
        self.out_r, self.err_r, self.res_r = out_r, err_r, res_r
        loop = ctx.agent.loop
        self.ctl = FdWriter(loop, ctl_w)
        loop.add_reader(out_r, lambda: ctx.on_output(self, out_r, 1))
        loop.add_reader(err_r, lambda: ctx.on_output(self, err_r, 2))
        loop.add_reader(res_r, self._on_result_channel)
        pid = self.pid
        self.pidfd = ctx.agent.watch_exit(pid, self._on_exit, before_reap=lambda: kill_group(pid))
        if ctx.language == "bash":
            # __agw_d reports the status of the command before it ($? at function entry). SIGINT returns from the
            # sourced cell. bash reads a pipe one byte per read(), so the per-execution line is kept short. Under
            # memory pressure the shell goes before the agent (oom_score_adj, as in the other interpreters).
            self.ctl.write(b'cd -- "$AGW_CWD"; unset AGW_CWD; echo 500 2>/dev/null >/proc/self/oom_score_adj; '
                           b'trap \'return 130 2>/dev/null\' INT; __agw_d() { '
                           b'builtin printf \'{"type":"done","seq":%d,"exit_code":%d}\\n\' "$1" "$?" >&3; }; '
                           b'builtin printf \'{"type":"ready","pid":%d}\\n\' "$$" >&3\n')

    def _on_result_channel(self):
        """Reads the result channel once; returns the number of bytes read."""
        rbuf = self.ctx.agent.rbuf
        try:
            n = os.readv(self.res_r, [rbuf])
        except BlockingIOError:
            return 0
        except OSError:
            n = 0
        if not n:
            self.ctx.agent.loop.remove_reader(self.res_r)
            return 0
        buf = self.resbuf
        buf += memoryview(rbuf)[:n]
        if buf.find(b"\n") < 0:
            return n
        # Output written before a result/done is already in the pipes: take it first, so the order holds.
        self.drain()
        while not self.closed:
            i = buf.find(b"\n")
            if i < 0:
                break
            line = bytes(buf[:i])
            del buf[:i + 1]
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                self.ctx.on_message(self, msg)
        return n

    def drain(self):
        ctx = self.ctx
        for fd, stream in ((self.out_r, 1), (self.err_r, 2)):
            if fd < 0:
                continue
            for _ in range(64):
                try:
                    data = os.read(fd, READ_SIZE)
                except OSError:
                    break
                if not data:
                    break
                ctx.deliver(stream, data)
                if len(data) < READ_SIZE:
                    break

    def _on_exit(self, status):
        if self.closed:
            return
        # What it reported before it died (a done may still be unread in the same poll round), then its output.
        for _ in range(64):
            if self.closed or self.res_r < 0 or not self._on_result_channel():
                break
        if self.closed:
            return
        self.drain()
        self.close(kill=False)
        self.ctx.on_kernel_exit(self, status)

    def signal(self, sig, group=False):
        if self.closed or self.pid is None:
            return
        try:
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self, kill=True):
        """Kills the process group and releases the pipes. The pid is reaped by the exit watcher."""
        if self.closed:
            return
        self.closed = True
        if kill and self.pid is not None:
            kill_group(self.pid)
        loop = self.ctx.agent.loop
        if self.ctl:
            self.ctl.close()
        for fd in (self.out_r, self.err_r, self.res_r):
            if fd >= 0:
                loop.forget(fd)
                close_fd(fd)
        self.out_r = self.err_r = self.res_r = -1


class Context:
    def __init__(self, agent, name, language, cwd, env):
        self.agent = agent
        self.name = name
        self.language = language
        self.cwd = cwd
        self.env = env
        self.kernel = None
        self.state = "dead"         # dead | starting | idle | busy
        self.execution = None       # the running Execution
        self.queued = None          # an Execution waiting for the interpreter to start
        self.waiters = []           # request ids of context.create / context.restart waiting for ready
        self.start_timer = None
        self.start_output = bytearray()
        self.seq = 0
        self.removed = False
        self.created = False        # reported ready once: a failing create leaves nothing behind
        self.cell_path = None

    def info(self):
        return {"context": self.name, "language": self.language, "cwd": self.cwd,
                "pid": self.kernel.pid if self.kernel else None}

    # -- lifecycle

    def start(self):
        self.kernel = Kernel(self)
        self.state = "starting"
        self.start_output.clear()
        try:
            self.kernel.start()
        except OpError:
            self.kernel = None
            self.state = "dead"
            raise
        self.start_timer = self.agent.loop.call_later(START_TIMEOUT, self._start_timed_out)

    def _start_timed_out(self):
        if self.state != "starting":
            return
        k = self.kernel
        self.kernel = None
        if k:
            k.close()
        self._start_failed("the %s interpreter did not start within %d s" % (self.language, START_TIMEOUT))

    def _start_when_gone(self, pgid):
        """Starts a fresh interpreter once the old one's process group (pgid) is gone. Killed processes hold their pids,
        which count against the sandbox's process limit, until they are reaped: started at once, the new interpreter
        (or the caller's next command) could be refused. Waits at most GROUP_GONE_WAIT seconds."""
        self.state = "starting"
        deadline = time.monotonic() + GROUP_GONE_WAIT

        def attempt():
            self.start_timer = None
            if self.state != "starting" or self.kernel is not None or self.removed:
                return
            if group_alive(pgid) and time.monotonic() < deadline:
                self.start_timer = self.agent.loop.call_later(0.002, attempt)
                return
            try:
                self.start()
            except OpError as e:
                self._start_failed(e.message, e.code)
        attempt()

    def _start_failed(self, message, code="internal"):
        self.state = "dead"
        if not self.created and self.agent.contexts.get(self.name) is self:
            del self.agent.contexts[self.name]
        detail = self.start_output.decode("utf-8", "replace").strip()
        if detail:
            message += ": " + detail[-2000:]
        for rid in self.waiters:
            self.agent.error(rid, code, message)
        self.waiters.clear()
        if self.queued:
            ex, self.queued = self.queued, None
            self.agent.cancellable.pop(ex.rid, None)
            self.agent.error(ex.rid, code, message)

    def stop(self, reason, restarting):
        """Kills the interpreter; a running execution ends with an exception."""
        if self.start_timer:
            self.start_timer.cancel()
            self.start_timer = None
        if self.execution:
            self.finish_exception("InterpreterDied", reason, restarted=restarting)
        if self.kernel:
            self.kernel.close()
            self.kernel = None
        self.state = "dead"

    def restart(self, rid):
        old = self.kernel.pid if self.kernel else None
        self.stop("the context was restarted", restarting=True)
        if rid is not None:
            self.waiters.append(rid)
        if old is not None:
            self._start_when_gone(old)
            return
        try:
            self.start()
        except OpError as e:
            self._start_failed(e.message, e.code)

    def remove(self):
        self.removed = True
        self.stop("the context was removed", restarting=False)
        for rid in self.waiters:
            self.agent.error(rid, "not_found", "context %s was removed" % self.name)
        self.waiters.clear()
        if self.queued:
            ex, self.queued = self.queued, None
            self.agent.cancellable.pop(ex.rid, None)
            self.agent.error(ex.rid, "not_found", "context %s was removed" % self.name)
        if self.cell_path:
            try:
                os.unlink(self.cell_path)
            except OSError:
                pass

    def on_kernel_exit(self, kernel, status):
        if kernel is not self.kernel:
            return
        self.kernel = None
        code = os.waitstatus_to_exitcode(status)
        if self.state == "starting":
            if self.start_timer:
                self.start_timer.cancel()
                self.start_timer = None
            how = ("was killed by %s" % signal_name(-code)) if code < 0 else ("exited with status %d" % code)
            self._start_failed("the %s interpreter %s while starting" % (self.language, how))
            return
        ex = self.execution
        if ex is not None:
            if code >= 0 and not ex.timed_out and not ex.cancelled:
                # An `exit` (bash) or process.exit()/os._exit(): an ending, not an error.
                self.finish(code, restarted=True)
            elif ex.timed_out:
                if ex.had_exception:        # its TimeoutError is out already; it then hung (a finally: block?)
                    self.finish(1, restarted=True)
                else:
                    self.finish_exception("TimeoutError", self._timeout_message(ex, killed=True), restarted=True)
            else:
                what = ("was killed by %s" % signal_name(-code)) if code < 0 else ("exited with status %d" % code)
                if ex.cancelled:
                    what += " (cancelled)"
                elif code == -signal.SIGKILL:
                    what += " (out of memory?)"
                self.finish_exception("InterpreterDied", "the %s interpreter %s" % (self.language, what),
                                      restarted=True, exit_code=(128 - code) if code < 0 and self.language == "bash"
                                      else 1)
        self.state = "dead"
        if self.removed:
            return
        self._start_when_gone(kernel.pid)

    # -- executions

    def submit(self, ex):
        if self.state == "idle":
            self._send(ex)
        else:
            self.queued = ex
            if self.state == "dead":
                try:
                    self.start()
                except OpError:
                    self.queued = None
                    raise

    def _send(self, ex):
        """Hands ex to the interpreter. Raises OpError (nothing changed) when it cannot."""
        self.seq += 1
        ex.seq = self.seq
        if self.language == "bash":
            try:
                data = self._bash_command(ex)
            except OSError as e:
                raise OpError("internal", "cannot write the cell file: %s" % (e.strerror or e))
        else:
            msg = {"seq": ex.seq, "code": ex.code}
            if ex.env:
                msg["env"] = ex.env
            if ex.cwd:
                msg["cwd"] = ex.cwd
            data = (json.dumps(msg) + "\n").encode("utf-8", "surrogatepass")
        self.execution = ex
        self.state = "busy"
        ex.started = time.monotonic()
        self.kernel.ctl.write(data)
        if ex.timeout_ms:
            ex.timer = self.agent.loop.call_later(ex.timeout_ms / 1000.0, lambda: self.interrupt(ex, timeout=True))

    def _bash_command(self, ex):
        if self.cell_path is None:
            self.cell_path = os.path.join(self.agent.cell_dir(), "c%d" % self.agent.next_cell_id())
        # Overwritten in place and shrunk only when it was longer: O_TRUNC frees and reallocates the file's blocks,
        # which costs ~150 us on a journaling file system.
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.cell_path, flags, 0o600)
        except FileNotFoundError:       # someone removed the directory
            os.makedirs(os.path.dirname(self.cell_path), mode=0o700, exist_ok=True)
            fd = os.open(self.cell_path, flags, 0o600)
        try:
            data = ex.code.encode("utf-8", "surrogateescape")
            view, pos = memoryview(data), 0
            while pos < len(data):
                pos += os.pwrite(fd, view[pos:], pos)
            if os.fstat(fd).st_size > len(data):
                os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        # Top-level `.` (not inside a function), so `declare` and `local` in the cell behave as at top level.
        prefix = "".join("%s=%s " % (k, shell_quote(v)) for k, v in ex.env.items())
        if ex.cwd:
            prefix = "cd -- %s && %s" % (shell_quote(ex.cwd), prefix)
        return ("%s. %s 3>&- </dev/null;__agw_d %d\n" % (prefix, self.cell_path, ex.seq)).encode("utf-8",
                                                                                                 "surrogateescape")

    def interrupt(self, ex, timeout):
        """Timeout or cancel: SIGINT now, SIGKILL (and a restart) if still running KILL_GRACE seconds later."""
        if self.execution is not ex:
            if self.queued is ex:       # not started yet: just drop it
                self.queued = None
                ex.cancelled = True
                self.agent.cancellable.pop(ex.rid, None)
                self.agent.send({"id": ex.rid, "type": "exception", "name": "Cancelled",
                                 "value": "cancelled before it started", "traceback": ""})
                self.agent.send({"id": ex.rid, "type": "done", "exit_code": 1, "duration_ms": 0,
                                 "truncated": False, "timed_out": False, "context_restarted": False})
            return
        if ex.kill_timer:               # already interrupted
            return
        if timeout:
            ex.timed_out = True
        else:
            ex.cancelled = True
        self.kernel.signal(signal.SIGINT, group=self.language == "bash")
        ex.kill_timer = self.agent.loop.call_later(KILL_GRACE, lambda: self._kill_for(ex))

    def _kill_for(self, ex):
        if self.execution is ex and self.kernel:
            self.kernel.signal(signal.SIGKILL, group=True)

    def _timeout_message(self, ex, killed=False):
        msg = "execution exceeded its timeout of %d ms" % ex.timeout_ms
        if killed:
            msg += "; the interpreter did not stop within %g s and was restarted" % KILL_GRACE
        return msg

    def on_output(self, kernel, fd, stream):
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.agent.loop.remove_reader(fd)
            return
        if kernel is self.kernel:
            self.deliver(stream, data)

    def deliver(self, stream, data):
        ex = self.execution
        if ex is None:
            if self.state == "starting" and len(self.start_output) < 8192:
                self.start_output += data[:8192]
            return                      # output while idle (a background job) has no request to go to
        room = ex.max_out - ex.used
        if room <= 0:
            ex.truncated = True
            return
        if len(data) > room:
            data = data[:room]
            ex.truncated = True
        ex.used += len(data)
        if ex.decoders is None:
            ex.decoders = [None, new_decoder(), new_decoder()]
        text = ex.decoders[stream].decode(data)
        if text:
            self.agent.send({"id": ex.rid, "type": "stdout" if stream == 1 else "stderr", "data": text})

    def on_message(self, kernel, msg):
        if kernel is not self.kernel:
            return
        kind = msg.get("type")
        if kind == "ready":
            if self.state != "starting":
                return
            kernel.ready = True
            self.created = True
            if self.start_timer:
                self.start_timer.cancel()
                self.start_timer = None
            self.state = "idle"
            info = self.info()
            for rid in self.waiters:
                self.agent.done(rid, info)
            self.waiters.clear()
            if self.queued:
                ex, self.queued = self.queued, None
                try:
                    self._send(ex)
                except OpError as e:
                    self.agent.cancellable.pop(ex.rid, None)
                    self.agent.error(ex.rid, e.code, e.message)
            return
        ex = self.execution
        if ex is None or msg.get("seq") != ex.seq:
            return
        if kind == "done":
            code = msg.get("exit_code")
            if self.language == "bash" and (ex.timed_out or ex.cancelled):
                # The shell survived the interrupt, but what the cell started in the background ignores SIGINT (a
                # fork bomb, a server): everything else in the context's process group goes, before the answer.
                kill_group_except(kernel.pid, kernel.pid)
            self.finish(code if isinstance(code, int) else 1)
        elif kind == "result":
            ev = {"id": ex.rid, "type": "result", "is_main_result": bool(msg.get("is_main_result"))}
            for key in ("text", "html", "markdown", "svg", "png", "jpeg", "json", "latex"):
                if key in msg:
                    ev[key] = msg[key]
            self.agent.send(ev)
        elif kind == "exception":
            name, value = str(msg.get("name", "Error")), str(msg.get("value", ""))
            if ex.timed_out:
                name, value = "TimeoutError", self._timeout_message(ex)
            ex.had_exception = True
            self.agent.send({"id": ex.rid, "type": "exception", "name": name, "value": value,
                             "traceback": str(msg.get("traceback", ""))})

    def _flush_decoders(self, ex):
        """Sends what the UTF-8 decoders still hold (an incomplete sequence, as replacement characters)."""
        if ex.decoders is not None:
            for stream in (1, 2):
                tail = ex.decoders[stream].decode(b"", True)
                if tail:
                    self.agent.send({"id": ex.rid, "type": "stdout" if stream == 1 else "stderr", "data": tail})
            ex.decoders = None

    def finish_exception(self, name, value, restarted, exit_code=1):
        ex = self.execution
        if ex is None:
            return
        self._flush_decoders(ex)
        ex.had_exception = True
        self.agent.send({"id": ex.rid, "type": "exception", "name": name, "value": value, "traceback": ""})
        self.finish(exit_code, restarted=restarted)

    def finish(self, exit_code, restarted=False):
        ex = self.execution
        if ex is None:
            return
        self.execution = None
        if self.state == "busy":
            self.state = "idle"
        if ex.timer:
            ex.timer.cancel()
        if ex.kill_timer:
            ex.kill_timer.cancel()
        send = self.agent.send
        self._flush_decoders(ex)
        if ex.timed_out and not ex.had_exception:
            send({"id": ex.rid, "type": "exception", "name": "TimeoutError", "value": self._timeout_message(ex),
                  "traceback": ""})
            if not exit_code:
                exit_code = 1
        self.agent.cancellable.pop(ex.rid, None)
        send({"id": ex.rid, "type": "done", "exit_code": exit_code,
              "duration_ms": round((time.monotonic() - ex.started) * 1000, 3), "truncated": ex.truncated,
              "timed_out": ex.timed_out, "context_restarted": restarted})


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------------------------------------------------
# Processes


def _set_controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_winsize(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Proc:
    def __init__(self, agent, rid, cmd, cwd, env, pty_size, tag, timeout_ms, max_out):
        self.agent = agent
        self.rid = rid
        self.cmd = cmd
        self.cwd = cwd
        self.env = env
        self.pty_size = pty_size
        self.tag = tag
        self.timeout_ms = timeout_ms
        self.max_out = max_out
        self.used = 0
        self.truncated = False
        self.timed_out = False
        self.popen = None
        self.pid = None
        self.pidfd = None
        self.stdin = None
        self.fds = {}               # fd -> stream (1 stdout, 2 stderr)
        self.decoders = {}
        self.started_at = time.time()
        self.started = time.monotonic()
        self.timer = None
        self.exited = False
        self.finished = False
        self.status = None

    def start(self):
        env = dict(os.environ)
        env.update(self.env)
        argv = [BASH, "-lc", self.cmd]
        loop = self.agent.loop
        try:
            if self.pty_size:
                master, slave = os.openpty()
                try:
                    set_winsize(slave, *self.pty_size)
                    env.setdefault("TERM", "xterm-256color")
                    self.popen = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=self.cwd, env=env,
                                                  start_new_session=True, preexec_fn=_set_controlling_tty)
                except BaseException:
                    close_fd(master)
                    raise
                finally:
                    close_fd(slave)
                os.set_blocking(master, False)
                self.stdin = FdWriter(loop, master)
                self.fds[master] = 1
            else:
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                try:
                    self.popen = subprocess.Popen(argv, stdin=in_r, stdout=out_w, stderr=err_w, cwd=self.cwd, env=env,
                                                  start_new_session=True)
                except BaseException:
                    for fd in (in_w, out_r, err_r):
                        close_fd(fd)
                    raise
                finally:
                    for fd in (in_r, out_w, err_w):
                        close_fd(fd)
                for fd in (in_w, out_r, err_r):
                    os.set_blocking(fd, False)
                self.stdin = FdWriter(loop, in_w)
                self.fds[out_r] = 1
                self.fds[err_r] = 2
        except OSError as e:
            if e.errno == errno.EAGAIN:
                raise OpError("limit", LIMIT_MESSAGE)
            raise OpError(errno_code(e), "cannot start the process: %s" % (e.strerror or e))
        self.pid = self.popen.pid
        self.agent.send({"id": self.rid, "type": "start", "pid": self.pid})
        for fd in self.fds:
            loop.add_reader(fd, (lambda fd=fd: self._on_readable(fd)))
        self.pidfd = self.agent.watch_exit(self.pid, self._on_exit, popen=self.popen)
        if self.timeout_ms:
            self.timer = loop.call_later(self.timeout_ms / 1000.0, self._on_timeout)

    def info(self):
        return {"pid": self.pid, "cmd": self.cmd, "tag": self.tag, "cwd": self.cwd, "pty": bool(self.pty_size),
                "started_at": self.started_at}

    def _read(self, fd):
        """Reads once; True when it filled the buffer (there may be more to read at once)."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:             # EIO: the pty's other side is closed
            data = b""
        if not data:
            self.agent.loop.remove_reader(fd)
            self.fds.pop(fd, None)
            if not self.pty_size:
                close_fd(fd)
            return False
        self._deliver(self.fds[fd], data)
        return len(data) == READ_SIZE

    def _on_readable(self, fd):
        if fd in self.fds:
            self._read(fd)
            if self.exited and self.pty_size and not self.fds:
                self._finish()

    def _deliver(self, stream, data):
        room = self.max_out - self.used
        if room <= 0:
            self.truncated = True
            return
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self.used += len(data)
        if self.pty_size:
            self.agent.send({"id": self.rid, "type": "stdout", "data_b64": base64.b64encode(data).decode("ascii")})
            return
        dec = self.decoders.get(stream)
        if dec is None:
            dec = self.decoders[stream] = new_decoder()
        text = dec.decode(data)
        if text:
            self.agent.send({"id": self.rid, "type": "stdout" if stream == 1 else "stderr", "data": text})

    def _on_timeout(self):
        if not self.exited:
            self.timed_out = True
            kill_group(self.pid)

    def cancel(self):
        if not self.exited:
            kill_group(self.pid)

    def signal(self, sig):
        if not self.exited:
            kill_group(self.pid, sig)

    def _on_exit(self, status):
        self.exited = True
        self.status = status
        self.agent.procs.pop(self.pid, None)
        if self.timer:
            self.timer.cancel()
        if self.pty_size:
            # Data the process wrote reaches the master asynchronously: read until EIO (all slave ends closed)
            # or for PTY_LINGER seconds (a background job still holds the terminal).
            for fd in list(self.fds):
                while fd in self.fds and self._read(fd):
                    pass
            if self.fds:
                self.agent.loop.call_later(PTY_LINGER, self._finish)
            else:
                self._finish()
        else:
            # Everything it wrote is in the pipes; a background job may still write, so read only what is there.
            for fd in list(self.fds):
                for _ in range(64):
                    if fd not in self.fds or not self._read(fd):
                        break
            self._finish()

    def _finish(self):
        if self.finished:
            return
        self.finished = True
        loop = self.agent.loop
        for fd in list(self.fds):
            loop.forget(fd)
            if not self.pty_size:
                close_fd(fd)
        self.fds.clear()
        if self.stdin:
            self.stdin.close()          # for a pty: the master
        for stream, dec in self.decoders.items():
            tail = dec.decode(b"", True)
            if tail:
                self.agent.send({"id": self.rid, "type": "stdout" if stream == 1 else "stderr", "data": tail})
        code = os.waitstatus_to_exitcode(self.status)
        ev = {"id": self.rid, "type": "done", "exit_code": code if code >= 0 else 128 - code}
        if code < 0:
            ev["signal"] = signal_name(-code)
        ev.update(duration_ms=round((time.monotonic() - self.started) * 1000, 3), truncated=self.truncated,
                  timed_out=self.timed_out)
        self.agent.cancellable.pop(self.rid, None)
        self.agent.send(ev)


# ---------------------------------------------------------------------------------------------------------------------
# Files


def guest_resume(req):
    """A microVM restored from a snapshot resumes with the template's clock and RNG state: set the clock to the
    host's and mix the host's seed into the RNG, forcing a reseed (RNDRESEEDCRNG) so getrandom() uses it at once."""
    time_ns = arg_int(req, "time_ns", lo=0)
    seed = arg_str(req, "seed")
    if time_ns is None:
        raise OpError("invalid", "time_ns is required")
    try:
        data = bytes.fromhex(seed)
    except ValueError:
        raise OpError("invalid", "seed must be hex") from None
    if len(data) < 32:
        raise OpError("invalid", "seed must be at least 32 bytes")
    time.clock_settime_ns(time.CLOCK_REALTIME, time_ns)
    fd = os.open("/dev/urandom", os.O_WRONLY)
    try:
        os.write(fd, data)
        fcntl.ioctl(fd, 0x5207)         # RNDRESEEDCRNG
    finally:
        os.close(fd)
    return {}


def inside_roots(real):
    for r in ROOTS:
        if real == r or real.startswith(r + "/") or r == "/":
            return True
    return False


def abs_path(p):
    if not isinstance(p, str) or not p:
        raise OpError("invalid", "path must be a non-empty string")
    if "\0" in p:
        raise OpError("invalid", "path contains a NUL character")
    return os.path.join(HOME, p)


def display_path(p):
    return os.path.normpath(abs_path(p))


def resolve(p):
    """The real path (all symlinks followed) of p; denied unless it is inside a writable root."""
    real = os.path.realpath(abs_path(p))
    if not inside_roots(real):
        raise OpError("denied", "%s is outside the sandbox's writable roots" % p)
    return real


def resolve_entry(p):
    """(real parent directory, name) of the directory entry p names (its last component not followed)."""
    a = abs_path(p).rstrip("/") or "/"
    head, name = os.path.split(a)
    if name in ("", ".", ".."):
        real = os.path.realpath(a)
        head, name = os.path.split(real)
        if not name:
            raise OpError("denied", "%s is outside the sandbox's writable roots" % p)
    parent = os.path.realpath(head)
    entry = os.path.join(parent, name)
    if not inside_roots(parent) or entry in ROOTS:
        raise OpError("denied", "%s is outside the sandbox's writable roots (or is a root itself)" % p)
    return parent, name


def check_fd(fd, expected):
    """The opened file must still be inside the roots: a symlink swapped in after the path check must not escape."""
    try:
        real = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        # No /proc: at least make sure the fd is the file the checked path names.
        try:
            a, b = os.fstat(fd), os.stat(expected, follow_symlinks=False)
        except OSError:
            raise OpError("denied", "cannot verify %s" % expected)
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            raise OpError("denied", "%s changed while it was opened" % expected)
        return
    if not inside_roots(real):
        raise OpError("denied", "%s resolves outside the sandbox's writable roots" % expected)


def open_checked(path, flags, mode=0o666, dir_fd=None, check_as=None):
    fd = os.open(path, flags | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        check_fd(fd, check_as or path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir(path):
    return open_checked(path, os.O_RDONLY | os.O_DIRECTORY)


def stat_dict(name, path, st, target=None):
    m = st.st_mode
    if stat.S_ISREG(m):
        kind = "file"
    elif stat.S_ISDIR(m):
        kind = "dir"
    elif stat.S_ISLNK(m):
        kind = "symlink"
    else:
        kind = "other"
    d = {"name": name, "path": path, "type": kind, "size": st.st_size, "mode": format(stat.S_IMODE(m), "04o"),
         "mtime": st.st_mtime}
    if target is not None:
        d["symlink_target"] = target
    return d


def fs_stat(req):
    p = req.get("path")
    resolve(p)
    disp = display_path(p)
    a = abs_path(p).rstrip("/") or "/"
    head, name = os.path.split(a)
    entry = os.path.join(os.path.realpath(head), name) if name not in ("", ".", "..") else os.path.realpath(a)
    st = os.lstat(entry)
    target = os.readlink(entry) if stat.S_ISLNK(st.st_mode) else None
    # Nested: a flat result's "type" would collide with the event's own "type": "done".
    return {"entry": stat_dict(os.path.basename(disp) or "/", disp, st, target)}


def fs_list(req):
    p = req.get("path")
    depth = arg_int(req, "depth", 1, lo=1, hi=64)
    real = resolve(p)
    disp = display_path(p)
    try:
        fd = open_checked(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except NotADirectoryError:
        raise OpError("invalid", "%s is not a directory" % p)
    entries = []
    truncated = False

    def walk(dfd, dpath, level):
        nonlocal truncated
        with os.scandir(dfd) as it:
            for e in it:
                if len(entries) >= LIST_MAX:
                    truncated = True
                    return
                try:
                    st = e.stat(follow_symlinks=False)
                    target = os.readlink(e.name, dir_fd=dfd) if stat.S_ISLNK(st.st_mode) else None
                except OSError:
                    continue
                path = dpath.rstrip("/") + "/" + e.name
                entries.append(stat_dict(e.name, path, st, target))
                if level < depth and stat.S_ISDIR(st.st_mode):
                    try:
                        sub = os.open(e.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                      dir_fd=dfd)
                    except OSError:
                        continue
                    try:
                        walk(sub, path, level + 1)
                    finally:
                        os.close(sub)

    try:
        walk(fd, disp, 1)
    finally:
        os.close(fd)
    entries.sort(key=lambda d: d["path"])
    res = {"entries": entries}
    if truncated:
        res["truncated"] = True
    return res


def fs_read(req):
    real = resolve(req.get("path"))
    offset = arg_int(req, "offset", 0, lo=0)
    length = min(arg_int(req, "length", 1 << 20, lo=0), READ_MAX)
    fd = open_checked(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise OpError("invalid", "%s is a directory" % req.get("path"))
        if not stat.S_ISREG(st.st_mode):
            raise OpError("invalid", "%s is not a regular file" % req.get("path"))
        chunks, got = [], 0
        while got < length:
            b = os.pread(fd, length - got, offset + got)
            if not b:
                break
            chunks.append(b)
            got += len(b)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    return {"data_b64": base64.b64encode(data).decode("ascii"), "size": st.st_size,
            "eof": offset + len(data) >= st.st_size}


def fs_write(req):
    p = req.get("path")
    real = resolve(p)
    parent, name = os.path.split(real)
    if not name or real in ROOTS:
        raise OpError("invalid", "%s is not a file path" % p)
    token = arg_str(req, "upload")
    offset = arg_int(req, "offset", 0, lo=0)
    final = arg_bool(req, "final")
    b64 = req.get("data_b64", "")
    if not isinstance(b64, str):
        raise OpError("invalid", "data_b64 must be a string")
    if len(b64) > (WRITE_CHUNK_MAX // 3 + 1) * 4:
        raise OpError("too_large", "a chunk may hold at most %d bytes" % WRITE_CHUNK_MAX)
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        raise OpError("invalid", "data_b64 is not valid base64")
    if offset == 0:
        os.makedirs(parent, exist_ok=True)
    try:
        pfd = open_dir(parent)
    except FileNotFoundError:
        raise OpError("not_found", "%s: parent directory does not exist" % p)
    try:
        import hashlib              # here: loading OpenSSL costs ~6 ms of the agent's start
        tmp = ".agw-upload-" + hashlib.sha256(("%s\0%s" % (token, name)).encode("utf-8", "replace")).hexdigest()[:20]
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT | os.O_TRUNC if offset == 0 else 0)
        try:
            fd = os.open(tmp, flags, 0o666, dir_fd=pfd)
        except FileNotFoundError:
            raise OpError("invalid", "upload %s: no upload in progress (the first chunk has offset 0)" % token)
        try:
            size = os.fstat(fd).st_size
            if size != offset:
                raise OpError("invalid", "upload %s: the next chunk has offset %d, not %d" % (token, size, offset))
            view = memoryview(data)
            pos = offset
            while view:
                n = os.pwrite(fd, view, pos)
                view = view[n:]
                pos += n
            if final:
                try:
                    old = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                    if stat.S_ISREG(old.st_mode):
                        os.fchmod(fd, stat.S_IMODE(old.st_mode))
                except FileNotFoundError:
                    pass
        finally:
            os.close(fd)
        if final:
            try:
                os.rename(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
            except IsADirectoryError:
                raise OpError("exists", "%s is a directory" % p)
        return {"size": offset + len(data)}
    finally:
        os.close(pfd)


def fs_mkdir(req):
    p = req.get("path")
    real = resolve(p)
    try:
        os.makedirs(real, exist_ok=True)
    except FileExistsError:
        raise OpError("exists", "%s exists and is not a directory" % p)
    try:
        os.close(open_dir(real))
    except NotADirectoryError:
        raise OpError("exists", "%s exists and is not a directory" % p)
    return {}


def fs_move(req):
    src, dst = req.get("from"), req.get("to")
    resolve(src)
    sparent, sname = resolve_entry(src)
    dparent, dname = resolve_entry(dst)
    sfd = open_dir(sparent)
    try:
        dfd = open_dir(dparent)
        try:
            os.stat(sname, dir_fd=sfd, follow_symlinks=False)
            try:
                os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
                # Another file system (e.g. /home/user -> /tmp): copy, then delete.
                dpath = os.path.join(dparent, dname)
                try:
                    if stat.S_ISDIR(os.stat(dname, dir_fd=dfd, follow_symlinks=False).st_mode):
                        raise OpError("exists", "%s is a directory" % dst)
                except FileNotFoundError:
                    pass
                shutil.move(os.path.join(sparent, sname), dpath)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return {}


def fs_remove(req):
    p = req.get("path")
    resolve(p)
    parent, name = resolve_entry(p)
    pfd = open_dir(parent)
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=pfd)
        else:
            os.unlink(name, dir_fd=pfd)
    finally:
        os.close(pfd)
    return {}


# ---------------------------------------------------------------------------------------------------------------------
# Egress forwarder


class Egress:
    def __init__(self):
        self.lock = threading.Lock()
        self.listeners = {}

    def start(self, req):
        port = arg_int(req, "port", lo=0, hi=65535)
        if port is None:
            raise OpError("invalid", "port is required")
        path = arg_str(req, "socket")
        with self.lock:
            if port and port in self.listeners:
                raise OpError("exists", "already forwarding port %d" % port)
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind(("127.0.0.1", port))
                ls.listen(128)
            except OSError as e:
                ls.close()
                if e.errno == errno.EADDRINUSE:
                    raise OpError("exists", "port %d is in use" % port)
                raise
            port = ls.getsockname()[1]
            self.listeners[port] = ls
        threading.Thread(target=self._accept, args=(ls, path), daemon=True, name="egress-%d" % port).start()
        return {"port": port}

    def _accept(self, ls, path):
        while True:
            try:
                conn, _ = ls.accept()
            except OSError as e:
                if e.errno in (errno.EBADF, errno.EINVAL):
                    return
                time.sleep(0.05)
                continue
            threading.Thread(target=self._relay, args=(conn, path), daemon=True).start()

    def _relay(self, conn, path):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(path)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            log("egress: cannot reach %s: %s" % (path, e))
            up.close()
            conn.close()
            return
        t = threading.Thread(target=self._pump, args=(up, conn), daemon=True)
        t.start()
        self._pump(conn, up)
        t.join()
        conn.close()
        up.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)    # half-close: the other direction keeps flowing
        except OSError:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------------------------------
# The agent


class Agent:
    def __init__(self, in_fd, out_fd):
        self.in_fd = in_fd
        self.out = Out(out_fd)
        self.out.on_broken = lambda: self.shutdown()
        self.loop = Loop(self.out)
        self.send = self.out.send
        self.inbuf = bytearray()
        # Reads of stdin and result channels land here: a fresh 1 MiB buffer per os.read() would be mmap()ed and
        # munmap()ed every time, and the munmap's TLB shootdown costs tens of microseconds in a VM.
        self.rbuf = bytearray(1 << 20)
        self.scan = 0
        self.contexts = {}
        self.procs = {}
        self.cancellable = {}
        self.exit_watchers = {}
        self.pool = Pool(4, "fs")
        self.upload_pool = Pool(1, "upload")
        self.egress = Egress()
        self._cell_dir = None
        self._cell_ids = 0
        self._shutting_down = False
        self.ops = {
            "ping": (None, lambda rid, req: {}),
            "guest.resume": (None, lambda rid, req: guest_resume(req)),
            "context.create": (None, self.op_context_create),
            "context.list": (None, self.op_context_list),
            "context.restart": (None, self.op_context_restart),
            "context.remove": (None, self.op_context_remove),
            "execute": (None, self.op_execute),
            "process.start": (None, self.op_process_start),
            "process.input": (None, self.op_process_input),
            "process.signal": (None, self.op_process_signal),
            "process.resize": (None, self.op_process_resize),
            "process.list": (None, self.op_process_list),
            "cancel": (None, self.op_cancel),
            "fs.stat": (self.pool, fs_stat),
            "fs.list": (self.pool, fs_list),
            "fs.read": (self.pool, fs_read),
            "fs.write": (self.upload_pool, fs_write),
            "fs.mkdir": (self.pool, fs_mkdir),
            "fs.move": (self.pool, fs_move),
            "fs.remove": (self.pool, fs_remove),
            "egress.start": (self.pool, self.egress.start),
        }

    # -- plumbing

    def done(self, rid, result):
        ev = {"id": rid, "type": "done"}
        ev.update(result)
        ev["type"] = "done"
        self.send(ev)

    def error(self, rid, code, message):
        self.send({"id": rid, "type": "error", "code": code, "message": message})

    def watch_exit(self, pid, cb, popen=None, before_reap=None):
        """Calls cb(wait status) on the loop when the child exits (a pidfd; a waiter thread where there is none).
        before_reap runs while the exited child is still a zombie, so its pid (and process group) cannot have been
        reused yet."""
        def reap():
            try:
                p, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                p, status = pid, 0
            if not p:
                return None
            if popen is not None:
                popen.returncode = os.waitstatus_to_exitcode(status)
            return status

        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            def on_ready():
                if before_reap is not None:
                    before_reap()
                status = reap()
                if status is None:
                    return
                self.loop.forget(pidfd)
                close_fd(pidfd)
                cb(status)
            self.loop.add_reader(pidfd, on_ready)
            return pidfd

        def exited():
            if before_reap is not None:
                before_reap()
            status = reap()
            cb(status if status is not None else 0)

        def waiter():
            try:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass
            self.loop.call_soon_threadsafe(exited)
        threading.Thread(target=waiter, daemon=True).start()
        return None

    def cell_dir(self):
        if self._cell_dir is None:
            base = os.environ.get("TMPDIR") or "/tmp"
            d = os.path.join(base, ".agw-%d" % os.getpid())
            if any(c in d for c in " \t\n'\"\\$`;&|<>(){}*?[]#~"):
                d = "/tmp/.agw-%d" % os.getpid()     # the path goes into a shell command unquoted
            os.makedirs(d, mode=0o700, exist_ok=True)
            self._cell_dir = d
        return self._cell_dir

    def next_cell_id(self):
        self._cell_ids += 1
        return self._cell_ids

    # -- requests

    def on_stdin(self):
        try:
            n = os.readv(self.in_fd, [self.rbuf])
        except BlockingIOError:
            return
        except OSError:
            n = 0
        if not n:
            self.shutdown()
            return
        buf = self.inbuf
        buf += memoryview(self.rbuf)[:n]
        start = 0
        i = buf.find(b"\n", self.scan)
        while i >= 0:
            line = bytes(buf[start:i])
            start = i + 1
            if line.strip():
                self.on_request(line)
            i = buf.find(b"\n", start)
        if start:
            del buf[:start]
        self.scan = len(buf)

    def on_request(self, line):
        rid = 0
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise OpError("invalid", "a request is a JSON object")
            rid = req.get("id")
            if isinstance(rid, bool) or not isinstance(rid, int) or rid <= 0:
                rid = 0
                raise OpError("invalid", "id must be a positive integer")
            op = req.get("op")
            entry = self.ops.get(op)
            if entry is None:
                raise OpError("invalid", "unknown op %r" % (op,))
            pool, fn = entry
            if pool is not None:
                pool.submit(self._run_pooled, rid, fn, req)
                return
            result = fn(rid, req)
            if result is not None:
                self.done(rid, result)
        except OpError as e:
            self.error(rid, e.code, e.message)
        except ValueError as e:
            self.error(rid, "invalid", "bad request: %s" % e)
        except OSError as e:
            code = errno_code(e)
            self.error(rid, code, LIMIT_MESSAGE if code == "limit" else e.strerror or str(e))
        except Exception as e:
            if isinstance(e, RuntimeError) and "thread" in str(e):
                self.error(rid, "limit", LIMIT_MESSAGE)     # no thread for the pool: at the process limit
                return
            log("request failed:\n" + format_exc())
            self.error(rid, "internal", "%s: %s" % (type(e).__name__, e))

    def _run_pooled(self, rid, fn, req):
        try:
            result = fn(req)
        except OpError as e:
            self.error(rid, e.code, e.message)
        except OSError as e:
            self.error(rid, errno_code(e), "%s%s" % (e.strerror or e, (": " + e.filename) if e.filename else ""))
        except Exception as e:
            log("request failed:\n" + format_exc())
            self.error(rid, "internal", "%s: %s" % (type(e).__name__, e))
        else:
            self.done(rid, result)

    # -- contexts

    def _context(self, req):
        name = arg_str(req, "context")
        ctx = self.contexts.get(name)
        if ctx is None:
            raise OpError("not_found", "no context %s" % name)
        return ctx

    def op_context_create(self, rid, req):
        name = arg_str(req, "context")
        language = req.get("language")
        if language not in LANGUAGES:
            raise OpError("invalid", "language must be one of %s" % ", ".join(LANGUAGES))
        if name in self.contexts:
            raise OpError("exists", "context %s exists" % name)
        ctx = Context(self, name, language, resolve_cwd(req), arg_env(req))
        ctx.start()
        self.contexts[name] = ctx
        ctx.waiters.append(rid)
        return None

    def op_context_list(self, rid, req):
        out = []
        for ctx in self.contexts.values():
            d = ctx.info()
            d["busy"] = ctx.execution is not None or ctx.queued is not None
            out.append(d)
        return {"contexts": out}

    def op_context_restart(self, rid, req):
        self._context(req).restart(rid)
        return None

    def op_context_remove(self, rid, req):
        ctx = self._context(req)
        del self.contexts[ctx.name]
        ctx.remove()
        return {}

    def op_execute(self, rid, req):
        ctx = self._context(req)
        code = arg_str(req, "code", required=False, default="", empty=True)
        env = arg_env(req)
        if ctx.language == "bash":
            for k in env:
                if not (k[0].isalpha() or k[0] == "_") or not all(c.isalnum() or c == "_" for c in k) \
                        or not k.isascii():
                    raise OpError("invalid", "env: %r is not a shell variable name" % k)
        cwd = resolve_cwd(req) if req.get("cwd") is not None else None
        timeout_ms = arg_int(req, "timeout_ms", None, lo=0)
        max_out = arg_int(req, "max_output_bytes", DEFAULT_MAX_OUTPUT, lo=0)
        if ctx.execution is not None or ctx.queued is not None:
            raise OpError("busy", "context %s is executing" % ctx.name)
        ex = Execution(ctx, rid, code, env, cwd, timeout_ms, max_out)
        ctx.submit(ex)
        self.cancellable[rid] = ex
        return None

    # -- processes

    def _proc(self, req):
        pid = arg_int(req, "pid")
        p = self.procs.get(pid)
        if p is None:
            raise OpError("not_found", "no running process %s" % pid)
        return p

    def op_process_start(self, rid, req):
        cmd = arg_str(req, "cmd")
        cwd = resolve_cwd(req)
        env = arg_env(req)
        pty_size = None
        pty_arg = req.get("pty")
        if pty_arg is not None and pty_arg is not False:
            if pty_arg is True:
                pty_arg = {}
            if not isinstance(pty_arg, dict):
                raise OpError("invalid", "pty must be an object {cols, rows}")
            pty_size = (arg_int(pty_arg, "cols", 80, lo=1, hi=65535), arg_int(pty_arg, "rows", 24, lo=1, hi=65535))
        tag = req.get("tag")
        timeout_ms = arg_int(req, "timeout_ms", None, lo=0)
        max_out = arg_int(req, "max_output_bytes", DEFAULT_MAX_OUTPUT, lo=0)
        p = Proc(self, rid, cmd, cwd, env, pty_size, tag, timeout_ms, max_out)
        p.start()
        if not p.exited:
            self.procs[p.pid] = p
        if not p.finished:
            self.cancellable[rid] = p
        return None

    def op_process_input(self, rid, req):
        p = self._proc(req)
        if "data_b64" in req and req["data_b64"] is not None:
            try:
                data = base64.b64decode(arg_str(req, "data_b64", empty=True), validate=True)
            except ValueError:
                raise OpError("invalid", "data_b64 is not valid base64")
        else:
            data = arg_str(req, "data", required=False, default="", empty=True).encode("utf-8", "surrogateescape")
        eof = arg_bool(req, "eof")
        if data:
            p.stdin.write(data)
        if eof:
            if p.pty_size:
                if not p.stdin.closed:
                    p.stdin.write(b"\x04")    # a terminal has no end of file to close: ^D says it
            else:
                p.stdin.close_after_drain()
        return {}

    def op_process_signal(self, rid, req):
        p = self._proc(req)
        name = req.get("signal")
        if name not in SIGNALS:
            raise OpError("invalid", "signal must be one of %s" % ", ".join(SIGNALS))
        p.signal(SIGNALS[name])
        return {}

    def op_process_resize(self, rid, req):
        p = self._proc(req)
        if not p.pty_size:
            raise OpError("invalid", "process %d has no pty" % p.pid)
        cols = arg_int(req, "cols", lo=1, hi=65535)
        rows = arg_int(req, "rows", lo=1, hi=65535)
        if cols is None or rows is None:
            raise OpError("invalid", "cols and rows are required")
        if not p.stdin.closed:
            set_winsize(p.stdin.fd, cols, rows)
        p.pty_size = (cols, rows)
        return {}

    def op_process_list(self, rid, req):
        return {"processes": [p.info() for p in self.procs.values()]}

    def op_cancel(self, rid, req):
        target = arg_int(req, "target")
        obj = self.cancellable.get(target)
        if obj is not None:         # else it has ended already (a cancel racing its end is no error)
            obj.cancel()
        return {}

    # -- life

    def shutdown(self):
        """stdin closed (or stdout broken): kill everything started here and leave."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for ctx in list(self.contexts.values()):
            if ctx.kernel and ctx.kernel.pid:
                kill_group(ctx.kernel.pid)
        for p in list(self.procs.values()):
            kill_group(p.pid)
        if self._cell_dir:
            shutil.rmtree(self._cell_dir, ignore_errors=True)
        try:
            self.out.on_broken = None
            self.out.flush()
        except Exception:
            pass
        os._exit(0)

    def run(self):
        self.loop.add_reader(self.in_fd, self.on_stdin)
        self.send({"id": 0, "type": "ready", "pid": os.getpid(), "version": VERSION})
        self.out.loop_thread = threading.get_ident()
        self.out.flush()
        self.loop.run()


def main():
    # The protocol streams get private descriptors; fd 0 becomes /dev/null and fd 1 a copy of stderr, so nothing
    # else (a stray print, a traceback, a child) can read requests or write into the event stream.
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.set_blocking(in_fd, False)
    os.set_blocking(out_fd, True)
    # Handlers (not SIG_IGN) are reset by exec, so children start with default SIGINT/SIGTERM.
    signal.signal(signal.SIGINT, lambda *a: None)
    agent = Agent(in_fd, out_fd)
    signal.signal(signal.SIGTERM, lambda *a: agent.shutdown())
    signal.signal(signal.SIGHUP, lambda *a: agent.shutdown())
    try:
        agent.run()
    except BaseException:
        log("fatal:\n" + format_exc())
        agent.shutdown()


if __name__ == "__main__":
    main()
