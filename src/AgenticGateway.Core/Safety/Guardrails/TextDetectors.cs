using System.Collections.Frozen;
using AgenticGateway.Configuration;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>Builds the local detector of a configured guardrail.</summary>
internal static class TextDetectors
{
    /// <summary>
    /// The detector for <paramref name="definition"/>, or null when its type is not a local one (a remote guardrail, or a
    /// prompt-injection guardrail with only the LLM judge on). Build once per configuration snapshot.
    /// </summary>
    public static ITextDetector? Create(GuardrailDefinition definition) => definition.Settings switch
    {
        ContentFilterSettings s => new ContentFilterDetector(s),
        PresidioSettings s => new PiiDetector(definition.Name, s),
        SecretSettings s => new SecretDetector(s),
        PromptInjectionSettings s => s.HeuristicsCheck || s.SimilarityCheck ? new InjectionDetector() : null,
        GuardrailGroupSettings g => Composite(g),
        _ => null,
    };

    private static ITextDetector? Composite(GuardrailGroupSettings group)
    {
        var members = new List<ITextDetector>();
        foreach (var member in group.Members)
            if (Create(member) is { } detector) members.Add(detector);
        return members.Count switch { 0 => null, 1 => members[0], _ => new CompositeDetector([.. members]) };
    }
}

/// <summary>Several detectors as one (LiteLLM's older guardrail groups): each finding is masked and explained by the detector that found it.</summary>
internal sealed class CompositeDetector : ITextDetector
{
    private readonly ITextDetector[] _members;
    private readonly FrozenDictionary<string, ITextDetector> _byKind;

    public CompositeDetector(ITextDetector[] members)
    {
        _members = members;
        var byKind = new Dictionary<string, ITextDetector>(StringComparer.Ordinal);
        foreach (var m in members)
            if (m is IKnowsKinds k)
                foreach (var kind in k.Kinds) byKind.TryAdd(kind, m);
        _byKind = byKind.ToFrozenDictionary(StringComparer.Ordinal);
        MaxMatchLength = members.Max(m => m.MaxMatchLength);
    }

    public int MaxMatchLength { get; }

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings)
    {
        foreach (var m in _members) m.Scan(text, findings);
    }

    public string MaskText(in TextFinding finding) => Owner(finding.Kind).MaskText(finding);

    public string BlockMessage(in TextFinding finding) => Owner(finding.Kind).BlockMessage(finding);

    private ITextDetector Owner(string kind) =>
        _byKind.TryGetValue(kind, out var m) ? m : _members.FirstOrDefault(x => x is IKnowsKinds k && k.Owns(kind)) ?? _members[0];
}

/// <summary>The finding kinds a detector reports, so a composite can route a finding back to it.</summary>
internal interface IKnowsKinds
{
    IEnumerable<string> Kinds { get; }
    bool Owns(string kind);
}
