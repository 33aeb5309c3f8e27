using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Protocol;

/// <summary>A request that fails with one of the protocol's error codes (<c>invalid</c>, <c>not_found</c>, ...).</summary>
internal sealed class OpError(string code, string message) : Exception(message)
{
    public const string LimitMessage = "the sandbox is at its process limit (max_processes); end some processes first";

    public string Code { get; } = code;

    public static OpError Invalid(string message) => new(AgentErrors.Invalid, message);
}

/// <summary>A failed system call: its errno, mapped to a protocol error code (docs/sandbox-agent-protocol.md).</summary>
internal sealed class ErrnoException(int errno, string message) : Exception(message)
{
    public int Errno { get; } = errno;

    public string Code => CodeOf(Errno);

    public static ErrnoException Last(string what)
    {
        var errno = Native.Libc.Errno;
        return new ErrnoException(errno, $"{Native.Libc.StrError(errno)}: {what}");
    }

    public static string CodeOf(int errno) => errno switch
    {
        Native.Libc.EAGAIN => AgentErrors.Limit,      // fork/clone/thread creation refused: the pids cgroup or RLIMIT_NPROC
        Native.Libc.ENOENT => AgentErrors.NotFound,
        Native.Libc.EEXIST or Native.Libc.ENOTEMPTY => AgentErrors.Exists,
        Native.Libc.EACCES or Native.Libc.EPERM or Native.Libc.ELOOP or Native.Libc.EROFS => AgentErrors.Denied,
        Native.Libc.ENOSPC or Native.Libc.EDQUOT or Native.Libc.EFBIG => AgentErrors.TooLarge,
        Native.Libc.ENOTDIR or Native.Libc.EISDIR or Native.Libc.EINVAL or Native.Libc.ENAMETOOLONG or Native.Libc.EXDEV
            or Native.Libc.EBUSY => AgentErrors.Invalid,
        _ => AgentErrors.Internal,
    };
}
