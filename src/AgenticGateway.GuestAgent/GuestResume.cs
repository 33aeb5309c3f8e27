using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent;

/// <summary>
/// <c>guest.resume</c>: a microVM restored from a snapshot resumes with the template's clock and RNG state. Sets the
/// clock to the host's and mixes the host's seed into the RNG, forcing a reseed (RNDRESEEDCRNG) so that getrandom()
/// uses it at once (Linux otherwise reseeds once a minute): no two clones share random numbers.
/// </summary>
internal static unsafe class GuestResume
{
    private const int ClockRealtime = 0;
    private const nuint RndReseedCrng = 0x5207;

    public static void Run(Request req)
    {
        var timeNs = req.Int("time_ns", lo: 0) ?? throw OpError.Invalid("time_ns is required");
        var hex = req.String("seed")!;
        byte[] seed;
        try { seed = Convert.FromHexString(hex); }
        catch (FormatException) { throw OpError.Invalid("seed must be hex"); }
        if (seed.Length < 32) throw OpError.Invalid("seed must be at least 32 bytes");

        var ts = new Libc.Timespec { Sec = timeNs / 1_000_000_000, Nsec = timeNs % 1_000_000_000 };
        if (Libc.clock_settime(ClockRealtime, &ts) != 0) throw ErrnoException.Last("clock_settime");
        var fd = Libc.open("/dev/urandom", Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw ErrnoException.Last("/dev/urandom");
        try
        {
            fixed (byte* p = seed)
                if (Libc.write(fd, p, seed.Length) != seed.Length) throw ErrnoException.Last("/dev/urandom");
            if (Libc.ioctl(fd, RndReseedCrng, null) != 0) throw ErrnoException.Last("RNDRESEEDCRNG");
        }
        finally
        {
            Libc.close(fd);
        }
    }
}
