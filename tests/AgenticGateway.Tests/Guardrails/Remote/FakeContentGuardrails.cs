using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>
/// A stand-in for the guardrail runner behind <see cref="IContentGuardrails"/>: masks e-mail addresses as Presidio
/// writes them and blocks a text with "forbidden", in the modes it is given; records what it was asked.
/// </summary>
internal sealed partial class FakeContentGuardrails(params GuardrailMode[] modes) : IContentGuardrails
{
    public List<(GuardrailMode Mode, IReadOnlyList<string> Texts, string Subject)> Calls { get; } = [];

    public bool AnyFor(GuardrailMode mode, Caller caller) => modes.Contains(mode);

    public ValueTask<ContentCheck> CheckAsync(GuardrailMode mode, IReadOnlyList<string> texts, Caller caller, string requestId, string subject, CancellationToken ct)
    {
        lock (Calls) Calls.Add((mode, texts, subject));
        var info = $$"""[{"guardrail_name":"fake","guardrail_mode":"{{mode}}"}]""";
        if (texts.Any(t => t.Contains("forbidden", StringComparison.Ordinal)))
            return ValueTask.FromResult(new ContentCheck(texts, "fake", "a forbidden word", info));
        return ValueTask.FromResult(new ContentCheck(texts.Select(t => Email().Replace(t, "<EMAIL_ADDRESS>")).ToList(), null, null, info));
    }

    [GeneratedRegex(@"[\w.+-]+@[\w-]+\.[\w.]+")]
    private static partial Regex Email();
}
