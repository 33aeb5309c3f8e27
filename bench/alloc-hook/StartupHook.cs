// Loaded by the runtime before Main (DOTNET_STARTUP_HOOKS): the type must be named StartupHook, outside any namespace.
internal static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable("AGW_BENCH_ALLOC_FILE") is not { Length: > 0 } path) return;
        var thread = new Thread(() =>
        {
            var temp = path + ".tmp";
            while (true)
            {
                // Replaced by rename, so a reader never sees a half-written number. A failed write (the bench's temp
                // directory removed) must not take the measured gateway down with it.
                try
                {
                    File.WriteAllText(temp, GC.GetTotalAllocatedBytes(precise: false).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    File.Move(temp, path, overwrite: true);
                }
                catch (IOException) { }
                Thread.Sleep(20);
            }
        }) { IsBackground = true, Name = "bench allocation sampler" };
        thread.Start();
    }
}
