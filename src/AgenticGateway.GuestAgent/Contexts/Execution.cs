using System.Diagnostics;
using System.Text;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Contexts;

/// <summary>Something a <c>cancel</c> request can end: an execution or a started process.</summary>
internal interface ICancellable
{
    void Cancel();
}

/// <summary>One <c>execute</c> request: its code, limits, output accounting and timers. Loop thread only.</summary>
internal sealed class Execution(CodeContext context, long id, string code, List<KeyValuePair<string, string>> env, string? cwd,
    long? timeoutMs, long maxOutput) : ICancellable
{
    public CodeContext Context { get; } = context;
    public long Id { get; } = id;
    public string Code { get; } = code;
    public List<KeyValuePair<string, string>> Env { get; } = env;
    public string? Cwd { get; } = cwd;
    public long? TimeoutMs { get; } = timeoutMs;
    public long MaxOutput { get; } = maxOutput;
    public long Seq { get; set; }
    public long StartedAt { get; set; }
    public long Used { get; set; }
    public bool Truncated { get; set; }
    public bool TimedOut { get; set; }
    public bool Cancelled { get; set; }
    public bool HadException { get; set; }
    public LoopTimer? Timer { get; set; }
    public LoopTimer? KillTimer { get; set; }

    private Decoder? _stdout, _stderr;

    public Decoder DecoderFor(int stream) => stream == 1 ? (_stdout ??= Text.Utf8.GetDecoder()) : (_stderr ??= Text.Utf8.GetDecoder());

    /// <summary>The decoders' held-back bytes (an incomplete sequence) as replacement characters, per stream.</summary>
    public IEnumerable<(int Stream, string Text)> FlushDecoders()
    {
        foreach (var (stream, decoder) in new[] { (1, _stdout), (2, _stderr) })
        {
            if (decoder is null) continue;
            var chars = new char[8];
            var n = decoder.GetChars([], chars, flush: true);
            if (n > 0) yield return (stream, new string(chars, 0, n));
        }
        _stdout = _stderr = null;
    }

    public double DurationMs => Math.Round(Stopwatch.GetElapsedTime(StartedAt).TotalMilliseconds, 3);

    public void Cancel() => Context.Interrupt(this, timeout: false);
}
