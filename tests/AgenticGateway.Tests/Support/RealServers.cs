using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace AgenticGateway.Tests.Support;

/// <summary>
/// A private redis-server child process on a free loopback port, without persistence (--save "", no AOF).
/// Tests that only need a Redis use <see cref="SharedAsync"/> and isolate themselves by key prefix;
/// tests that stop or restart the server start their own with <see cref="StartAsync"/>.
/// </summary>
internal sealed class RedisInstance : IAsyncDisposable
{
    private static readonly Lazy<Task<RedisInstance>> Shared = new(StartAsync);

    private readonly string _binary;
    private readonly string _directory;
    private ChildProcess? _process;
    private ExitGuard? _guard;

    private RedisInstance(string binary, string directory, int port)
    {
        _binary = binary;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts a new server and waits until it answers PING; fails if redis-server is not installed.</summary>
    public static async Task<RedisInstance> StartAsync()
    {
        var binary = LocalServers.Require("redis-server", [.. LocalServers.PathDirectories(), "/usr/bin"], "redis-server");
        var instance = new RedisInstance(binary, Directory.CreateTempSubdirectory("agw-redis-").FullName, LocalServers.FreePort());
        try
        {
            await instance.RestartAsync();
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
        return instance;
    }

    /// <summary>One server for the whole test process, started on first use and killed when the process ends. Never stop or dispose it.</summary>
    public static Task<RedisInstance> SharedAsync() => Shared.Value;

    /// <summary>Kills the server (SIGKILL), as if Redis went down: connections drop and new ones are refused.</summary>
    public Task StopAsync()
    {
        _guard?.Cancel();
        _guard = null;
        _process?.Kill();
        _process = null;
        return Task.CompletedTask;
    }

    /// <summary>Starts the server again on the same port (killing it first if it runs); it starts empty.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        _process = ChildProcess.Start(
            [_binary, "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory]);
        _guard = ExitGuard.Start(_directory, ["kill", "-KILL", _process.Id.ToString()]);
        await _process.WaitUntilReadyAsync("redis-server on " + Endpoint, PingAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        LocalServers.DeleteDirectory(_directory);
    }

    /// <summary>Throws unless the server answers +PONG on a raw connection.</summary>
    private async Task PingAsync(CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
        var buffer = new byte[64];
        var reply = Encoding.ASCII.GetString(buffer, 0, await stream.ReadAsync(buffer, cancellationToken));
        if (!reply.StartsWith("+PONG", StringComparison.Ordinal))
            throw new InvalidOperationException("PING answered: " + reply.Trim());
    }
}

/// <summary>
/// A private PostgreSQL cluster (initdb into a temporary directory, postgres as a child process on a free loopback port),
/// one per test process; every test takes its own fresh database from <see cref="CreateDatabaseAsync"/>.
/// </summary>
internal sealed class PostgresInstance
{
    private const string Superuser = "postgres";
    private static readonly Lazy<Task<PostgresInstance>> Shared = new(StartAsync);

    private readonly string _binDirectory;
    private readonly string _root;
    private readonly bool _asPostgresUser;

    private PostgresInstance(string binDirectory, string root, int port, bool asPostgresUser)
    {
        _binDirectory = binDirectory;
        _root = root;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_root, "data");

    /// <summary>The cluster of this test process, started on first use; stopped and deleted when the process ends.</summary>
    public static Task<PostgresInstance> SharedAsync() => Shared.Value;

    /// <summary>Creates a new, uniquely named, empty database and returns an Npgsql connection string for it.</summary>
    public async Task<string> CreateDatabaseAsync(string? prefix = null)
    {
        var name = DatabaseName(prefix);
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: true));
        await connection.OpenAsync();
        // The name is made of [a-z0-9_] only, so quoting it is enough.
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name, pooling: true);
    }

