using System.CommandLine;
using System.CommandLine.Parsing;

namespace AgenticGateway.Cli;

/// <summary>
/// How every entry (<c>agw</c>, <c>agw-mock</c>) runs its System.CommandLine commands: exit 0 done (or --help), 1
/// refused or failed, 2 a usage error (an unknown command or option, a missing or invalid value: a mistyped option is
/// never silently ignored), reported as the first problem and then the command's help.
/// </summary>
internal static class CommandLineRunner
{
    public const int UsageErrorCode = 2;

    /// <param name="what">What the root command runs, for "Unknown option --x for the gateway".</param>
    public static async Task<int> RunAsync(RootCommand root, string[] args, string what)
    {
        // No response files: an argument starting with '@' is taken as it is.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            // Our own report instead of the library's (which exits 1): the first problem, then the command's help, exit 2.
            Console.Error.WriteLine(UsageError(parsed, what));
            Console.Error.WriteLine();
            var command = CommandPath(parsed.CommandResult);
            root.Parse([.. command.Length == 0 ? [] : command.Split(' '), "--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
            return UsageErrorCode;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            Output = Console.Out,
            Error = Console.Error,
            // An unexpected exception still surfaces as one; the host itself handles SIGTERM and drains streams for
            // up to 30 s, which the library's own termination handling (2 s, then exit) would cut short.
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>
    /// The first problem, in our words where the library's are vague: an unmatched token is an unknown command (at
    /// the top), an unknown option of the command it was given to, or an argument no command takes.
    /// </summary>
    private static string UsageError(ParseResult parsed, string what)
    {
        var command = parsed.CommandResult.Command;
        if (parsed.UnmatchedTokens.Count > 0)
        {
            var token = parsed.UnmatchedTokens[0];
            if (token.StartsWith('-'))
                return $"Unknown option {token.Split('=', ':')[0]} for {(command is RootCommand ? what : CommandPath(parsed.CommandResult))}.";
            return command is RootCommand && parsed.Tokens.Count > 0 && parsed.Tokens[0].Value == token ? $"Unknown command '{token}'." : $"Unexpected argument '{token}'.";
        }
        return parsed.Errors[0].Message;
    }

    /// <summary>The command's words after the program name ("images build"); empty for the root command.</summary>
    private static string CommandPath(CommandResult result) =>
        result.Command is RootCommand ? "" : result.Parent is CommandResult parent && parent.Command is not RootCommand ? CommandPath(parent) + " " + result.Command.Name : result.Command.Name;
}
