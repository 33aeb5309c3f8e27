using System.Reflection;

namespace AgenticGateway.Tests.Dependencies;

/// <summary>
/// The dependency rules of docs/architecture.md, checked on the built assemblies: projects reference only what the
/// graph allows, the core and the LLM layer stand without ASP.NET, the host only composes, and inside a project no two
/// folders use each other both ways. A new cycle fails here with the two uses that make it.
/// </summary>
[Trait("Category", "unit")]
public class ArchitectureTests
{
    /// <summary>Each project and the gateway projects it may reference (the graph; anything else is a new dependency to argue for).</summary>
    internal static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["AgenticGateway.Core"] = [],
        ["AgenticGateway.Llm"] = ["AgenticGateway.Core"],
        ["AgenticGateway.Identity"] = ["AgenticGateway.Core"],
        ["AgenticGateway.Mcp"] = ["AgenticGateway.Core"],
        ["AgenticGateway.Storage"] = ["AgenticGateway.Core", "AgenticGateway.Identity", "AgenticGateway.Mcp"],
        ["AgenticGateway.Sandboxes.Protocol"] = [],
        ["AgenticGateway.Sandboxes"] = ["AgenticGateway.Core", "AgenticGateway.Sandboxes.Protocol"],
        ["AgenticGateway.Emulator"] = ["AgenticGateway.Core", "AgenticGateway.Llm"],
        ["AgenticGateway.Tools"] = ["AgenticGateway.Core", "AgenticGateway.Sandboxes", "AgenticGateway.Sandboxes.Protocol"],
        ["AgenticGateway.Gateway"] = ["AgenticGateway.Core", "AgenticGateway.Llm", "AgenticGateway.Identity", "AgenticGateway.Storage", "AgenticGateway.Sandboxes", "AgenticGateway.Sandboxes.Protocol", "AgenticGateway.Mcp"],
        ["AgenticGateway"] = ["AgenticGateway.Core", "AgenticGateway.Llm", "AgenticGateway.Identity", "AgenticGateway.Storage", "AgenticGateway.Mcp", "AgenticGateway.Sandboxes", "AgenticGateway.Sandboxes.Protocol", "AgenticGateway.Emulator", "AgenticGateway.Tools", "AgenticGateway.Gateway"],
    };

    /// <summary>The emulator's assembly is named after its command; every other after its project.</summary>
    private static string AssemblyOf(string project) => project == "AgenticGateway.Emulator" ? "agw-mock" : project;

    private static string ProjectOf(string assembly) => assembly == "agw-mock" ? "AgenticGateway.Emulator" : assembly;

    private static string PathOf(string project) => Path.Combine(AppContext.BaseDirectory, AssemblyOf(project) + ".dll");

    public static TheoryData<string> Projects() => [.. Allowed.Keys];

    [Theory]
    [MemberData(nameof(Projects))]
    public void A_project_references_only_the_projects_the_graph_allows(string project)
    {
        var references = Assembly.LoadFrom(PathOf(project)).GetReferencedAssemblies().Select(r => ProjectOf(r.Name!))
            .Where(n => n.StartsWith("AgenticGateway", StringComparison.Ordinal)).ToList();
        Assert.Empty(references.Except(Allowed[project]));
    }

    [Theory]
    [InlineData("AgenticGateway.Core")]
    [InlineData("AgenticGateway.Llm")]
    public void The_core_and_the_llm_layer_do_not_depend_on_AspNetCore(string project)
    {
        var references = Assembly.LoadFrom(PathOf(project)).GetReferencedAssemblies().Select(r => r.Name!);
        Assert.DoesNotContain(references, r => r.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Inside_a_project_no_two_folders_use_each_other_both_ways(string project)
    {
        var pairs = TypeDependencies.MutualFolders(TypeDependencies.Of(PathOf(project)));
        Assert.True(pairs.Count == 0, $"{project}: folders that use each other both ways (move the shared piece down, or invert one use through an interface):\n" + string.Join("\n", pairs));
    }

    [Fact]
    public void Every_source_file_is_in_the_namespace_of_its_folder()
    {
        // The folder check above reads namespaces from the IL: it sees the folders only if namespaces follow them.
        var root = Deploy.DeployFiles.RepoRoot();
        var wrong = new List<string>();
        foreach (var project in Allowed.Keys)
        {
            var directory = Path.Combine(root, "src", project);
            var rootNamespace = System.Xml.Linq.XDocument.Load(Path.Combine(directory, project + ".csproj")).Descendants("RootNamespace").Single().Value;
            foreach (var file in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(directory, file);
                if (relative.StartsWith("obj" + Path.DirectorySeparatorChar) || relative.StartsWith("bin" + Path.DirectorySeparatorChar) || relative == "Program.cs") continue;
                var folder = Path.GetDirectoryName(relative)!.Replace(Path.DirectorySeparatorChar, '.');
                var expected = folder.Length == 0 ? rootNamespace : rootNamespace + "." + folder;
                var declared = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("namespace ", StringComparison.Ordinal))?["namespace ".Length..].TrimEnd(';', ' ');
                if (declared != expected) wrong.Add($"src/{project}/{relative}: namespace {declared ?? "(none)"}, folder says {expected}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void The_host_only_composes()
    {
        // Program and Hosting/ (command line, service registration, endpoint mapping, config reload); no request handling.
        var namespaces = Assembly.LoadFrom(PathOf("AgenticGateway")).GetTypes()
            .Where(t => !t.IsNested && t.Namespace is not null && !t.Name.StartsWith('<') && t.Namespace != "Microsoft.AspNetCore.OpenApi.Generated" && !t.Namespace.StartsWith("System", StringComparison.Ordinal))
            .Select(t => t.Namespace!).Distinct().ToList();
        Assert.Equal(["AgenticGateway.Hosting"], namespaces.Where(n => n != "AgenticGateway").Order());
    }

    [Theory]
    [InlineData("AgenticGateway.Emulator")]
    [InlineData("AgenticGateway.Images")]
    public void The_emulator_and_the_image_builder_are_not_in_the_data_plane(string ns)
    {
        var gateway = Assembly.LoadFrom(PathOf("AgenticGateway.Gateway"));
        Assert.DoesNotContain(gateway.GetTypes(), t => t.Namespace == ns || t.Namespace?.StartsWith(ns + ".", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void The_check_finds_a_pair_of_folders_that_use_each_other()
    {
        // This test assembly's Fixture.Ping and Fixture.Pong use each other on purpose; Fixture.Leaf is only used.
        var pairs = TypeDependencies.MutualFolders(TypeDependencies.Of(typeof(ArchitectureTests).Assembly.Location))
            .Where(p => p.StartsWith("AgenticGateway.Tests.Dependencies.Fixture:", StringComparison.Ordinal)).ToList();
        var pair = Assert.Single(pairs);
        Assert.StartsWith("AgenticGateway.Tests.Dependencies.Fixture: Ping <-> Pong (", pair);
    }
}
