return await AgenticGateway.Hosting.CommandLine.RunAsync(args);
