using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Bubblewrap;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>The private state directory a microVM driver keeps its sockets and snapshots in.</summary>
[Trait("Category", "unit")]
public sealed class UnixFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("agw-unixfiles-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_private_directory_is_made_owner_only_and_a_symlink_or_shared_one_is_refused()
    {
        var fresh = Path.Join(_dir, "a", "state");
        Assert.Null(UnixFiles.PrivateDirectory(fresh));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, new DirectoryInfo(fresh).UnixFileMode);
        Assert.Null(UnixFiles.PrivateDirectory(fresh));          // again: it is ours

        var link = Path.Join(_dir, "link");
        Directory.CreateSymbolicLink(link, fresh);
        Assert.Equal($"{link} is a symlink", UnixFiles.PrivateDirectory(link));

        var shared = Path.Join(_dir, "shared");
        Directory.CreateDirectory(shared);
        UnixFiles.SetMode(shared, (UnixFileMode)Convert.ToInt32("1777", 8));
        Assert.Equal($"{shared} is writable by other users", UnixFiles.PrivateDirectory(shared));
    }
}
