using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Tests.Sandboxes.Isolation;

/// <summary>The filter in real bubblewrap sandboxes (root and bwrap required), plus its arm64 program through a BPF interpreter.</summary>
[Trait("Category", "sandbox")]
public sealed class SeccompFilterTests : IDisposable
{
    private const int Eperm = 1, Enosys = 38;

    // Each probe prints the errno of one call (0: it succeeded). Denied calls use arguments that succeed or fail with
    // another errno without the filter, so EPERM can only come from it. ioctls target a pipe: never inject into a tty.
    // The clones come before unshare(CLONE_NEWUSER), after which this uid has no mapping to create user namespaces.
    private const string Probe = """
        import ctypes, json, os, platform, socket
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        NR = {"x86_64": dict(keyctl=250, bpf=321, perf_event_open=298, userfaultfd=323, clone=56, clone3=435, process_vm_readv=310),
              "aarch64": dict(keyctl=219, bpf=280, perf_event_open=241, userfaultfd=282, clone=220, clone3=435, process_vm_readv=270)}[platform.machine()]
        NR.update(io_uring_setup=425, io_uring_enter=426, io_uring_register=427)  # the same on both
        U = lambda v: ctypes.c_ulong(v & 0xffffffffffffffff)
        def result(r): return 0 if r >= 0 else ctypes.get_errno()
        def lib(f, *a): ctypes.set_errno(0); return result(f(*a))
        def sys(name, *a): return lib(libc.syscall, ctypes.c_long(NR[name]), *[U(x) for x in a])
        def clone(flags):
            ctypes.set_errno(0)
            pid = libc.syscall(ctypes.c_long(NR["clone"]), U(flags), U(0), U(0), U(0), U(0))
            if pid == 0: os._exit(0)
            if pid > 0: os.waitpid(pid, 0)
            return result(pid)
        def netlink(protocol):
            ctypes.set_errno(0); fd = libc.socket(16, 3, protocol)
            if fd >= 0: os.close(fd)
            return result(fd)
        def io_uring_setup():
            params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed: a plain 1-entry ring
            ctypes.set_errno(0); fd = libc.syscall(ctypes.c_long(NR["io_uring_setup"]), U(1), params)
            if fd >= 0: os.close(fd)
            return result(fd)
        r, w = os.pipe(); ch = ctypes.c_char(b"x")
        print(json.dumps(dict(
            ptrace=lib(libc.ptrace, 0, 0, 0, 0),
            mount=lib(libc.mount, b"none", b"/tmp", b"tmpfs", U(0), None),
            clone_newuser=clone(0x10000000 | 17),
            clone_newns=clone(0x00020000 | 17),
            clone_newnet=clone(0x40000000 | 17),
            unshare_user=lib(libc.unshare, 0x10000000),
            unshare_mount=lib(libc.unshare, 0x00020000),
            setns=lib(libc.setns, -1, 0),
            keyctl=sys("keyctl", 0, -3, 0),
            bpf=sys("bpf", 9999, 0, 0),
            perf_event_open=sys("perf_event_open", 0, 0, -1, -1, 0),
            userfaultfd=sys("userfaultfd", 1),  # UFFD_USER_MODE_ONLY: allowed unprivileged
            process_vm_readv=sys("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0),
            io_uring_setup=io_uring_setup(),
            io_uring_enter=sys("io_uring_enter", -1, 0, 0, 0, 0, 0),  # EBADF without the filter
            io_uring_register=sys("io_uring_register", -1, 0, 0, 0),
            tiocsti=lib(libc.ioctl, r, U(0x5412), ctypes.byref(ch)),
            tiocsti_high_bits=lib(libc.ioctl, r, U((1 << 32) | 0x5412), ctypes.byref(ch)),
            tioclinux=lib(libc.ioctl, r, U(0x541C), ctypes.byref(ch)),
            netlink_netfilter=netlink(12),
            personality_no_aslr=lib(libc.personality, U(0x0040000)),
            clone_plain=clone(17),
            clone3=sys("clone3", 0, 0),
            netlink_route=netlink(0),
            personality_query=lib(libc.personality, U(0xffffffff)),
        )))
        """;

    private static readonly string[] Denied =
    [
        "ptrace", "mount", "unshare_user", "unshare_mount", "setns", "clone_newuser", "clone_newns", "clone_newnet", "keyctl",
        "bpf", "perf_event_open", "userfaultfd", "process_vm_readv", "tiocsti", "tiocsti_high_bits", "tioclinux",
        "netlink_netfilter", "personality_no_aslr", "io_uring_setup", "io_uring_enter", "io_uring_register",
    ];

    private readonly string _filter = Path.Combine(Path.GetTempPath(), $"agw-seccomp-{Guid.NewGuid():N}.bpf");

    public SeccompFilterTests() => SeccompFilter.WriteTo(_filter);

    public void Dispose() => File.Delete(_filter);

    [Fact]
    public void Escape_syscalls_fail_with_EPERM_under_the_filter_and_not_without_it()
    {
        var filtered = RunProbe(Launch.BwrapWithSeccomp(_filter, "/usr/bin/python3", "-c", Probe));
        var unfiltered = RunProbe([.. Launch.Bwrap, "/usr/bin/python3", "-c", Probe]);

        foreach (var name in Denied)
            Assert.True(filtered[name] == Eperm, $"{name}: errno {filtered[name]} under the filter, expected EPERM");
        Assert.Equal(Enosys, filtered["clone3"]);
        Assert.Equal(0, filtered["clone_plain"]);
        Assert.Equal(0, filtered["netlink_route"]);
        Assert.Equal(0, filtered["personality_query"]);

        // Without the filter these calls succeed or fail otherwise (ptrace and mount depend on bwrap's capabilities,
        // io_uring_setup on the kernel.io_uring_disabled sysctl).
        var ioUringOff = File.Exists("/proc/sys/kernel/io_uring_disabled") && File.ReadAllText("/proc/sys/kernel/io_uring_disabled").Trim() != "0";
        foreach (var name in Denied.Except(ioUringOff ? ["ptrace", "mount", "io_uring_setup"] : ["ptrace", "mount"]))
            Assert.True(unfiltered[name] != Eperm, $"{name}: EPERM even without the filter, so the test proves nothing");
    }

