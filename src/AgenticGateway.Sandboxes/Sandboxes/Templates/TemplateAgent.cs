using System.Collections.Immutable;
using System.Text.Json;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// What building and starting templates ask of a sandbox's agent: run a command, move a tar archive in or out, unpack
/// one into the home. Everything goes through the agent protocol, so it works the same on every driver (bubblewrap,
/// QEMU, Firecracker) without reaching into a sandbox's file system from the host.
/// </summary>
internal static class TemplateAgent
{
    private const int WriteChunk = 4 << 20;   // within the protocol's 8 MiB, as base64 in one JSON line
    private const int ReadChunk = 4 << 20;    // the protocol's most per fs.read

    /// <summary>Runs <paramref name="command"/> with bash; its output goes to <paramref name="output"/> as it comes. The exit code, or -1 when it was killed.</summary>
    public static async Task<int> RunAsync(AgentConnection agent, string command, string? cwd, IReadOnlyDictionary<string, string> env, TimeSpan timeout,
        Action<string, bool>? output, CancellationToken cancellationToken)
    {
        var call = agent.Start(AgentOps.ProcessStart, w =>
        {
            w.WriteString("cmd", command);
            if (cwd is not null) w.WriteString("cwd", cwd);
            w.WriteNumber("timeout_ms", (long)timeout.TotalMilliseconds);
            w.WriteNumber("max_output_bytes", 1 << 20);
            if (env.Count > 0)
            {
                w.WriteStartObject("env");
                foreach (var (k, v) in env) w.WriteString(k, v);
                w.WriteEndObject();
            }
        });
        using var cancel = cancellationToken.Register(call.Cancel);
        await foreach (var e in call.Events.ReadAllAsync(cancellationToken))
        {
            switch (e.Type)
            {
                case "stdout" or "stderr":
                    output?.Invoke(e.String("data") ?? "", e.Type == "stderr");
                    break;
                case "error":
                    throw AgentConnection.ToException(e);
                case "done":
                    return e.Body.TryGetProperty("exit_code", out var code) && code.ValueKind == JsonValueKind.Number ? code.GetInt32() : -1;
            }
        }
        throw new AgentException("sandbox_gone", "the sandbox ended during the command");
    }

    /// <summary>Writes a host file into the sandbox at <paramref name="path"/>, in chunks of one upload.</summary>
    public static async Task PutAsync(AgentConnection agent, string hostFile, string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(hostFile);
        var upload = Guid.NewGuid().ToString("N");
        var buffer = new byte[WriteChunk];
        long offset = 0;
        while (true)
        {
            var read = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            var final = read < buffer.Length || file.Position == file.Length;
            var data = Convert.ToBase64String(buffer, 0, read);
            var at = offset;
            await agent.CallAsync(AgentOps.FsWrite, w =>
            {
                w.WriteString("path", path);
                w.WriteString("data_b64", data);
                w.WriteNumber("offset", at);
                w.WriteBoolean("final", final);
                w.WriteString("upload", upload);
            }, cancellationToken);
            offset += read;
            if (final) return;
        }
    }

    /// <summary>Reads a sandbox file into <paramref name="destination"/>; false when it is larger than <paramref name="maxBytes"/>.</summary>
    public static async Task<bool> GetAsync(AgentConnection agent, string path, Stream destination, long maxBytes, CancellationToken cancellationToken)
    {
        long offset = 0;
        while (true)
        {
            var at = offset;
            var done = await agent.CallAsync(AgentOps.FsRead, w => { w.WriteString("path", path); w.WriteNumber("offset", at); w.WriteNumber("length", ReadChunk); }, cancellationToken);
            if (done.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Number && size.GetInt64() > maxBytes) return false;
            var data = done.GetProperty("data_b64").GetBytesFromBase64();
            await destination.WriteAsync(data, cancellationToken);
            offset += data.Length;
            if (data.Length == 0 || done.TryGetProperty("eof", out var eof) && eof.ValueKind == JsonValueKind.True) return true;
        }
    }

