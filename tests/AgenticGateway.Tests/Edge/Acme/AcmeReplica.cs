using System.Collections.Concurrent;
using System.Collections.Immutable;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Acme;
using AgenticGateway.Storage;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>One gateway replica's ACME parts over a database, with short intervals, its log kept.</summary>
internal sealed class AcmeReplica : IAsyncDisposable
{
    public static readonly AcmeManagerSettings FastSettings = new()
    {
        CheckInterval = TimeSpan.FromSeconds(2),
        StoreRefresh = TimeSpan.FromMilliseconds(200),
        RetryDelay = TimeSpan.FromMilliseconds(300),
        MaxRetryDelay = TimeSpan.FromSeconds(1),
        ClientTimeout = TimeSpan.FromSeconds(15),
        Timings = new AcmeTimings(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)),
    };

    public AcmeReplica(IDatabase database, AcmeManagerSettings? settings = null)
    {
        Store = new AcmeStore(database, TimeProvider.System);
        Challenges = new AcmeChallenges(Store, TimeProvider.System);
        Http = new AcmeHttpChallenge(Challenges);
        Tls = new AcmeTlsChallenge(Challenges);
        Manager = new AcmeManager(Store, Challenges, Certificates, TimeProvider.System, new ListLogger<AcmeManager>(Logs), settings ?? FastSettings);
    }

    public AcmeStore Store { get; }
    public AcmeChallenges Challenges { get; }
    public AcmeCertificates Certificates { get; } = new();
    public AcmeHttpChallenge Http { get; }
    public AcmeTlsChallenge Tls { get; }
    public AcmeManager Manager { get; }
    public ConcurrentQueue<string> Logs { get; } = new();

    public async Task<AcmeReplica> StartAsync()
    {
        await Manager.StartAsync(CancellationToken.None);
        return this;
    }

    /// <summary>Waits until the replica serves a certificate for <paramref name="serverName"/> (failing with the replica's log after a minute).</summary>
    public async Task<System.Security.Cryptography.X509Certificates.X509Certificate2> WaitForCertificateAsync(string serverName, Func<System.Security.Cryptography.X509Certificates.X509Certificate2, bool>? accept = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (Certificates.Find(serverName) is { } found && (accept is null || accept(found))) return found;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no certificate for {serverName}; log:\n{string.Join("\n", Logs)}");
    }

    public ValueTask DisposeAsync() => Manager.DisposeAsync();

    public static CertResolverConfig Resolver(string caServer, string? caFile, bool http, bool tls, string name = "le", string keyType = "EC256") =>
        new(name, "admin@example.com", caServer, null, keyType, TimeSpan.FromHours(2160), http ? "web" : null, tls, caFile is null ? [] : [caFile], "certificatesResolvers." + name);

    public static EdgeStaticConfig Static(params CertResolverConfig[] resolvers) =>
        EdgeStaticConfig.Empty with { CertificatesResolvers = resolvers.ToImmutableDictionary(r => r.Name, StringComparer.Ordinal) };

    /// <summary>HTTP routers, each with tls.certResolver and one tls.domains entry (main, then sans).</summary>
    public static EdgeDynamicConfig Routers(params (string Router, string Resolver, string[] Domains)[] routers) => EdgeDynamicConfig.Empty with
    {
        Http = HttpSection.Empty with
        {
            Routers = routers.ToImmutableDictionary(r => r.Router, r => new HttpRouterConfig(
                r.Router, $"Host(`{r.Domains[0]}`)", null!, 0, [], [], "svc",
                new RouterTlsConfig(null, r.Resolver, [new TlsDomain(r.Domains[0], [.. r.Domains.Skip(1)])]), "http.routers." + r.Router), StringComparer.Ordinal),
        },
    };

    private sealed class ListLogger<T>(ConcurrentQueue<string> messages) : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            messages.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
