using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AgenticGateway.Sandboxes.Isolation;

/// <summary>
/// The seccomp program every sandbox runs under, as classic BPF for <c>bwrap --seccomp FD</c> (bwrap installs it just
/// before exec'ing the sandbox's program, after its own mount and namespace setup).
/// It is a denylist: Python, Node and their native modules use a large and growing set of syscalls (rseq, statx,
/// close_range, pidfd_*, new *at2 variants), and an allowlist would break them on every runtime or libc upgrade.
/// Namespaces, dropped capabilities and cgroups are the boundary; this filter removes the kernel interfaces most used to
/// attack it: tracing other processes, mounts, new namespaces, keyrings, eBPF, perf, io_uring, modules, terminal injection.
/// </summary>
internal static class SeccompFilter
{
    // Syscall numbers from this machine's /usr/include/x86_64-linux-gnu/asm/unistd_64.h and asm-generic/unistd.h
    // (the table arm64 uses), cross-checked against tracee's arm64 list. Null: the syscall does not exist on that arch.
    private static readonly (string Name, int? X64, int? Arm64)[] Denied =
    [
        ("ptrace", 101, 117), ("process_vm_readv", 310, 270), ("process_vm_writev", 311, 271),
        ("mount", 165, 40), ("umount2", 166, 39), ("pivot_root", 155, 41),
        ("open_tree", 428, 428), ("move_mount", 429, 429), ("fsopen", 430, 430), ("fsconfig", 431, 431),
        ("fsmount", 432, 432), ("fspick", 433, 433), ("mount_setattr", 442, 442),
        ("unshare", 272, 97), ("setns", 308, 268),
        ("keyctl", 250, 219), ("add_key", 248, 217), ("request_key", 249, 218),
        ("bpf", 321, 280), ("perf_event_open", 298, 241), ("userfaultfd", 323, 282),
        // io_uring: a large source of kernel exploits, denied as Docker's default profile does; libuv (Node) and
        // others fall back to ordinary syscalls when io_uring_setup fails.
        ("io_uring_setup", 425, 425), ("io_uring_enter", 426, 426), ("io_uring_register", 427, 427),
        ("init_module", 175, 105), ("finit_module", 313, 273), ("delete_module", 176, 106),
        ("kexec_load", 246, 104), ("kexec_file_load", 320, 294), ("reboot", 169, 142),
        ("swapon", 167, 224), ("swapoff", 168, 225), ("acct", 163, 89),
        ("open_by_handle_at", 304, 265), ("name_to_handle_at", 303, 264),
        ("quotactl", 179, 60), ("quotactl_fd", 443, 443), ("syslog", 103, 116), ("lookup_dcookie", 212, 18),
        ("iopl", 172, null), ("ioperm", 173, null),
    ];

    private sealed record Abi(uint AuditArch, bool HasX32, int SysClone, int SysClone3, int SysIoctl, int SysSocket, int SysPersonality);

    // AUDIT_ARCH_X86_64 and AUDIT_ARCH_AARCH64: the ELF machine (62, 183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
    private static readonly Abi X64 = new(AuditArch: 0xC000003E, HasX32: true, SysClone: 56, SysClone3: 435, SysIoctl: 16, SysSocket: 41, SysPersonality: 135);
    private static readonly Abi Arm64 = new(AuditArch: 0xC00000B7, HasX32: false, SysClone: 220, SysClone3: 435, SysIoctl: 29, SysSocket: 198, SysPersonality: 92);

    private const uint RetKillProcess = 0x80000000, RetErrno = 0x00050000, RetAllow = 0x7fff0000;
    private const uint Eperm = 1, Enosys = 38;
    private const uint X32Bit = 0x40000000;
    // CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
    private const uint NamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
    private const uint Tiocsti = 0x5412, Tioclinux = 0x541C;
    private const uint AfNetlink = 16, NetlinkRoute = 0;
    // What Docker's default profile allows: PER_LINUX, PER_LINUX32, UNAME26 (and with PER_LINUX32), and the query value.
    // ADDR_NO_RANDOMIZE and the rest stay denied, so a sandbox cannot turn off ASLR for what it executes.
    private static readonly uint[] AllowedPersonalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

    // Classic BPF opcodes and struct seccomp_data offsets (nr at 0, arch at 4, args[i] at 16 + 8i; little-endian,
    // so the low 32 bits of an argument come first).
    private const ushort LdAbs = 0x20, JeqK = 0x15, JgeK = 0x35, JsetK = 0x45, RetK = 0x06;
    private const uint NrOffset = 0, ArchOffset = 4;
    private static uint ArgLow(int index) => (uint)(16 + 8 * index);

