using System.CommandLine;
using System.CommandLine.Parsing;

namespace AgenticGateway.Cli;

/// <summary>Options more than one entry takes, parsed and checked the same way in each.</summary>
internal static class CommonOptions
{
    public static Option<string> Config(string description) => new("--config") { Description = description, HelpName = "FILE" };

    public static Option<bool> AllowUnsupported() => new("--allow-unsupported")
    {
        Description = "start with security settings the gateway cannot enforce, reported as warnings instead of errors",
    };

    public static Option<bool> Strict() => new("--strict")
    {
        Description = "refuse a config with a deployment the gateway would skip (a provider it does not serve) instead of starting without it",
    };

    public static Option<string> Urls(string description) => new("--urls") { Description = description, HelpName = "URLS" };

    public static Option<int?> Port(string description) => new("--port")
    {
        Description = description,
        HelpName = "N",
        CustomParser = r => r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, out var p) && p is >= 0 and <= 65535 ? p : Invalid(r),
    };

    /// <summary>--urls as given, else --port as http://0.0.0.0:PORT, else null.</summary>
    public static string? ListenUrls(ParseResult result, Option<string> urls, Option<int?> port) =>
        result.GetValue(urls) ?? (result.GetValue(port) is { } p ? $"http://0.0.0.0:{p}" : null);

    public static Option<double> Number(string name, string description)
    {
        var option = new Option<double>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN) r.AddError($"{name} must be a number of at least 0.");
        });
        return option;
    }

    private static int? Invalid(ArgumentResult r)
    {
        r.AddError($"Invalid port '{(r.Tokens.Count > 0 ? r.Tokens[0].Value : "")}'.");
        return null;
    }
}
