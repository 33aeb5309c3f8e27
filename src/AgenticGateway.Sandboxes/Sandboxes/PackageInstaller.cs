using System.Text;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Seed 000's <c>packages: [...]</c>: installed into the sandbox's home at create time, by pip from the local package
/// cache (mounted at /opt/agw-packages) or by pip/npm through the egress proxy when the network policy allows it.
/// </summary>
internal static class PackageInstaller
{
    public static async Task InstallAsync(AgentConnection agent, SandboxSpec spec, SandboxOptions options, CancellationToken cancellationToken)
    {
        var quoted = string.Join(' ', spec.Packages.Select(p => "'" + p + "'"));
        var offline = spec.Network.Mode == NetworkMode.None;
        // --user goes to the sandbox's own home (a throwaway tmpfs), which Debian's PEP 668 marker does not know:
        // nothing system-wide is touched, so overriding the marker is safe here.
        const string pip = "python3 -m pip install --user --break-system-packages --no-warn-script-location";
        var command = spec.Runtime switch
        {
            "node" => $"npm install --no-audit --no-fund --no-update-notifier --prefix /home/user {quoted}",
            _ => offline
                ? $"{pip} --no-index --find-links /opt/agw-packages {quoted}"
                : $"{pip} {quoted}",
        };
        var call = agent.Start(AgentOps.ProcessStart, w =>
        {
            w.WriteString("cmd", command);
            w.WriteNumber("timeout_ms", 300_000);
            w.WriteNumber("max_output_bytes", 256 * 1024);
        });
        var output = new StringBuilder();
        await foreach (var e in call.Events.ReadAllAsync(cancellationToken))
        {
            switch (e.Type)
            {
                case "stdout" or "stderr":
                    if (output.Length < 64 * 1024) output.Append(e.String("data"));
                    break;
                case "error":
                    throw new SandboxStartError(new ApiError(503, $"Installing packages failed: {e.String("message")}", "service_unavailable", "package_install_failed"));
                case "done":
                    var exit = e.Body.TryGetProperty("exit_code", out var code) && code.ValueKind == System.Text.Json.JsonValueKind.Number ? code.GetInt32() : -1;
                    if (exit != 0)
                    {
                        var tail = output.ToString();
                        if (tail.Length > 2000) tail = tail[^2000..];
                        throw new SandboxStartError(new ApiError(400, $"Installing packages failed (exit code {exit}): {tail.Trim()}", "invalid_request_error", "package_install_failed", "packages"));
                    }
                    return;
            }
        }
    }
}