    [Fact]
    public void Python_with_threads_and_subprocesses_runs_normally_under_the_filter()
    {
        const string program = """
            import subprocess, threading, os
            results = []
            threads = [threading.Thread(target=lambda i=i: results.append(i * i)) for i in range(8)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(sum(results))
            print(subprocess.run(["ls", "/usr"], capture_output=True, text=True, check=True).stdout.split()[0])
            pid = os.fork()
            if pid == 0: os._exit(7)
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            """;
        var result = Launch.Run(Launch.BwrapWithSeccomp(_filter, "/usr/bin/python3", "-c", program));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["140", "bin", "7"], result.Stdout.Split('\n'));
    }

    [Fact]
    public void Node_runs_normally_under_the_filter()
    {
        const string program = """
            console.log(1 + 1);
            console.log(require('child_process').execSync('echo child').toString().trim());
            console.log(Object.keys(require('os').networkInterfaces()).join(','));
            """;
        var result = Launch.Run(Launch.BwrapWithSeccomp(_filter, "/usr/bin/node", "-e", program));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["2", "child", "lo"], result.Stdout.Split('\n'));
    }

    [Fact]
    public void Arm64_program_denies_by_arm64_numbers_and_kills_foreign_architectures()
    {
        var program = SeccompFilter.Build(Architecture.Arm64);
        const uint aarch64 = 0xC00000B7, x86_64 = 0xC000003E, eperm = 0x00050001, enosys = 0x00050026, allow = 0x7fff0000, kill = 0x80000000;

        Assert.Equal(eperm, Run(program, aarch64, 117)); // ptrace
        Assert.Equal(eperm, Run(program, aarch64, 425)); // io_uring_setup
        Assert.Equal(eperm, Run(program, aarch64, 97)); // unshare
        Assert.Equal(eperm, Run(program, aarch64, 220, 0x10000000 | 17)); // clone(CLONE_NEWUSER)
        Assert.Equal(allow, Run(program, aarch64, 220, 0x003D0F00)); // clone for a thread
        Assert.Equal(enosys, Run(program, aarch64, 435)); // clone3
        Assert.Equal(eperm, Run(program, aarch64, 29, 0, 0x5412)); // ioctl(TIOCSTI)
        Assert.Equal(allow, Run(program, aarch64, 29, 0, 0x5401)); // ioctl(TCGETS)
        Assert.Equal(eperm, Run(program, aarch64, 198, 16, 3, 12)); // socket(AF_NETLINK, NETLINK_NETFILTER)
        Assert.Equal(allow, Run(program, aarch64, 198, 16, 3, 0)); // socket(AF_NETLINK, NETLINK_ROUTE)
        Assert.Equal(allow, Run(program, aarch64, 198, 2, 1, 0)); // socket(AF_INET)
        Assert.Equal(allow, Run(program, aarch64, 101)); // ptrace's x86_64 number is nanosleep here
        Assert.Equal(allow, Run(program, aarch64, 63)); // read
        Assert.Equal(kill, Run(program, x86_64, 63));
        Assert.Equal(kill, Run(program, 0x40000028, 63)); // 32-bit ARM compat
    }

    [Fact]
    public void X64_program_denies_the_x32_abi()
    {
        var program = SeccompFilter.Build(Architecture.X64);
        const uint x86_64 = 0xC000003E, eperm = 0x00050001, allow = 0x7fff0000;

        Assert.Equal(eperm, Run(program, x86_64, 0x40000000 | 0)); // x32 read
        Assert.Equal(allow, Run(program, x86_64, 0)); // read
        Assert.Equal(eperm, Run(program, x86_64, 101)); // ptrace
        Assert.Throws<PlatformNotSupportedException>(() => SeccompFilter.Build(Architecture.X86));
    }

    private static Dictionary<string, int> RunProbe(string[] command)
    {
        var result = Launch.Run(command);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
    }

    /// <summary>
    /// Interprets the seccomp program for one syscall, as the kernel would (only the instructions the filter emits:
    /// absolute 32-bit loads, jeq/jge/jset against constants, return a constant). Jumps are bounds-checked.
    /// </summary>
    private static uint Run(byte[] program, uint arch, int nr, params ulong[] args)
    {
        var data = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
        for (var i = 0; i < args.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16 + 8 * i), args[i]);

        Assert.Equal(0, program.Length % 8);
        uint accumulator = 0;
        for (var pc = 0; ;)
        {
            Assert.InRange(pc, 0, program.Length / 8 - 1);
            var insn = program.AsSpan(pc * 8, 8);
            var code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
            var k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
            pc++;
            switch (code)
            {
                case 0x20: accumulator = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)k)); break;
                case 0x06: return k;
                case 0x15: pc += accumulator == k ? insn[2] : insn[3]; break;
                case 0x35: pc += accumulator >= k ? insn[2] : insn[3]; break;
                case 0x45: pc += (accumulator & k) != 0 ? insn[2] : insn[3]; break;
                default: throw new InvalidOperationException($"unexpected BPF opcode 0x{code:x}");
            }
        }
    }
}
