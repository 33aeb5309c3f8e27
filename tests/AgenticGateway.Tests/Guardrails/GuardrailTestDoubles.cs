using System.Collections.Immutable;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Guardrails;
using AgenticGateway.Safety.Guardrails;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// A small local detector for the runtime's tests (the real detectors have their own): e-mail addresses (masked or
/// blocked, as its settings say) and the word "forbidden" (always blocked).
/// </summary>
internal sealed partial class TestDetector(GuardrailAction emailAction) : ITextDetector
{
    public int MaxMatchLength => 64;

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings)
    {
        var s = text.ToString();
        foreach (Match m in Email().Matches(s)) findings.Add(new TextFinding("EMAIL_ADDRESS", m.Index, m.Length, emailAction));
        foreach (Match m in Forbidden().Matches(s)) findings.Add(new TextFinding("BLOCKED_WORD", m.Index, m.Length, GuardrailAction.Block));
    }

    [GeneratedRegex(@"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")]
    private static partial Regex Email();

    [GeneratedRegex(@"\bforbidden\b")]
    private static partial Regex Forbidden();
}

internal sealed record TestDetectorSettings(GuardrailAction EmailAction) : GuardrailSettings;

internal static class GuardrailTesting
{
    public const string Type = "test_detector";

    public static GuardrailDefinition Guard(string name, GuardrailMode[] modes, bool defaultOn = true, GuardrailAction email = GuardrailAction.Mask, bool dryRun = false, string? info = null) => new()
    {
        Name = name,
        Type = Type,
        Modes = [.. modes],
        DefaultOn = defaultOn,
        DryRun = dryRun,
        Settings = new TestDetectorSettings(email),
        InfoJson = info,
    };

    /// <summary>Sets the guardrails of a gateway under test (its YAML has none) and registers the test detector's type.</summary>
    public static Func<GatewayOptions, GatewayOptions> With(params GuardrailDefinition[] guards) =>
        o => o with { Guardrails = new GuardrailOptions { Guardrails = [.. guards] } };

    public static Func<GatewayOptions, GatewayOptions> WithDryRun(params GuardrailDefinition[] guards) =>
        o => o with { Guardrails = new GuardrailOptions { Guardrails = [.. guards], DryRun = true } };

    public static void Types(IServiceCollection services) =>
        services.AddSingleton<IGuardrailTypes>(new LocalGuardrailTypes(d => d.Settings is TestDetectorSettings t ? new TestDetector(t.EmailAction) : null));
}
