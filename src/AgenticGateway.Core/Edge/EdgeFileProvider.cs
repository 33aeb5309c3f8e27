namespace AgenticGateway.Edge;
internal static class EdgeFileProvider
{
    public static (EdgeDynamicConfig, IReadOnlyList<string>) Load(FileProviderConfig config, string baseDirectory) => throw new NotImplementedException();
}
