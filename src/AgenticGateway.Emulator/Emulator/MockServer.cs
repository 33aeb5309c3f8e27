namespace AgenticGateway.Emulator;

/// <summary>The emulator as its own server: <c>agw mock --port N</c>. Tests and benchmarks point deployments at it.</summary>
internal static class MockServer
{
    public static WebApplication Build(string urls, MockSettings settings, string? apiKey = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        builder.Services.AddSingleton(new MockEngine(settings, apiKey));
        var app = builder.Build();
        var engine = app.Services.GetRequiredService<MockEngine>();
        app.Run(context => KestrelMockExchange.ServeAsync(context, engine));
        return app;
    }
}
