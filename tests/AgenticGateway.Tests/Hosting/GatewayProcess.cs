using System.Diagnostics;
using System.Text;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Hosting;

/// <summary>What a run of the built gateway did: whether it exited, its exit code (-1 when stopped), and what it wrote.</summary>
internal sealed record GatewayRun(bool Exited, int Code, string Output);

/// <summary>Runs the built gateway as a process, in its own data directory and without the test process's gateway variables.</summary>
internal static class GatewayProcess
{
    private static readonly string[] ClearedVariables =
        ["AGW_URLS", "AGW_INSECURE", "AGW_CONFIG", "AGW_MASTER_KEY", "LITELLM_MASTER_KEY", "DATABASE_URL", "REDIS_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "AGW_MODEL_COST_MAP"];

    /// <summary>
    /// Runs the gateway until it exits or <paramref name="until"/> appears (then runs <paramref name="whileRunning"/> and
    /// stops it). <paramref name="prepare"/> gets the run's temporary directory and returns arguments to put first.
    /// </summary>
    public static async Task<GatewayRun> RunAsync(string tempPrefix, string[] args, Dictionary<string, string?>? env = null, string until = "listening on",
        Func<string, Task>? whileRunning = null, Func<DirectoryInfo, Task<string[]>>? prepare = null)
    {
        var dir = Directory.CreateTempSubdirectory(tempPrefix);
        try
        {
            string[] first = prepare is null ? [] : await prepare(dir);
            var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])[GatewayDll(), .. first, .. args]) info.ArgumentList.Add(a);
            foreach (var name in ClearedVariables) info.Environment.Remove(name);
            info.Environment["AGW_DATA_DIR"] = Path.Combine(dir.FullName, "data");
            foreach (var (k, v) in env ?? []) info.Environment[k] = v;
            var output = new StringBuilder();
            var seen = new TaskCompletionSource();
            using var process = new Process { StartInfo = info };
            void Collect(string? line)
            {
                if (line is null) return;
                lock (output) output.AppendLine(line);
                if (line.Contains(until, StringComparison.Ordinal)) seen.TrySetResult();
            }
            process.OutputDataReceived += (_, e) => Collect(e.Data);
            process.ErrorDataReceived += (_, e) => Collect(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await Task.WhenAny(seen.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
                var exited = process.HasExited;
                if (!exited && whileRunning is not null)
                {
                    string text;
                    lock (output) text = output.ToString();
                    await whileRunning(text);
                }
                if (!exited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                lock (output) return new GatewayRun(exited, exited ? process.ExitCode : -1, output.ToString());
            }
            finally
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
