namespace AgenticGateway.Configuration;

/// <summary>Collects every configuration error and warning with its path, so all are reported at once.</summary>
internal sealed class ConfigIssues
{
    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    public IReadOnlyList<string> Errors => _errors;
    public IReadOnlyList<string> Warnings => _warnings;
    public bool HasErrors => _errors.Count > 0;

    public void Error(string path, string message) => _errors.Add(string.IsNullOrEmpty(path) ? message : $"{path}: {message}");
    public void Warning(string path, string message) => _warnings.Add(string.IsNullOrEmpty(path) ? message : $"{path}: {message}");
}
