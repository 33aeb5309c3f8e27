using System.Collections.Immutable;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's file provider: <c>filename</c> (one file) or <c>directory</c> (every *.yml, *.yaml and *.toml in it and
/// its subdirectories, in name order, as Traefik walks it), each read on its own and merged. A router, service,
/// middleware, transport, TLS option or store defined in two files is an error naming both, where Traefik would
/// drop the duplicates with a log line: here the operator sees it before the edge starts or reloads.
/// </summary>
internal static class EdgeFileProvider
{
    /// <summary>Directories deeper than this are not walked (a symbolic link loop must not hang a reload).</summary>
    private const int MaxDepth = 16;

    /// <param name="baseDir">Where relative paths start: the directory of our config file.</param>
    public static (EdgeDynamicConfig Config, IReadOnlyList<string> Errors) Load(FileProviderConfig provider, string baseDir)
    {
        var errors = new List<string>();
        var files = new List<string>();
        if (provider.Filename is { } filename)
        {
            var path = Path.GetFullPath(filename, baseDir);
            if (File.Exists(path)) files.Add(path);
            else errors.Add($"providers.file.filename: '{path}' does not exist");
        }
        else if (provider.Directory is { } directory)
        {
            var path = Path.GetFullPath(directory, baseDir);
            if (Directory.Exists(path)) Collect(path, files, errors, 0);
            else errors.Add($"providers.file.directory: '{path}' does not exist");
        }
        var root = provider.Directory is { } d ? Path.GetFullPath(d, baseDir) : null;
        var merged = new Merger(errors);
        foreach (var file in files)
        {
            var name = root is null ? file : Path.GetRelativePath(root, file);
            var fileErrors = new List<string>();
            var node = EdgeFiles.Load(file, fileErrors, name);
            EdgeDynamicConfig? config = null;
            if (node is not null)
            {
                var readErrors = new List<string>();
                config = DynamicConfigReader.Read(node, readErrors);
                fileErrors.AddRange(readErrors.Select(e => $"{name}: {e}"));
            }
            errors.AddRange(fileErrors);
            if (config is not null) merged.Add(config, name);
        }
        return (merged.Result, errors);
    }

    private static void Collect(string directory, List<string> files, List<string> errors, int depth)
    {
        if (depth > MaxDepth) { errors.Add($"{directory}: directories nested deeper than {MaxDepth} levels are not read"); return; }
        try
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory).Order(StringComparer.Ordinal))
            {
                if (Directory.Exists(entry)) Collect(entry, files, errors, depth + 1);
                else if (EdgeFiles.IsConfigFile(entry)) files.Add(entry);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{directory}: cannot be read: {e.Message}");
        }
    }

    /// <summary>Merges files' configurations, remembering which file defined each name.</summary>
    private sealed class Merger(List<string> errors)
    {
        private readonly Dictionary<string, string> _origins = new(StringComparer.Ordinal);
        public EdgeDynamicConfig Result { get; private set; } = EdgeDynamicConfig.Empty;

        public void Add(EdgeDynamicConfig c, string file)
        {
            var r = Result;
            Result = new EdgeDynamicConfig
            {
                Http = new HttpSection(
                    Merge(r.Http.Routers, c.Http.Routers, "http.routers", file),
                    Merge(r.Http.Services, c.Http.Services, "http.services", file),
                    Merge(r.Http.Middlewares, c.Http.Middlewares, "http.middlewares", file),
                    Merge(r.Http.ServersTransports, c.Http.ServersTransports, "http.serversTransports", file)),
                Tcp = new TcpSection(
                    Merge(r.Tcp.Routers, c.Tcp.Routers, "tcp.routers", file),
                    Merge(r.Tcp.Services, c.Tcp.Services, "tcp.services", file),
                    Merge(r.Tcp.Middlewares, c.Tcp.Middlewares, "tcp.middlewares", file),
                    Merge(r.Tcp.ServersTransports, c.Tcp.ServersTransports, "tcp.serversTransports", file)),
                Udp = new UdpSection(
                    Merge(r.Udp.Routers, c.Udp.Routers, "udp.routers", file),
                    Merge(r.Udp.Services, c.Udp.Services, "udp.services", file)),
                Tls = new TlsSection(
                    r.Tls.Certificates.AddRange(c.Tls.Certificates),
                    Merge(r.Tls.Options, c.Tls.Options, "tls.options", file),
                    Merge(r.Tls.Stores, c.Tls.Stores, "tls.stores", file)),
            };
        }

        private ImmutableDictionary<string, T> Merge<T>(ImmutableDictionary<string, T> into, ImmutableDictionary<string, T> add, string section, string file)
        {
            var builder = into.ToBuilder();
            foreach (var (name, value) in add.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var key = $"{section}.{name}";
                if (_origins.TryGetValue(key, out var first))
                {
                    errors.Add($"{key}: defined in both {first} and {file}");
                    builder.Remove(name);
                    continue;
                }
                _origins[key] = file;
                builder[name] = value;
            }
            return builder.ToImmutable();
        }
    }
}
