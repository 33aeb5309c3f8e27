using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;

namespace AgenticGateway.Tests.Support;

/// <summary>
/// The Node side of the MCP tests (tests/AgenticGateway.Tests/Mcp/node, <see cref="NodeProject.Mcp"/>): upstream servers
/// and clients written on the official TypeScript SDK (@modelcontextprotocol/sdk) and the MCP Inspector CLI, pinned in
/// its package-lock.json.
/// </summary>
internal static class NodeMcp
{
    /// <summary>How long one client or Inspector run may take before it is killed.</summary>
    public static readonly TimeSpan DefaultRunTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The folder of the scripts and their node_modules, in the source tree (the scripts import from it).</summary>
    public static string ScriptDirectory => NodeProject.Mcp.Directory;

    public static string Node => NodeProject.Node;

    /// <summary>Installs node_modules if it is missing or older than package-lock.json. Every helper here calls it.</summary>
    public static Task EnsureInstalledAsync() => NodeProject.Mcp.EnsureInstalledAsync();

    /// <summary>
    /// The stdio test server's command line for a gateway's config (the program, then its arguments). Its environment:
    /// MCP_TEST_SECRET (returned by the tool whoami), MCP_MUTABLE_FILE (the tool mutable's description, re-read on every
    /// tools/list: rewrite the file to change the definition without any notification).
    /// </summary>
    public static async Task<IReadOnlyList<string>> StdioServerCommandAsync(string? name = null)
    {
        await EnsureInstalledAsync();
        List<string> command = [Node, Path.Combine(ScriptDirectory, "stdio-server.mjs")];
        if (name is not null)
            command.AddRange(["--name", name]);
        return command;
    }