    private static async Task<PostgresInstance> StartAsync()
    {
        var binDirectory = FindBinDirectory();
        // PostgreSQL refuses to run as root, so as root the cluster belongs to (and runs as) the postgres system user.
        var asPostgresUser = Environment.IsPrivilegedProcess;
        if (asPostgresUser)
            EnsurePostgresUser();
        // As root, TMPDIR may be private to root; /tmp is reachable by the postgres user.
        var root = Path.Combine(asPostgresUser ? "/tmp" : Path.GetTempPath(), "agw-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        if (asPostgresUser)
            ChildProcess.Run(["chown", $"{Superuser}:", root]);

        var instance = new PostgresInstance(binDirectory, root, LocalServers.FreePort(), asPostgresUser);
        // From here on, when this process ends (however it ends) the server gets an immediate shutdown, which
        // also frees its shared memory, and the directory is deleted. pg_ctl does nothing if no server runs.
        var guard = ExitGuard.Start(root, instance.Command("pg_ctl", "stop", "-D", instance.DataDirectory, "-m", "immediate", "-w", "-t", "10"));
        try
        {
            await instance.InitAndStartAsync();
        }
        catch
        {
            guard.Trigger();
            throw;
        }
        return instance;
    }

    private async Task InitAndStartAsync()
    {
        // initdb takes a few seconds of blocking work; keep it off the caller's thread.
        await Task.Run(() => ChildProcess.Run(
            Command("initdb", "-D", DataDirectory, "-A", "trust", "-U", Superuser, "--no-sync", "-E", "UTF8", "--locale=C"), _root));

        // The socket directory is the (private) root, so nothing is written to /var/run/postgresql.
        var server = ChildProcess.Start(
            Command("postgres", "-D", DataDirectory, "-p", Port.ToString(), "-k", _root, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"),
            _root);
        await server.WaitUntilReadyAsync($"postgres on 127.0.0.1:{Port}", async cancellationToken =>
        {
            await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false));
            await connection.OpenAsync(cancellationToken);
        });
    }

    /// <summary>The command line running a PostgreSQL tool, through <c>runuser -u postgres --</c> when this process is root.</summary>
    private List<string> Command(string tool, params string[] arguments)
    {
        List<string> command = _asPostgresUser ? [LocalServers.RunUser.Value, "-u", Superuser, "--"] : [];
        command.Add(Path.Combine(_binDirectory, tool));
        command.AddRange(arguments);
        return command;
    }

    private string ConnectionString(string database, bool pooling) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Database = database,
        Pooling = pooling,
    }.ConnectionString;

    /// <summary>prefix (reduced to [a-z0-9_]) + a GUID, within PostgreSQL's 63-character identifier limit.</summary>
    private static string DatabaseName(string? prefix)
    {
        var clean = new string((prefix ?? "test").ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        return $"{(clean.Length > 30 ? clean[..30] : clean)}_{Guid.NewGuid():N}";
    }

    /// <summary>The newest /usr/lib/postgresql/VERSION/bin holding initdb, pg_ctl and postgres (the Debian layout), else PATH.</summary>
    private static string FindBinDirectory()
    {
        string[] tools = ["initdb", "pg_ctl", "postgres"];
        var versioned = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(dir => (Version: ParseVersion(Path.GetFileName(dir)), Bin: Path.Combine(dir, "bin")))
                .Where(candidate => candidate.Version is not null)
                .OrderByDescending(candidate => candidate.Version)
                .Select(candidate => candidate.Bin)
            : [];
        var directories = versioned.Concat(LocalServers.PathDirectories()).ToList();
        var found = directories.FirstOrDefault(dir => tools.All(tool => File.Exists(Path.Combine(dir, tool))));
        if (found is not null)
            return found;

        var missing = tools.Where(tool => !directories.Any(dir => File.Exists(Path.Combine(dir, tool)))).ToList();
        throw new InvalidOperationException(
            $"PostgreSQL server binaries not found: {(missing.Count > 0 ? string.Join(", ", missing) : "initdb, pg_ctl and postgres in one directory")} " +
            "(looked in /usr/lib/postgresql/*/bin and on PATH). Install the Debian package postgresql; scripts/test.sh does.");
    }

    private static Version? ParseVersion(string name) => Version.TryParse(name.Contains('.') ? name : name + ".0", out var version) ? version : null;

    /// <summary>Debian's postgresql package creates the user; elsewhere a system user is created here.</summary>
    private static void EnsurePostgresUser()
    {
        if (File.ReadLines("/etc/passwd").Any(line => line.StartsWith(Superuser + ":", StringComparison.Ordinal)))
            return;
        ChildProcess.Run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", Superuser]);
    }
}

/// <summary>Plumbing shared by the real servers: binaries, ports and directories.</summary>
internal static class LocalServers
{
    /// <summary>runuser (util-linux), which runs the PostgreSQL tools as the postgres user when the tests run as root.</summary>
    public static readonly Lazy<string> RunUser = new(() => Require("runuser", [.. PathDirectories(), "/usr/sbin", "/sbin"], "util-linux"));

