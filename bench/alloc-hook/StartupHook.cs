// Loaded by the runtime before Main (DOTNET_STARTUP_HOOKS): the type must be named StartupHook, outside any namespace.
// Writes one line, "ALLOCATED_BYTES HEAP_BYTES": GC.GetTotalAllocatedBytes every 20 ms (allocations per request) and
// the GC heap's size after the last collection every 500 ms (the soak's growth check; GetGCMemoryInfo allocates, so
// it is read less often than the counter).
internal static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable("AGW_BENCH_ALLOC_FILE") is not { Length: > 0 } path) return;
        var thread = new Thread(() =>
        {
            var temp = path + ".tmp";
            var culture = System.Globalization.CultureInfo.InvariantCulture;
            long heap = 0;
            for (var i = 0; ; i++)
            {
                if (i % 25 == 0) heap = GC.GetGCMemoryInfo().HeapSizeBytes;
                // Replaced by rename, so a reader never sees a half-written line. A failed write (the bench's temp
                // directory removed) must not take the measured process down with it.
                try
                {
                    File.WriteAllText(temp, string.Create(culture, $"{GC.GetTotalAllocatedBytes(precise: false)} {heap}"));
                    File.Move(temp, path, overwrite: true);
                }
                catch (IOException) { }
                Thread.Sleep(20);
            }
        }) { IsBackground = true, Name = "bench allocation sampler" };
        thread.Start();
    }
}
