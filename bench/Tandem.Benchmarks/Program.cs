using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Tandem.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