    /// <summary>The C# SDK's transport to the stdio test server, with exactly <paramref name="environment"/> besides PATH.</summary>
    public static async Task<StdioClientTransport> StdioTransportAsync(IReadOnlyDictionary<string, string?>? environment = null, string? name = null)
    {
        var command = await StdioServerCommandAsync(name);
        var variables = new Dictionary<string, string?> { ["PATH"] = Environment.GetEnvironmentVariable("PATH") };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            variables[key] = value;
        return new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = name ?? "node-stdio",
            Command = command[0],
            Arguments = [.. command.Skip(1)],
            WorkingDirectory = ScriptDirectory,
            InheritEnvironmentVariables = false,
            EnvironmentVariables = variables,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        });
    }

    /// <summary>Starts http-server.mjs on a free loopback port: sessions by default, a fresh server per request when stateless.</summary>
    public static Task<NodeMcpHttpServer> StartHttpServerAsync(bool stateless = false, string? name = null) =>
        NodeMcpHttpServer.StartAsync(stateless, name);

    /// <summary>
    /// One request through the TypeScript SDK's Client (client.mjs): <paramref name="command"/> is <c>info</c>,
    /// <c>list-tools</c>, <c>call NAME JSON</c>, <c>list-resources</c>, <c>read-resource URI</c>, <c>list-prompts</c> or
    /// <c>get-prompt NAME JSON</c>. Json is the result, or <c>{"error":{"code","message"}}</c> with exit code 1.
    /// </summary>
    /// <param name="transport"><c>http</c> (Streamable HTTP) or <c>sse</c> (the legacy transport; the URL is then the /sse one).</param>
    /// <param name="headers">"Name: value" pairs sent on every request.</param>
    public static async Task<NodeRun> ClientAsync(
        string url, IEnumerable<string> command, IEnumerable<string>? headers = null, string transport = "http", TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultRunTimeout;
        List<string> arguments = [Path.Combine(ScriptDirectory, "client.mjs"), "--url", url, "--transport", transport,
            "--timeout", ((int)limit.TotalMilliseconds).ToString()];
        foreach (var header in headers ?? [])
            arguments.AddRange(["--header", header]);
        arguments.AddRange(command);
        await EnsureInstalledAsync();
        return await NodeRun.RunAsync(Node, arguments, limit + TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// The MCP Inspector CLI (<c>inspector --cli</c>) with <paramref name="arguments"/>, <c>--format json</c> added: Json
    /// is <c>{"result":…}</c> from stdout, or on failure <c>{"error":{"code","message"}}</c> from stderr. Exit codes:
    /// 0 success, 1 error, 5 a tools/call whose result has isError. It runs with a private HOME, so no catalog, stored
    /// OAuth token or client config of the machine's user is read or written.
    /// </summary>
    public static async Task<NodeRun> InspectorAsync(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        await EnsureInstalledAsync();
        using var home = new TempDirectory("agw-inspector-");
        List<string> command = [Path.Combine(ScriptDirectory, "node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"),
            "--cli", .. arguments, "--format", "json"];
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home.Path,
            ["MCP_CATALOG_PATH"] = Path.Combine(home.Path, "mcp.json"),
            ["MCP_CLIENT_CONFIG_PATH"] = Path.Combine(home.Path, "client.json"),
        };
        return await NodeRun.RunAsync(Node, command, timeout ?? DefaultRunTimeout, environment);
    }

    /// <summary>Inspector: tools/list over Streamable HTTP.</summary>
    /// <param name="headers">"Name: value" pairs sent on every request.</param>
    /// <param name="protocolEra">
    /// <c>legacy</c> (the default: initialize and sessions), <c>modern</c> (2026-07-28 only: server/discover, stateless)
    /// or <c>auto</c> (modern, falling back to legacy).
    /// </param>
    public static Task<NodeRun> InspectorListToolsAsync(string url, IEnumerable<string>? headers = null, string? protocolEra = null) =>
        InspectorAsync([url, .. InspectorHttpArguments(headers, protocolEra), "--method", "tools/list"]);

    /// <summary>Inspector: tools/call over Streamable HTTP, arguments as key=value (coerced by the tool's input schema).</summary>
    public static Task<NodeRun> InspectorCallToolAsync(
        string url, string tool, IEnumerable<string> keyValues, IEnumerable<string>? headers = null, string? protocolEra = null)
    {
        List<string> arguments = [url, .. InspectorHttpArguments(headers, protocolEra), "--method", "tools/call", "--tool-name", tool];
        var pairs = keyValues.ToList();
        // --tool-arg takes several pairs; it comes last so it cannot swallow another argument.
        if (pairs.Count > 0)
            arguments.AddRange(["--tool-arg", .. pairs]);
        return InspectorAsync(arguments);
    }

    private static List<string> InspectorHttpArguments(IEnumerable<string>? headers, string? protocolEra)
    {
        // --stored-auth-only: a 401 fails the run instead of starting an interactive OAuth login.
        List<string> arguments = ["--transport", "http", "--stored-auth-only"];
        foreach (var header in headers ?? [])
            arguments.AddRange(["--header", header]);
        if (protocolEra is not null)
            arguments.AddRange(["--protocol-era", protocolEra]);
        return arguments;
    }
}

