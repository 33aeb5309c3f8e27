using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Every benchmark reports time and allocations per operation ([MemoryDiagnoser] on each class); bench/README.md.
// dotnet run -c Release --project bench/AgenticGateway.Benchmarks -- --filter '*'              (the full run)
// dotnet run -c Release --project bench/AgenticGateway.Benchmarks -- --filter '*' --job short  (a smoke run)
// BenchmarkDotNet builds a copy of this project for each run; on two busy cores that can take minutes, not its default two.
var config = ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(10));
BenchmarkSwitcher.FromAssembly(typeof(AgenticGateway.Benchmarks.RequestReaderBenchmarks).Assembly).Run(args, config);
