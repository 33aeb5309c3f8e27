using System.Collections.Immutable;
using AgenticGateway.Configuration;
using AgenticGateway.Sandboxes.Firecracker;
using AgenticGateway.Yaml;

namespace AgenticGateway.Sandboxes;

/// <summary>Reads the <c>sandboxes:</c> section (the same in our schema and in a LiteLLM file). Unknown keys are errors.</summary>
internal static class SandboxConfigReader
{
    public static SandboxOptions Read(ConfigMap? s)
    {
        var options = new SandboxOptions();
        if (s is null) return options;
        if (s.Bool("enabled") is { } enabled) options = options with { Enabled = enabled };
        if (s.String("driver") is { } driver)
        {
            if (SandboxOptions.Drivers.Contains(driver)) options = options with { Driver = driver };
            else s.Context.Issues.Error(s.Child("driver"), $"unknown sandbox driver '{driver}' ({string.Join(", ", SandboxOptions.Drivers)})");
        }
        var offered = new List<string> { options.Driver };
        foreach (var name in s.StringList("drivers"))
        {
            if (!SandboxOptions.Drivers.Contains(name)) s.Context.Issues.Error(s.Child("drivers"), $"unknown sandbox driver '{name}' ({string.Join(", ", SandboxOptions.Drivers)})");
            else if (!offered.Contains(name)) offered.Add(name);
        }
        options = options with { OfferedDrivers = [.. offered] };
        if (s.Map("qemu") is { } qemu) options = options with { Qemu = Qemu.QemuConfigReader.Read(qemu) };
        // The image's kernel, rootfs and initrd also when there is no firecracker: section at all.
        options = options with { Firecracker = s.Map("firecracker") is { } fc ? FirecrackerConfigReader.Read(fc) : options.Firecracker.WithImageDefaults() };
        if (s.Map("defaults") is { } d) options = options with { Defaults = ReadResources(d, options.Defaults) };
        if (s.Map("max") is { } m) options = options with { Max = ReadResources(m, options.Max) };
        if (s.Duration("execute_timeout", positive: true) is { } exec) options = options with { ExecuteTimeout = exec };
        if (s.Int("max_output_bytes", 1024) is { } output) options = options with { MaxOutputBytes = output };
        if (s.Long("max_file_bytes", 1) is { } file) options = options with { MaxFileBytes = file };
        if (s.Int("max_processes", 8, 100_000) is { } procs) options = options with { MaxProcesses = procs };
        if (s.String("package_cache") is { Length: > 0 } cache)
        {
            if (Directory.Exists(cache)) options = options with { PackageCache = Path.GetFullPath(cache) };
            else s.Context.Issues.Error(s.Child("package_cache"), $"directory '{cache}' does not exist");
        }
        if (s.Map("pools") is { } pools)
        {
            var builder = ImmutableDictionary.CreateBuilder<string, PoolOptions>();
            foreach (var runtime in pools.Keys.ToList())
            {
                if (!SandboxOptions.Runtimes.Contains(runtime))
                {
                    pools.Context.Issues.Error(pools.Child(runtime), $"unknown runtime '{runtime}' ({string.Join(", ", SandboxOptions.Runtimes)})");
                    pools.MarkRead(runtime);
                    continue;
                }
                if (pools.Map(runtime) is { } p) builder[runtime] = ReadPool(p, options.OfferedDrivers);
            }
            pools.ReportUnknownKeys(strict: true);
            options = options with { Pools = builder.ToImmutable() };
        }
        if (s.Map("quota") is { } q)
        {
            var quota = options.Quota;
            if (q.Int("max_concurrent", 0) is { } c) quota = quota with { MaxConcurrent = c };
            if (q.Long("max_sandbox_seconds") is { } sec) quota = quota with { MaxSandboxSeconds = sec };
            if (q.Duration("period", positive: true) is { } period) quota = quota with { Period = period };
            q.ReportUnknownKeys(strict: true);
            options = options with { Quota = quota };
        }
        if (s.Decimal("cost_per_second") is { } cost) options = options with { CostPerSecond = cost };
        if (s.Map("egress") is { } egress) options = options with { Egress = Egress.EgressConfigReader.Read(egress) };
        if (s.Map("e2b") is { } e2b)
        {
            if (e2b.String("host") is { } host)
            {
                if (Uri.CheckHostName(host) == UriHostNameType.Dns) options = options with { E2bHost = host };
                else e2b.Context.Issues.Error(e2b.Child("host"), $"'{host}' is not a host name (such as e2b.example.com)");
            }
            e2b.ReportUnknownKeys(strict: true);
        }
        if (s.Map("persistence") is { } persistence) options = options with { Persistence = ReadPersistence(persistence) };
        if (s.Map("hosts") is { } hosts) options = options with { Hosts = Hosts.SandboxHostsConfigReader.Read(hosts) };
        s.ReportUnknownKeys(strict: true);
        if (options.Defaults.MemoryMb > options.Max.MemoryMb || options.Defaults.Cpu > options.Max.Cpu
            || options.Defaults.DiskMb > options.Max.DiskMb || options.Defaults.Timeout > options.Max.Timeout)
            s.Context.Issues.Error(s.Child("defaults"), "defaults must not exceed sandboxes.max");
        return options;
    }

