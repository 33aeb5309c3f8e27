namespace AgenticGateway.Yaml;

/// <summary>Collects every configuration error and warning with its path, so all are reported at once.</summary>
/// <param name="allowUnsupported">--allow-unsupported: security settings the gateway cannot enforce are warnings, not errors.</param>
/// <param name="strict">--strict: what the gateway would leave out to start anyway (a deployment of a provider it does not
/// serve) is an error instead of a warning.</param>
internal sealed class ConfigIssues(bool allowUnsupported = false, bool strict = false)
{
    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    public IReadOnlyList<string> Errors => _errors;
    public IReadOnlyList<string> Warnings => _warnings;
    public bool HasErrors => _errors.Count > 0;

    public void Error(string path, string message) => _errors.Add(string.IsNullOrEmpty(path) ? message : $"{path}: {message}");
    public void Warning(string path, string message) => _warnings.Add(string.IsNullOrEmpty(path) ? message : $"{path}: {message}");

    /// <summary>
    /// Something the gateway leaves out so the rest can start, as LiteLLM starts and fails only that part: a warning,
    /// or an error under --strict and wherever one thing is loaded strictly (a model added with /model/new, a --model).
    /// Each gets its own text: the warning says what is skipped and that the rest starts, which an error that refuses
    /// the whole load must not claim.
    /// </summary>
    public void LeftOut(string path, string warning, string error)
    {
        if (strict) Error(path, error);
        else Warning(path, $"{warning} (an error under --strict)");
    }

    /// <summary>
    /// A setting that governs authentication, guardrails, policies or access and that the gateway cannot enforce. Running
    /// without it would silently leave the gateway more open than its operator asked for, so it is an error unless the
    /// operator accepted that with --allow-unsupported.
    /// </summary>
    public void Unsupported(string path, string what, string instead)
    {
        if (allowUnsupported) Warning(path, $"{what} is not supported and NOT enforced (accepted with --allow-unsupported); {instead}");
        else Error(path, $"{what} is not supported, so it cannot be enforced; {instead}. Run with --allow-unsupported to start without it");
    }
}
