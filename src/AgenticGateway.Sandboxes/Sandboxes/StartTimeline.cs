using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// When each phase of one sandbox's start ended (cgroup made, process spawned, agent ready, interpreter ready), for
/// the debug log: where a cold create's time goes, measured on the real path rather than guessed (bench/README.md).
/// Written by one start at a time, in order.
/// </summary>
internal sealed class StartTimeline
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly List<(string Phase, long At)> _marks = new(8);

    public void Mark(string phase) => _marks.Add((phase, Stopwatch.GetTimestamp()));

    /// <summary>"cgroup 1.2, spawned 3.4, ..." (milliseconds since the start).</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (phase, at) in _marks)
        {
            if (text.Length > 0) text.Append(", ");
            text.Append(phase).Append(' ').Append(Stopwatch.GetElapsedTime(_started, at).TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}