/// <summary>A finished run of a Node program: exit code, output, and its JSON answer.</summary>
internal sealed record NodeRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The last JSON line of stdout, or of stderr where stdout has none (the Inspector reports errors there).</summary>
    public JsonElement Json => LastJson(Stdout) ?? LastJson(Stderr)
        ?? throw new InvalidOperationException($"no JSON in the output (exit code {ExitCode}):\n{Stdout}\n{Stderr}");

    public override string ToString() => $"exit code {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";

    private static JsonElement? LastJson(string output)
    {
        var text = output.Trim();
        if (text.Length == 0)
            return null;
        // The Inspector prints one (possibly pretty-printed) object; client.mjs one line after any warnings.
        foreach (var candidate in new[] { text }.Concat(text.Split('\n').Reverse()))
        {
            try
            {
                using var document = JsonDocument.Parse(candidate);
                return document.RootElement.Clone();
            }
            catch (JsonException)
            {
            }
        }
        return null;
    }

    /// <summary>Runs a program to its end, or kills it (with its children) after <paramref name="timeout"/> and throws.</summary>
    public static async Task<NodeRun> RunAsync(
        string program, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? NodeMcp.ScriptDirectory,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            info.Environment[key] = value;

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + program);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException(
                $"{program} {string.Join(' ', info.ArgumentList)} took longer than {timeout.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return new NodeRun(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// http-server.mjs as a child process on a loopback port. It exits when this test process's end of its stdin closes,
/// so a killed test host leaves no server behind; disposing kills it at once.
/// </summary>
internal sealed class NodeMcpHttpServer : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(30);
    private static readonly HttpClient Admin = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly string? _name;
    private readonly StringBuilder _stderr = new();
    private Process? _process;

    private NodeMcpHttpServer(bool stateless, string? name)
    {
        Stateless = stateless;
        _name = name;
    }

    public bool Stateless { get; }
    public int Port { get; private set; }
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");
    /// <summary>The Streamable HTTP endpoint.</summary>
    public Uri Url => new(BaseUrl, "/mcp");
    /// <summary>The legacy HTTP+SSE endpoint (messages are posted to /messages).</summary>
    public Uri SseUrl => new(BaseUrl, "/sse");

    /// <summary>What the server wrote to stderr (the last part): its start line and any failure.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    internal static async Task<NodeMcpHttpServer> StartAsync(bool stateless, string? name)
    {
        await NodeMcp.EnsureInstalledAsync();
        var server = new NodeMcpHttpServer(stateless, name);
        try
        {
            await server.LaunchAsync(port: 0);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>Sets the tool mutable's description; connected sessions are sent notifications/tools/list_changed. Returns how many.</summary>
    public async Task<int> SetMutableDescriptionAsync(string description)
    {
        using var response = await Admin.PostAsync(new Uri(BaseUrl, "/admin/mutable"), new StringContent(description, Encoding.UTF8, "text/plain"));
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("notified").GetInt32();
    }

    /// <summary>The headers (names in lower case) of the last POST the server received on /mcp or /messages.</summary>
    public async Task<IReadOnlyDictionary<string, string>> LastHeadersAsync()
    {
        using var document = JsonDocument.Parse(await Admin.GetStringAsync(new Uri(BaseUrl, "/admin/headers")));
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString());
    }

    /// <summary>How many JSON-RPC requests of <paramref name="method"/> the server received (all instances since start).</summary>
    public async Task<int> RequestCountAsync(string method)
    {
        using var document = JsonDocument.Parse(await Admin.GetStringAsync(new Uri(BaseUrl, "/admin/stats")));
        return document.RootElement.GetProperty("methods").TryGetProperty(method, out var count) ? count.GetInt32() : 0;
    }

    /// <summary>Kills the server (SIGKILL), as an upstream that crashed: connections drop, new ones are refused.</summary>
    public Task KillAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
            return Task.CompletedTask;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        process.WaitForExit(10_000);
        process.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Starts the server again on the same port (killing it first if it runs), with no sessions and default state.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
        await LaunchAsync(Port);
    }

    public ValueTask DisposeAsync() => new(KillAsync());

    private async Task LaunchAsync(int port)
    {
        var info = new ProcessStartInfo(NodeMcp.Node)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodeMcp.ScriptDirectory,
        };
        info.ArgumentList.Add(Path.Combine(NodeMcp.ScriptDirectory, "http-server.mjs"));
        info.ArgumentList.Add(port.ToString());
        info.ArgumentList.Add("--exit-with-stdin");
        if (Stateless)
            info.ArgumentList.Add("--stateless");
        if (_name is not null)
        {
            info.ArgumentList.Add("--name");
            info.ArgumentList.Add(_name);
        }

        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("LISTENING ", StringComparison.Ordinal) == true)
                listening.TrySetResult(int.Parse(e.Data["LISTENING ".Length..]));
        };
        process.ErrorDataReceived += (_, e) => AppendStderr(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("http-server.mjs exited while starting"));
        process.Start();
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            Port = await listening.Task.WaitAsync(StartupTimeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await KillAsync();
            throw new InvalidOperationException($"http-server.mjs did not start listening ({e.Message}):\n{Stderr}", e);
        }
    }

    private void AppendStderr(string? line)
    {
        if (line is null)
            return;
        lock (_stderr)
        {
            _stderr.AppendLine(line);
            if (_stderr.Length > 16_000)
                _stderr.Remove(0, _stderr.Length - 16_000);
        }
    }
}
