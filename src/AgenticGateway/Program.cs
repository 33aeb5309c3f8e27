// Socket completions run inline on the I/O thread instead of hopping to the thread pool. The gateway never blocks
// in its I/O continuations, and on small machines the hop costs more than the work (measured in bench/). It is read
// once, when the socket engine starts, so it must be set before any socket exists; an explicit setting wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
return await AgenticGateway.Hosting.CommandLine.RunAsync(args);
