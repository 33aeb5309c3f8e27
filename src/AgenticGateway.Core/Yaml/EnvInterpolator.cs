using System.Text;

namespace AgenticGateway.Yaml;

/// <summary>
/// Expands <c>${NAME}</c> and <c>${NAME:-default}</c> anywhere in a value, and LiteLLM's whole-value
/// <c>os.environ/NAME</c>. A variable that is not set expands to empty and is reported as a warning.
/// </summary>
internal sealed class EnvInterpolator(Func<string, string?> lookup)
{
    public static EnvInterpolator FromProcess(IReadOnlyDictionary<string, string>? extra = null) =>
        new(name => extra is not null && extra.TryGetValue(name, out var v) ? v : Environment.GetEnvironmentVariable(name));

    /// <summary>A variable's value (the config's environment_variables first, then the process), or null.</summary>
    public string? Lookup(string name) => lookup(name);

    public string Expand(string value, string path, ConfigIssues issues)
    {
        if (value.StartsWith("os.environ/", StringComparison.Ordinal))
        {
            var name = value["os.environ/".Length..];
            var resolved = lookup(name);
            if (resolved is null) issues.Warning(path, $"environment variable '{name}' is not set");
            return resolved ?? "";
        }
        if (!value.Contains("${", StringComparison.Ordinal)) return value;

        var sb = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            var start = value.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0) { sb.Append(value, i, value.Length - i); break; }
            var end = value.IndexOf('}', start + 2);
            if (end < 0)
            {
                issues.Error(path, $"unterminated '${{' in value");
                sb.Append(value, i, value.Length - i);
                break;
            }
            sb.Append(value, i, start - i);
            var expr = value.AsSpan(start + 2, end - start - 2);
            string name;
            string? fallback = null;
            var sep = expr.IndexOf(":-", StringComparison.Ordinal);
            if (sep >= 0) { name = expr[..sep].ToString(); fallback = expr[(sep + 2)..].ToString(); }
            else name = expr.ToString();
            var resolved = lookup(name);
            if (string.IsNullOrEmpty(resolved) && fallback is not null) resolved = fallback;
            if (resolved is null) issues.Warning(path, $"environment variable '{name}' is not set");
            sb.Append(resolved);
            i = end + 1;
        }
        return sb.ToString();
    }
}