    /// <summary>Unpacks a host tar archive into <paramref name="directory"/> inside the sandbox, as the sandbox user.</summary>
    public static async Task ExtractAsync(AgentConnection agent, string hostTar, string directory, CancellationToken cancellationToken)
    {
        var staged = "/tmp/.agw-template-" + Guid.NewGuid().ToString("N") + ".tar";
        await PutAsync(agent, hostTar, staged, cancellationToken);
        var output = new System.Text.StringBuilder();
        var exit = await RunAsync(agent, $"mkdir -p {Quote(directory)} && tar -xf {staged} -C {Quote(directory)} --no-same-owner --no-same-permissions; s=$?; rm -f {staged}; exit $s",
            null, ImmutableDictionary<string, string>.Empty, TimeSpan.FromMinutes(5), (text, _) => { if (output.Length < 4096) output.Append(text); }, cancellationToken);
        if (exit != 0) throw new AgentException(AgentErrors.Internal, $"unpacking into {directory} failed (exit code {exit}): {output.ToString().Trim()}");
    }

    /// <summary>
    /// Starts a sandbox from a template: its layer unpacked into the home (unless the VM booted with it), the runtime's interpreter restarted in the
    /// template's working directory with its environment (and so with any user packages the layer installed on its
    /// path), and the start command started in the background.
    /// </summary>
    /// <param name="homeInPlace">The VM booted from the template's boot image (<see cref="TemplateImages"/>): the home is there already.</param>
    public static async Task ApplyAsync(AgentConnection agent, SandboxTemplate template, string runtime, IReadOnlyDictionary<string, string> env, bool homeInPlace,
        CancellationToken cancellationToken)
    {
        if (!homeInPlace) await ExtractAsync(agent, template.LayerFile, TemplatePaths.Home, cancellationToken);
        // Python adds the user site directory to sys.path only if it exists at start, and a context's cwd and env are
        // fixed when it starts: start the runtime's context again, now that the layer is there.
        try { await agent.CallAsync(AgentOps.ContextRemove, w => w.WriteString("context", runtime), cancellationToken); }
        catch (AgentException ex) when (ex.Code == AgentErrors.NotFound) { }
        await agent.CallAsync(AgentOps.ContextCreate, w =>
        {
            w.WriteString("context", runtime);
            w.WriteString("language", runtime);
            w.WriteString("cwd", template.Workdir);
            if (env.Count > 0)
            {
                w.WriteStartObject("env");
                foreach (var (k, v) in env) w.WriteString(k, v);
                w.WriteEndObject();
            }
        }, cancellationToken);
        if (template.StartCommand is { } start)
        {
            var call = agent.Start(AgentOps.ProcessStart, w =>
            {
                w.WriteString("cmd", start);
                w.WriteString("cwd", template.Workdir);
                w.WriteString("tag", "template-start");
                w.WriteNumber("max_output_bytes", 64 * 1024);
                if (env.Count > 0)
                {
                    w.WriteStartObject("env");
                    foreach (var (k, v) in env) w.WriteString(k, v);
                    w.WriteEndObject();
                }
            });
            // The first event says whether it started; a start command that cannot start fails the sandbox's start.
            var first = await call.Events.ReadAsync(cancellationToken);
            if (first.Type == "error")
                throw new AgentException(AgentErrors.Invalid, $"the template's start command did not start: {first.String("message")}");
            _ = DrainAsync(call);
        }
    }

    /// <summary>A background process's events are read to its end, so the connection never holds them.</summary>
    private static async Task DrainAsync(AgentCall call)
    {
        try { await foreach (var _ in call.Events.ReadAllAsync()) { } }
        catch (Exception ex) when (ex is AgentException or OperationCanceledException or System.Threading.Channels.ChannelClosedException) { }
    }

    public static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
}

/// <summary>What a sandbox created from a template starts with (resolved for its owner when the create is parsed).</summary>
internal sealed record SandboxTemplate(string Id, string Name, string Runtime, string LayerFile, ImmutableDictionary<string, string> Env, string Workdir, string? StartCommand)
{
    /// <summary>A create request's spec started from this template: its runtime, its environment under the request's own.</summary>
    public SandboxSpec ApplyTo(SandboxSpec spec) => spec with { Runtime = Runtime, Env = Env.SetItems(spec.Env), Template = this };

    /// <summary>The layer's digest: the name of the directory its file is in, which boot images are keyed and removed by.</summary>
    public string LayerDigest => Path.GetFileName(Path.GetDirectoryName(LayerFile))!;
}