    public static IEnumerable<string> PathDirectories() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The full path of <paramref name="name"/> in the first directory holding it; throws, naming the binary and package, if none does.</summary>
    public static string Require(string name, IEnumerable<string> directories, string debianPackage)
    {
        var searched = directories.ToList();
        return searched.Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"{name} not found (looked in {string.Join(", ", searched.Distinct())}). " +
                $"Install the Debian package {debianPackage}; scripts/test.sh does.");
    }

    /// <summary>A loopback port that was free a moment ago (the OS picks it; the listener is closed again).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
    }
}

/// <summary>
/// A watchdog shell that stops a server and deletes its directory once this test process is gone. It blocks reading a pipe
/// from this process, which reaches end-of-file when this process ends in any way, even killed: the test host is killed
/// about 100 ms after the run, too soon for cleanup in a ProcessExit handler, so the handler only triggers the guards.
/// </summary>
internal sealed class ExitGuard
{
    // $1 is the directory, the rest the stop command. Output goes to /dev/null first: the pipes to this process will break.
    private const string Script = """exec >/dev/null 2>&1; read -r _; dir=$1; shift; "$@"; rm -rf -- "$dir" """;

    private static readonly ConcurrentDictionary<ExitGuard, bool> Live = new();

    private readonly Process _process;

    static ExitGuard() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var guard in Live.Keys)
            guard.Trigger();
    };

    private ExitGuard(Process process) => _process = process;

    public static ExitGuard Start(string directory, IEnumerable<string> stopCommand)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-c", Script, "agw-exit-guard", directory }.Concat(stopCommand))
            info.ArgumentList.Add(argument);
        var guard = new ExitGuard(Process.Start(info) ?? throw new InvalidOperationException("could not start /bin/sh"));
        Live[guard] = true;
        return guard;
    }

    /// <summary>Runs the cleanup now (in the background).</summary>
    public void Trigger()
    {
        Live.TryRemove(this, out _);
        try
        {
            _process.StandardInput.Close();
        }
        catch (Exception)
        {
            // Best effort (it may run while the process exits); the pipe closes with this process anyway.
        }
    }

    /// <summary>Ends the guard without cleanup: the owner stopped its server itself.</summary>
    public void Cancel()
    {
        Live.TryRemove(this, out _);
        _process.Kill();
        _process.WaitForExit(5_000);
    }
}

/// <summary>A child process whose stdout and stderr are collected (the last part) to explain a failure.</summary>
internal sealed class ChildProcess
{
    private const int MaxOutput = 16_000;
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChildProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <param name="command">The program, then its arguments.</param>
    public static ChildProcess Start(IReadOnlyList<string> command, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in command.Skip(1))
            info.ArgumentList.Add(argument);

        var child = new ChildProcess(new Process { StartInfo = info });
        child._process.OutputDataReceived += (_, e) => child.Append(e.Data);
        child._process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs a command to completion; throws with its output if it fails or takes longer than the startup timeout.</summary>
    public static string Run(IReadOnlyList<string> command, string? workingDirectory = null)
    {
        var child = Start(command, workingDirectory);
        if (!child._process.WaitForExit(StartupTimeout))
        {
            child.Kill();
            throw new TimeoutException($"{string.Join(' ', command)} did not finish within {StartupTimeout.TotalSeconds} s:\n{child.Output}");
        }
        child._process.WaitForExit(); // lets the output handlers finish
        if (child._process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed with exit code {child._process.ExitCode}:\n{child.Output}");
        return child.Output;
    }

    /// <summary>
    /// Calls <paramref name="probe"/> until it completes without throwing. Fails, with the server's output, when the process
    /// exits first or the startup timeout passes (then the process is killed).
    /// </summary>
    public async Task WaitUntilReadyAsync(string server, Func<CancellationToken, Task> probe)
    {
        var clock = Stopwatch.StartNew();
        Exception? lastError = null;
        while (clock.Elapsed < StartupTimeout)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(5_000);
                throw new InvalidOperationException($"{server} exited with code {_process.ExitCode} while starting:\n{Output}");
            }
            using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await probe(attempt.Token);
                return;
            }
            catch (Exception e)
            {
                lastError = e;
            }
            await Task.Delay(50);
        }
        Kill();
        throw new TimeoutException(
            $"{server} was not ready within {StartupTimeout.TotalSeconds} s (last attempt: {lastError?.Message}):\n{Output}");
    }

    /// <summary>Kills the process and its descendants (runuser forks the real server) and waits for them to go.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        _process.WaitForExit(10_000);
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.AppendLine(line);
            if (_output.Length > MaxOutput)
                _output.Remove(0, _output.Length - MaxOutput);
        }
    }
}
