namespace AgenticGateway.Benchmarks;

/// <summary>The translation golden fixtures (tests/AgenticGateway.Tests/Fixtures/translation), copied beside the benchmarks.</summary>
internal static class Fixtures
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation");

    public static byte[] Bytes(string provider, string name, string file) => File.ReadAllBytes(Path.Combine(Root, provider, name, file));

    public static string Text(string provider, string name, string file) => File.ReadAllText(Path.Combine(Root, provider, name, file));
}
