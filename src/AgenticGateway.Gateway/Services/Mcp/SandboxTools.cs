using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The built-in sandbox server's tools as a model sees them: names, descriptions and schemas. They hold no setting of
/// this gateway (limits are named, not quoted), so a definition, and the pin the federation keeps of it, does not
/// change when the operator retunes sandboxes.
/// </summary>
internal static class SandboxTools
{
    public const string RunCode = "run_code";
    public const string RunCommand = "run_command";
    public const string ReadFile = "read_file";
    public const string WriteFile = "write_file";
    public const string ListFiles = "list_files";

    /// <summary>Where relative paths start and what the sandbox user may touch (the agent enforces it; the texts say it).</summary>
    public const string Home = "/home/user";

    private const string Where =
        "It runs in your own sandbox: an isolated Linux machine with no network access, kept for this MCP session (or, "
        + "without a session, while you keep using it) and shared by all five sandbox tools; if it has ended (it expired), "
        + "the next call starts a fresh one and says so.";

    private const string PathRule = "absolute, or relative to /home/user; only /home/user and /tmp (and below) can be used.";

    /// <summary>Fresh instances on every call: <see cref="Tool"/> is mutable and the federation may rename what it is given.</summary>
    public static IReadOnlyList<Tool> Create() => Definitions.Select(d => new Tool
    {
        Name = d.Name,
        Title = d.Title,
        Description = d.Description,
        InputSchema = d.InputSchema,
        OutputSchema = d.OutputSchema,
        Annotations = new ToolAnnotations { Title = d.Title, ReadOnlyHint = d.ReadOnly, DestructiveHint = !d.ReadOnly, IdempotentHint = d.Idempotent, OpenWorldHint = false },
    }).ToList();

    private sealed record Definition(string Name, string Title, string Description, JsonElement InputSchema, JsonElement? OutputSchema, bool ReadOnly, bool Idempotent);

