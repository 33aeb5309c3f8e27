namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's template names as this gateway's runtimes. <c>base</c> (E2B's default: a Linux box with Python) and
/// <c>code-interpreter-v1</c> (the code interpreter SDK's default) both start a Python sandbox, whose interpreter
/// serves <c>runCode</c>; each of our runtimes is a template of its own name.
/// </summary>
internal static class E2bTemplates
{
    public const string Base = "base", CodeInterpreter = "code-interpreter-v1";

    /// <summary>The runtime a template starts, or null for a template this gateway does not have.</summary>
    public static string? Runtime(string template) => template switch
    {
        Base or CodeInterpreter or "code-interpreter" or "python" => "python",
        "node" or "nodejs" => "node",
        "bash" => "bash",
        _ => null,
    };

    public static readonly string[] Names = [Base, CodeInterpreter, "python", "node", "bash"];
}
