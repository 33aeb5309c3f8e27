namespace AgenticGateway.Sandboxes;

/// <summary>
/// Where the microVM guest image lives and what it holds: the names the drivers boot from and the image builder
/// writes. An image directory is the cache's <c>&lt;version&gt;</c> (its <see cref="VersionFile"/> says which);
/// <c>current</c> points at the newest.
/// </summary>
internal static class ImageLayout
{
    public const string KernelFile = "vmlinuz";
    public const string VmlinuxFile = "vmlinux";
    public const string InitrdFile = "initrd.img";
    public const string RootfsFile = "rootfs.ext4";
    public const string RootfsInitramfsFile = "rootfs.cpio.gz";
    public const string VersionFile = "version";
    public const string ManifestFile = "manifest";
    /// <summary>Where the guest files (agent, kernels) live inside the image.</summary>
    public const string GuestDirectory = "opt/agw";

    public static string DefaultCacheDirectory => Path.Join(SandboxCache.Root, "images");

    /// <summary>
    /// The image directory in use: <paramref name="directory"/> itself when it holds a kernel, else the image its
    /// <c>current</c> points at now. Resolved once by each driver, so that a later build re-pointing <c>current</c>
    /// does not change the image under running sandboxes.
    /// </summary>
    public static string Resolve(string directory)
    {
        if (File.Exists(Path.Join(directory, KernelFile))) return directory;
        var current = new DirectoryInfo(Path.Join(directory, "current"));
        try { return current.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? current.FullName; }
        catch (IOException) { return current.FullName; }      // no image yet: the driver says so when it starts
    }

    /// <summary>The version (first line of the version file) of the image in <paramref name="directory"/>, if any.</summary>
    public static string? VersionOf(string directory)
    {
        var file = Path.Join(directory, VersionFile);
        return File.Exists(file) ? File.ReadLines(file).FirstOrDefault() : null;
    }
}
