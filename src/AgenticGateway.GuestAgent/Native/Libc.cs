using System.Runtime.InteropServices;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>
/// The libc calls the agent makes itself: the BCL has no process groups, sessions, pidfds, ptys, epoll on arbitrary
/// descriptors or directory-fd relative file operations, all of which the sandbox supervisor needs. linux-x64 only
/// (the structure layouts below are x86-64's).
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12,
        EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EFBIG = 27, ENOSPC = 28,
        EROFS = 30, ENAMETOOLONG = 36, ENOTEMPTY = 39, ELOOP = 40, EDQUOT = 122, ENXIO = 6;

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100, O_TRUNC = 0x200,
        O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;

    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200;
    public const int F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030;
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14,
        SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGXFSZ = 25;
    public const int WNOHANG = 1;
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLONESHOT = 1u << 30;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLHUP = 0x10;

    private const long SYS_getdents64 = 217, SYS_newfstatat = 262, SYS_pidfd_open = 434;
    // Raw system calls, not glibc's wrappers: the kernel changes only the calling thread's credentials, where glibc's
    // setresuid and friends signal every thread of the process to change all of them (POSIX's process-wide ids).
    private const long SYS_getgroups = 115, SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119, SYS_setfsuid = 122, SYS_setfsgid = 123;

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    /// <summary>struct stat of x86-64 Linux (144 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Stat
    {
        public ulong Dev;
        public ulong Ino;
        public ulong Nlink;
        public uint Mode;
        public uint Uid;
        public uint Gid;
        private uint _pad0;
        public ulong Rdev;
        public long Size;
        public long BlkSize;
        public long Blocks;
        public long ATimeSec;
        public long ATimeNsec;
        public long MTimeSec;
        public long MTimeNsec;
        public long CTimeSec;
        public long CTimeNsec;
        private long _reserved0, _reserved1, _reserved2;

        public readonly uint Type => Mode & 0xF000;
        public readonly bool IsDirectory => Type == 0x4000;
        public readonly bool IsRegular => Type == 0x8000;
        public readonly bool IsSymlink => Type == 0xA000;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int clock_settime(int clockId, Timespec* ts);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup2(int oldfd, int newfd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint pread(int fd, byte* buf, nint count, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buf, nint count, long offset);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int openat(int dirfd, string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial nint readlink(string path, byte* buf, nint size);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial nint readlinkat(int dirfd, string path, byte* buf, nint size);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int mkdirat(int dirfd, string path, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int unlinkat(int dirfd, string path, int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int renameat(int olddirfd, string oldpath, int newdirfd, string newpath);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int access(string path, int mode);

    public const uint IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80, IN_CREATE = 0x100,
        IN_DELETE = 0x200, IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800, IN_Q_OVERFLOW = 0x4000, IN_IGNORED = 0x8000,
        IN_ONLYDIR = 0x1000000, IN_DONT_FOLLOW = 0x2000000, IN_ISDIR = 0x40000000;
    public const int IN_NONBLOCK = 0x800, IN_CLOEXEC = 0x80000;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int inotify_init1(int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(FileNameMarshaller))]
    public static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int inotify_rm_watch(int fd, int wd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchmod(int fd, int mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport(Lib)]
    public static partial int ptsname_r(int fd, byte* buf, nuint buflen);

    [LibraryImport(Lib, SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4);

    // posix_spawn: the return value is the error number (errno is not set).
    [LibraryImport(Lib)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, int mode);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    public const int SIG_BLOCK = 0, SFD_NONBLOCK = 0x800, SFD_CLOEXEC = 0x80000;

    [LibraryImport(Lib)]
    public static partial int pthread_sigmask(int how, void* set, void* oldset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int signalfd(int fd, void* mask, int flags);

    [LibraryImport(Lib)]
    public static partial int sigemptyset(void* set);

    [LibraryImport(Lib)]
    public static partial int sigaddset(void* set, int signum);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static int PidfdOpen(int pid)
    {
        var r = syscall(SYS_pidfd_open, pid, 0, 0, 0);
        return r < 0 ? -1 : (int)r;
    }

    public static int GetDents(int fd, byte* buf, int size) => (int)syscall(SYS_getdents64, fd, (long)buf, size, 0);

    /// <summary>fstatat(2); <paramref name="path"/> "" with AT_EMPTY_PATH (0x1000) is fstat.</summary>
    public static int FStatAt(int dirfd, string path, out Stat st, int flags)
    {
        st = default;
        var bytes = FileNames.EncodeZ(path);
        fixed (byte* p = bytes)
        fixed (Stat* s = &st)
            return (int)syscall(SYS_newfstatat, dirfd, (long)p, (long)s, flags);
    }

    public const int AT_EMPTY_PATH = 0x1000;

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchown(int fd, int owner, int group);

    /// <summary>This thread's real, effective and saved uids (-1 leaves one as it is): 0, or -1 and errno.</summary>
    public static int ThreadSetResUid(int r, int e, int s) => (int)syscall(SYS_setresuid, r, e, s, 0);

    public static int ThreadSetResGid(int r, int e, int s) => (int)syscall(SYS_setresgid, r, e, s, 0);

    /// <summary>This thread's supplementary groups: 0, or -1 and errno.</summary>
    public static int ThreadSetGroups(int count, uint* groups) => (int)syscall(SYS_setgroups, count, (long)groups, 0, 0);

    /// <summary>This thread's supplementary groups (at most <paramref name="size"/>): their number, or -1 and errno.</summary>
    public static int ThreadGetGroups(int size, uint* groups) => (int)syscall(SYS_getgroups, size, (long)groups, 0, 0);

    /// <summary>The uid this thread's file system accesses use; returns the previous one (the call cannot report failure).</summary>
    public static int ThreadSetFsUid(int uid) => (int)syscall(SYS_setfsuid, uid, 0, 0, 0);

    public static int ThreadSetFsGid(int gid) => (int)syscall(SYS_setfsgid, gid, 0, 0, 0);

    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