    private readonly record struct Insn(ushort Code, byte Jt, byte Jf, uint K);

    /// <summary>The program for the architecture this process runs on.</summary>
    public static byte[] Build() => Build(RuntimeInformation.ProcessArchitecture);

    /// <summary>Writes <see cref="Build()"/> to a file, for a launcher that opens it as bwrap's <c>--seccomp</c> fd.</summary>
    public static void WriteTo(string path) => File.WriteAllBytes(path, Build());

    internal static byte[] Build(Architecture architecture)
    {
        var abi = architecture switch
        {
            Architecture.X64 => X64,
            Architecture.Arm64 => Arm64,
            _ => throw new PlatformNotSupportedException($"no seccomp syscall table for {architecture}"),
        };
        var program = new List<Insn>
        {
            // A syscall made through another ABI (32-bit compat) has other numbers: none may slip past the checks.
            Load(ArchOffset),
            Jump(JeqK, abi.AuditArch, 1, 0),
            Return(RetKillProcess),
            Load(NrOffset),
        };
        if (abi.HasX32)
        {
            // x32 syscalls share AUDIT_ARCH_X86_64 and are marked by this bit in nr; nothing we run uses them.
            program.Add(Jump(JgeK, X32Bit, 0, 1));
            program.Add(Return(RetErrno | Eperm));
        }
        foreach (var (_, x64, arm64) in Denied)
        {
            if ((abi == X64 ? x64 : arm64) is { } nr)
                When(program, nr, Return(RetErrno | Eperm));
        }

        // clone: deny only new namespaces (threads and fork stay). The kernel reads the low 32 bits of the flags.
        When(program, abi.SysClone,
            Load(ArgLow(0)),
            Jump(JsetK, NamespaceFlags, 0, 1),
            Return(RetErrno | Eperm),
            Return(RetAllow));
        // clone3 passes its flags in memory, out of the filter's sight; ENOSYS makes glibc fall back to clone.
        When(program, abi.SysClone3, Return(RetErrno | Enosys));
        // ioctl: no faking terminal input (TIOCSTI) or console control (TIOCLINUX); the command is 32 bits.
        When(program, abi.SysIoctl,
            Load(ArgLow(1)),
            Jump(JeqK, Tiocsti, 2, 0),
            Jump(JeqK, Tioclinux, 1, 0),
            Return(RetAllow),
            Return(RetErrno | Eperm));
        // socket: netlink families other than NETLINK_ROUTE (netfilter, xfrm, audit, generic...) are kernel attack
        // surface no agent needs. NETLINK_ROUTE stays: getifaddrs (Node's os.networkInterfaces, Python's
        // socket.if_nameindex) needs it, and it only shows the sandbox's own network namespace.
        When(program, abi.SysSocket,
            Load(ArgLow(0)),
            Jump(JeqK, AfNetlink, 0, 2),
            Load(ArgLow(2)),
            Jump(JeqK, NetlinkRoute, 0, 1),
            Return(RetAllow),
            Return(RetErrno | Eperm));
        When(program, abi.SysPersonality, PersonalityCheck());

        program.Add(Return(RetAllow));
        return Serialize(program);
    }

    private static Insn[] PersonalityCheck()
    {
        var body = new List<Insn> { Load(ArgLow(0)) };
        for (var i = 0; i < AllowedPersonalities.Length; i++)
            body.Add(Jump(JeqK, AllowedPersonalities[i], (byte)(AllowedPersonalities.Length - i), 0));
        body.Add(Return(RetErrno | Eperm));
        body.Add(Return(RetAllow));
        return [.. body];
    }

    /// <summary>Appends "if nr == <paramref name="nr"/> run <paramref name="body"/>"; every body ends in a return.</summary>
    private static void When(List<Insn> program, int nr, params Insn[] body)
    {
        program.Add(Jump(JeqK, (uint)nr, 0, checked((byte)body.Length)));
        program.AddRange(body);
    }

    private static Insn Load(uint offset) => new(LdAbs, 0, 0, offset);
    private static Insn Jump(ushort code, uint k, byte jt, byte jf) => new(code, jt, jf, k);
    private static Insn Return(uint action) => new(RetK, 0, 0, action);

    private static byte[] Serialize(List<Insn> program)
    {
        var bytes = new byte[program.Count * 8];
        for (var i = 0; i < program.Count; i++)
        {
            var slot = bytes.AsSpan(i * 8, 8);
            BinaryPrimitives.WriteUInt16LittleEndian(slot, program[i].Code);
            slot[2] = program[i].Jt;
            slot[3] = program[i].Jf;
            BinaryPrimitives.WriteUInt32LittleEndian(slot[4..], program[i].K);
        }
        return bytes;
    }
}
