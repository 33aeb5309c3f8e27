using AgenticGateway.Edge.Tls;
using AgenticGateway.Storage;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// The ACME parts as singletons over the gateway's <see cref="IDatabase"/> and <see cref="TimeProvider"/>. The edge
/// takes <see cref="AcmeHttpChallenge"/>, <see cref="IAcmeTlsChallenge"/> and <see cref="ICertificateSource"/> from it,
/// and calls <see cref="AcmeManager.Update"/> on start and on every reload; the manager runs as a hosted service.
/// </summary>
internal static class AcmeServices
{
    public static IServiceCollection AddEdgeAcme(this IServiceCollection services)
    {
        services.AddSingleton(sp => new AcmeStore(sp.GetRequiredService<IDatabase>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new AcmeChallenges(sp.GetRequiredService<AcmeStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<AcmeCertificates>();
        services.AddSingleton<ICertificateSource>(sp => sp.GetRequiredService<AcmeCertificates>());
        services.AddSingleton(sp => new AcmeHttpChallenge(sp.GetRequiredService<AcmeChallenges>()));
        services.AddSingleton<IAcmeTlsChallenge>(sp => new AcmeTlsChallenge(sp.GetRequiredService<AcmeChallenges>()));
        services.AddSingleton(sp => new AcmeManager(sp.GetRequiredService<AcmeStore>(), sp.GetRequiredService<AcmeChallenges>(),
            sp.GetRequiredService<AcmeCertificates>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AcmeManager>>()));
        services.AddHostedService(sp => sp.GetRequiredService<AcmeManager>());
        return services;
    }
}