    private static SandboxResources ReadResources(ConfigMap r, SandboxResources start)
    {
        var result = start;
        if (r.Duration("timeout", positive: true) is { } t) result = result with { Timeout = t };
        if (r.Int("memory_mb", 16, 1 << 20) is { } mem) result = result with { MemoryMb = mem };
        if (r.Double("cpu", 0.01) is { } cpu) result = result with { Cpu = cpu };
        if (r.Int("disk_mb", 1, 1 << 24) is { } disk) result = result with { DiskMb = disk };
        r.ReportUnknownKeys(strict: true);
        return result;
    }

    private static PersistenceOptions ReadPersistence(ConfigMap p)
    {
        var result = new PersistenceOptions();
        if (p.Bool("enabled") is { } enabled) result = result with { Enabled = enabled };
        if (p.Int("max_paused", 0, 100_000) is { } paused) result = result with { MaxPaused = paused };
        if (p.Int("max_snapshots", 0, 100_000) is { } snapshots) result = result with { MaxSnapshots = snapshots };
        if (p.Long("max_disk_mb", 1) is { } disk) result = result with { MaxDiskMb = disk };
        if (p.Duration("ttl", positive: true) is { } ttl) result = result with { Ttl = ttl };
        p.ReportUnknownKeys(strict: true);
        return result;
    }

    private static PoolOptions ReadPool(ConfigMap p, ImmutableArray<string> offered)
    {
        var pool = new PoolOptions();
        if (p.String("driver") is { Length: > 0 } driver)
        {
            if (offered.Contains(driver)) pool = pool with { Driver = driver };
            else p.Context.Issues.Error(p.Child("driver"), $"driver '{driver}' is not among sandboxes.drivers ({string.Join(", ", offered)})");
        }
        if (p.Int("min_ready", 0, 1000) is { } min) pool = pool with { MinReady = min };
        if (p.Int("max_total", 1, 100_000) is { } max) pool = pool with { MaxTotal = max };
        if (p.Duration("idle_timeout", positive: true) is { } idle) pool = pool with { IdleTimeout = idle };
        if (p.Duration("max_lifetime", positive: true) is { } life) pool = pool with { MaxLifetime = life };
        if (p.Duration("boot_timeout", positive: true) is { } boot) pool = pool with { BootTimeout = boot };
        p.ReportUnknownKeys(strict: true);
        if (pool.MinReady > pool.MaxTotal) p.Context.Issues.Error(p.Child("min_ready"), "min_ready must not exceed max_total");
        return pool;
    }
}
