using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>Builds detectors from LiteLLM-shaped YAML through the real config loader, and applies them to texts.</summary>
internal static class DetectorTestKit
{
    public static ITextDetector FromYaml(string guardrailsYaml)
    {
        var result = ConfigLoader.Load("model_list:\n  - model_name: m\n    litellm_params: {model: mock/m}\n" + guardrailsYaml, "litellm.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("\n", result.Errors));
        var definition = Assert.Single(result.Options!.Guardrails.Guardrails);
        var detector = TextDetectors.Create(definition);
        Assert.NotNull(detector);
        return detector!;
    }

    /// <summary>The text masked whole, or "BLOCK: message" when a finding blocks it.</summary>
    public static string Apply(ITextDetector detector, string text)
    {
        var findings = new List<TextFinding>();
        detector.Scan(text, findings);
        if (TextMasker.FirstBlock(findings) is { } block) return "BLOCK: " + detector.BlockMessage(block);
        TextMasker.Resolve(findings);
        return TextMasker.Mask(text, findings, detector) ?? text;
    }

    public static List<TextFinding> Find(ITextDetector detector, string text)
    {
        var findings = new List<TextFinding>();
        detector.Scan(text, findings);
        TextMasker.Resolve(findings);
        return findings;
    }
}
