using System.Diagnostics;

namespace AgenticGateway.Images;

/// <summary>Runs the host tools an image build uses (apt, dpkg-deb, debootstrap, mke2fs, xz), failing with their stderr.</summary>
internal static class Tools
{
    public static string Run(string file, IEnumerable<string> args, bool allowFailure = false, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && !allowFailure)
        {
            var message = stderr.Result.Trim();
            if (message.Length > 2000) message = "..." + message[^2000..];
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {message}");
        }
        return stdout;
    }

    /// <summary>Feeds <paramref name="input"/> to a filter and writes its output to a file; false when it fails.</summary>
    public static bool Pipe(string file, IEnumerable<string> args, ReadOnlyMemory<byte> input, string outputFile)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {file}");
        _ = process.StandardError.ReadToEndAsync();
        // Trailing bytes after the stream make the tool complain and exit non-zero once the output is complete:
        // a broken pipe on our side is then expected.
        var feed = Task.Run(() =>
        {
            try { process.StandardInput.BaseStream.Write(input.Span); process.StandardInput.Close(); }
            catch (IOException) { }
        });
        using (var output = File.Create(outputFile)) process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        feed.Wait();
        return new FileInfo(outputFile).Length > 0;
    }
}
