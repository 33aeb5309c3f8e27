using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Per-owner quotas: sandboxes alive at once, and sandbox-seconds per period (the lifetimes of ended sandboxes plus
/// the age of live ones). Counted on this node; the period restarts when it has run out.
/// </summary>
internal sealed class SandboxQuotas(QuotaOptions options, TimeProvider time)
{
    private readonly Dictionary<string, Usage> _owners = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private sealed class Usage
    {
        public int Live;
        public double Seconds;
        public DateTimeOffset PeriodStart;
    }

    /// <summary>Counts one more live sandbox for the owner, or says which quota refuses it.</summary>
    public ApiError? TryAdmit(string owner, TimeSpan timeout, double liveSeconds)
    {
        lock (_gate)
        {
            var u = Get(owner);
            if (u.Live >= options.MaxConcurrent)
                return Refuse($"Sandbox quota reached: at most {options.MaxConcurrent} sandboxes at once per key. Delete one first.", "sandbox_concurrency_quota");
            if (options.MaxSandboxSeconds > 0 && u.Seconds + liveSeconds >= options.MaxSandboxSeconds)
                return Refuse($"Sandbox quota reached: {options.MaxSandboxSeconds} sandbox-seconds per {Describe(options.Period)} are used up.", "sandbox_time_quota");
            u.Live++;
            return null;
        }
    }

    public void Released(string owner, TimeSpan lifetime)
    {
        lock (_gate)
        {
            var u = Get(owner);
            u.Live = Math.Max(0, u.Live - 1);
            u.Seconds += lifetime.TotalSeconds;
        }
    }

    public bool Exhausted(string owner, double liveSeconds)
    {
        if (options.MaxSandboxSeconds <= 0) return false;
        lock (_gate) return Get(owner).Seconds + liveSeconds >= options.MaxSandboxSeconds;
    }

    private Usage Get(string owner)
    {
        var now = time.GetUtcNow();
        if (!_owners.TryGetValue(owner, out var u)) _owners[owner] = u = new Usage { PeriodStart = now };
        if (now - u.PeriodStart >= options.Period) { u.PeriodStart = now; u.Seconds = 0; }
        return u;
    }

    private static ApiError Refuse(string message, string code) => new(429, message, "rate_limit_error", code) { RetryAfterSeconds = 60 };

    private static string Describe(TimeSpan period) => period.TotalHours >= 1 && period.TotalHours % 24 == 0 ? $"{period.TotalDays:0} day(s)" : $"{period.TotalMinutes:0} minutes";
}