    private static readonly Definition[] Definitions =
    [
        Define(RunCode, "Run code",
            "Run Python, Node.js or bash code and return what it printed and returned. State persists between calls of the same "
            + "language, like cells of a notebook: variables, imports and functions stay (bash keeps its variables, functions and "
            + "current directory). Each language has its own interpreter; files are shared between them and with the other tools. "
            + "The working directory starts at /home/user. Python: the value of the last expression is returned in results (its "
            + "repr in text), matplotlib figures as PNG images, and top-level await works. Node: the value of the last expression "
            + "(awaited if it is a promise). An uncaught exception is returned in error (name, value, traceback) and marks the "
            + "call as failed; the interpreter and its state survive it. Output past the gateway's limit is dropped (truncated). "
            + Where,
            """
            {"type":"object","properties":{
              "code":{"type":"string","description":"The code to run."},
              "language":{"type":"string","enum":["python","node","bash"],"default":"python","description":"The interpreter: python (default), node or bash."},
              "timeout_seconds":{"type":"number","exclusiveMinimum":0,"description":"Stop the run after this many seconds (default: the gateway's execute timeout, usually 60). A stopped run reports timed_out and a TimeoutError."}
            },"required":["code"],"additionalProperties":false}
            """,
            """
            {"type":"object","properties":{
              "stdout":{"type":"string","description":"What the code wrote to standard output."},
              "stderr":{"type":"string","description":"What the code wrote to standard error."},
              "results":{"type":"array","description":"Rich results: the last expression's value (is_main_result) and figures. Images come as image content; here they are named by mime type.","items":{"type":"object","properties":{
                "is_main_result":{"type":"boolean"},"text":{"type":"string"},"html":{"type":"string"},"markdown":{"type":"string"},
                "svg":{"type":"string"},"latex":{"type":"string"},"json":{},"images":{"type":"array","items":{"type":"string"}}}}},
              "error":{"type":["object","null"],"description":"The uncaught exception, or null.","properties":{
                "name":{"type":"string"},"value":{"type":"string"},"traceback":{"type":"string"}}},
              "exit_code":{"type":"integer","description":"0, or 1 after an exception (bash: the status of the last command)."},
              "truncated":{"type":"boolean","description":"Output beyond the gateway's limit was dropped."},
              "timed_out":{"type":"boolean"},
              "context_restarted":{"type":"boolean","description":"The interpreter was restarted (killed after a timeout, out of memory, or it exited): earlier state is gone."}
            },"required":["stdout","stderr","results","error","exit_code","truncated","timed_out","context_restarted"]}
            """,
            readOnly: false, idempotent: false),

        Define(RunCommand, "Run a shell command",
            "Run a shell command (bash -lc) and wait for it to end. Returns its exit code, stdout and stderr; a non-zero exit "
            + "code marks the call as failed. Each call is a new shell: use cwd to choose the directory, and run_code with "
            + "language bash for a shell whose variables and directory persist. Output past the gateway's limit is dropped "
            + "(truncated); a command still running at the timeout is killed (timed_out). " + Where,
            """
            {"type":"object","properties":{
              "command":{"type":"string","minLength":1,"description":"The shell command line, e.g. \"ls -la && python3 --version\"."},
              "cwd":{"type":"string","description":"The directory to run in, absolute or relative to /home/user (default /home/user)."},
              "timeout_seconds":{"type":"number","exclusiveMinimum":0,"description":"Kill the command after this many seconds (default: the gateway's execute timeout, usually 60)."}
            },"required":["command"],"additionalProperties":false}
            """,
            """
            {"type":"object","properties":{
              "exit_code":{"type":"integer","description":"The command's exit status; 128 + the signal's number when a signal killed it."},
              "signal":{"type":["string","null"],"description":"The signal that killed it (e.g. SIGKILL), or null."},
              "stdout":{"type":"string"},
              "stderr":{"type":"string"},
              "truncated":{"type":"boolean","description":"Output beyond the gateway's limit was dropped."},
              "timed_out":{"type":"boolean"},
              "duration_ms":{"type":"number"}
            },"required":["exit_code","signal","stdout","stderr","truncated","timed_out","duration_ms"]}
            """,
            readOnly: false, idempotent: false),

        Define(ReadFile, "Read a file",
            "Read a file. A UTF-8 text file comes back as its text; a PNG, JPEG, GIF or WebP image as an image; any other file as "
            + "an embedded binary resource. A file larger than the gateway's limit is refused: read part of it with run_command "
            + "(head, tail, sed -n, grep). Paths are " + PathRule + " " + Where,
            """
            {"type":"object","properties":{
              "path":{"type":"string","minLength":1,"description":"The file's path, absolute or relative to /home/user."}
            },"required":["path"],"additionalProperties":false}
            """,
            outputSchema: null,
            readOnly: true, idempotent: true),

        Define(WriteFile, "Write a file",
            "Write a UTF-8 text file, replacing it if it exists and creating missing parent directories. The other tools see "
            + "it at once (run_code can open it, run_command can run it). Paths are " + PathRule + " " + Where,
            """
            {"type":"object","properties":{
              "path":{"type":"string","minLength":1,"description":"The file's path, absolute or relative to /home/user."},
              "content":{"type":"string","description":"The whole text of the file."}
            },"required":["path","content"],"additionalProperties":false}
            """,
            """
            {"type":"object","properties":{
              "path":{"type":"string","description":"The path as given."},
              "size":{"type":"integer","description":"Bytes written."}
            },"required":["path","size"]}
            """,
            readOnly: false, idempotent: true),

        Define(ListFiles, "List files",
            "List a directory (default /home/user): each entry's name, path, type (file, dir, symlink or other), size in bytes "
            + "and modification time (Unix seconds), sorted by path. Paths are " + PathRule + " " + Where,
            """
            {"type":"object","properties":{
              "path":{"type":"string","minLength":1,"description":"The directory, absolute or relative to /home/user (default /home/user)."}
            },"additionalProperties":false}
            """,
            """
            {"type":"object","properties":{
              "path":{"type":"string"},
              "entries":{"type":"array","items":{"type":"object","properties":{
                "name":{"type":"string"},"path":{"type":"string"},"type":{"type":"string","enum":["file","dir","symlink","other"]},
                "size":{"type":"integer"},"mtime":{"type":"number"}},"required":["name","path","type","size","mtime"]}},
              "truncated":{"type":"boolean","description":"The directory has more entries than were listed."}
            },"required":["path","entries","truncated"]}
            """,
            readOnly: true, idempotent: true),
    ];

    private static Definition Define(string name, string title, string description, string inputSchema, string? outputSchema, bool readOnly, bool idempotent) =>
        new(name, title, description, Parse(inputSchema), outputSchema is null ? null : Parse(outputSchema), readOnly, idempotent);

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
