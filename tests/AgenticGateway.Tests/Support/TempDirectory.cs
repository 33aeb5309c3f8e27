namespace AgenticGateway.Tests.Support;

/// <summary>A fresh temporary directory for one test, deleted with everything in it when disposed.</summary>
internal sealed class TempDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
