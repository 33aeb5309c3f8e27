using AgenticGateway.Configuration;
namespace AgenticGateway.Emulator;

/// <summary>Scripted faults: "the next N requests (for model M) fail like this", for recovery and cooldown tests.</summary>
internal sealed class MockScript
{
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];

    private sealed class Entry(string? model, MockFault fault, int remaining)
    {
        public string? Model { get; } = model;
        public MockFault Fault { get; } = fault;
        public int Remaining { get; set; } = remaining;
    }

    public void Add(string? model, MockFault fault, int count)
    {
        lock (_lock) _entries.Add(new Entry(model, fault, Math.Max(1, count)));
    }

    public void Clear()
    {
        lock (_lock) _entries.Clear();
    }

    public MockFault? Take(string model)
    {
        lock (_lock)
        {
            if (_entries.Count == 0) return null;
            for (var i = 0; i < _entries.Count; i++)
            {
                var e = _entries[i];
                if (e.Model is not null && e.Model != model) continue;
                if (--e.Remaining <= 0) _entries.RemoveAt(i);
                return e.Fault;
            }
            return null;
        }
    }
}
