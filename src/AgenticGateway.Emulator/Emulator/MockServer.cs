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

    /// <summary>
    /// What a started emulator prints: each address it listens on (the bound port, also when 0 was asked for) with
    /// the base URL an OpenAI client is given.
    /// </summary>
    public static IEnumerable<string> ListeningLines(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [];
        return addresses.Select(a => $"agw-mock listening on {a} (OpenAI base URL {BaseUrl(a)}/v1)");
    }

    /// <summary>An address a client can dial: a wildcard host (0.0.0.0, [::], *, +) is reached at 127.0.0.1 here.</summary>
    private static string BaseUrl(string address)
    {
        var uri = new Uri(address.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal));
        var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
        return $"{uri.Scheme}://{host}:{uri.Port}";
    }
}
