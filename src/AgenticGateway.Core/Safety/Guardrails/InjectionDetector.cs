using AgenticGateway.Configuration;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// LiteLLM's <c>detect_prompt_injection</c> heuristics, locally: the techniques <see cref="InjectionScanner"/> knows,
/// each a blocking finding with LiteLLM's rejection text.
/// </summary>
internal sealed class InjectionDetector : ITextDetector, IKnowsKinds
{
    private static readonly string[] KindNames = ["ignore_instructions", "instruction_markers", "reveal_system_prompt", "jailbreak_persona", "invisible_characters", "scan_timeout"];

    public int MaxMatchLength => InjectionScanner.PromptMatchReach;

    public IEnumerable<string> Kinds => KindNames;

    public bool Owns(string kind) => Array.IndexOf(KindNames, kind) >= 0;

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings) => InjectionScanner.FindInPrompt(text, findings);

    public string BlockMessage(in TextFinding finding) => PromptInjectionSettings.RejectionMessage;
}
