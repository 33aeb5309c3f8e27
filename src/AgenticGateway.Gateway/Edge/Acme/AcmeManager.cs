using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// How often the manager looks at its certificates and the store, how it backs off after a failure, and its time limits.
/// The defaults follow Traefik where Traefik has one (clientTimeout 2 minutes, certificateTimeout 30 s).
/// </summary>
internal sealed record AcmeManagerSettings
{
    /// <summary>How often renewals are checked when nothing else wakes the manager.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromHours(1);
    /// <summary>How often the store is read for certificates other replicas obtained.</summary>
    public TimeSpan StoreRefresh { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The wait after a first failure; it doubles with each further failure, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(1);
    /// <summary>How long one replica holds a certificate's lease: longer than an order takes; a crashed holder's lease lapses.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan ClientTimeout { get; init; } = TimeSpan.FromMinutes(2);
    public AcmeTimings Timings { get; init; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(30));

    public static readonly AcmeManagerSettings Default = new();
}

/// <summary>
/// Obtains and renews the certificates the routers ask their certResolvers for, and keeps <see cref="AcmeCertificates"/>
/// current from the shared store. One background loop: on start, on each <see cref="Update"/> and every check interval
/// it orders what is missing or due for renewal (a third of its lifetime left, as Traefik renews a 90-day certificate
/// 30 days before), under a lease so replicas do not order the same certificate twice. A failure is logged with the
/// CA's reason and retried with a doubling delay.
/// </summary>
internal sealed partial class AcmeManager : IHostedService, IAsyncDisposable
{
    private readonly AcmeStore _store;
    private readonly AcmeCertificates _certificates;
    private readonly AcmeIssuer _issuer;
    private readonly TimeProvider _time;
    private readonly ILogger<AcmeManager> _logger;
    private readonly AcmeManagerSettings _settings;
    private readonly string _holder = Environment.MachineName + "/" + Guid.NewGuid().ToString("N");
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Dictionary<string, AcmeClient> _clients = new(StringComparer.Ordinal);
    private readonly Dictionary<(string CaServer, string Email), (AcmeAccountKey Key, string Url)> _accounts = [];
    private readonly ConcurrentDictionary<(string Resolver, string Domains), (int Failures, DateTimeOffset Next)> _retries = new();
    private volatile IReadOnlyList<AcmeWanted> _wanted = [];
    private CancellationTokenSource? _stopping;
    private Task _loop = Task.CompletedTask;
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;

    public AcmeManager(AcmeStore store, AcmeChallenges challenges, AcmeCertificates certificates, TimeProvider time, ILogger<AcmeManager> logger, AcmeManagerSettings? settings = null)
    {
        _store = store;
        _certificates = certificates;
        _issuer = new AcmeIssuer(challenges, time);
        _time = time;
        _logger = logger;
        _settings = settings ?? AcmeManagerSettings.Default;
    }

    /// <summary>The certificates the configuration asks for; the edge calls this on start and on every reload.</summary>
    public void Update(EdgeDynamicConfig dynamic, EdgeStaticConfig statics)
    {
        var problems = new List<string>();
        var wanted = AcmeDomains.Wanted(dynamic, statics, problems);
        foreach (var problem in problems) LogConfigProblem(problem);
        _wanted = wanted;
        // A changed configuration gets a fresh attempt at once, whatever failed before.
        _retries.Clear();
        Wake();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null) return;
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void Wake()
    {
        try { _wake.Release(); }
        catch (SemaphoreFullException) { }   // already woken
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var wait = _settings.CheckInterval;
            try
            {
                await RefreshAsync(force: false, ct);
                var now = _time.GetUtcNow();
                foreach (var wanted in _wanted)
                {
                    var id = (wanted.Resolver.Name, wanted.Key);
                    if (_retries.TryGetValue(id, out var retry) && retry.Next > now)
                    {
                        wait = Min(wait, retry.Next - now);
                        continue;
                    }
                    if (_certificates.Stored(wanted.Resolver.Name, wanted.Key) is { } stored && !DueForRenewal(stored.Record, now)) continue;
                    wait = Min(wait, await ObtainAsync(wanted, ct));
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The store is unreachable: keep serving what is loaded, try again later.
                LogStoreFailed(e.Message);
                wait = Min(wait, _settings.RetryDelay);
            }
            try
            {
                await _wake.WaitAsync(Min(wait, _settings.StoreRefresh), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Orders one certificate under its lease; returns when the manager should look at it again.</summary>
    private async Task<TimeSpan> ObtainAsync(AcmeWanted wanted, CancellationToken ct)
    {
        var id = (wanted.Resolver.Name, wanted.Key);
        var lease = $"certificate:{wanted.Resolver.Name}:{wanted.Resolver.CaServer}:{wanted.Key}";
        if (!await _store.TryLeaseAsync(lease, _holder, _settings.LeaseDuration, ct))
        {
            // Another replica is ordering it: its result reaches the store, and this replica with the next refresh.
            LogHeldElsewhere(wanted.Key, wanted.Resolver.Name);
            return _settings.StoreRefresh;
        }
        try
        {
            // Another replica may have stored it between this replica's last refresh and the lease.
            await RefreshAsync(force: true, ct);
            var stored = _certificates.Stored(wanted.Resolver.Name, wanted.Key);
            if (stored is not null && !DueForRenewal(stored.Record, _time.GetUtcNow())) return _settings.CheckInterval;
            if (stored is not null) LogRenewing(wanted.Key, wanted.Resolver.Name, stored.Record.NotAfter);

            var record = await IssueWithAccountAsync(wanted, ct);
            await _store.SaveCertificateAsync(record, ct);
            await RefreshAsync(force: true, ct);
            _retries.TryRemove(id, out _);
            LogObtained(wanted.Key, wanted.Resolver.Name, record.NotAfter);
            return _settings.CheckInterval;
        }
        catch (Exception e) when (e is AcmeException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            var failures = _retries.TryGetValue(id, out var before) ? before.Failures + 1 : 1;
            var delay = TimeSpan.FromTicks(Math.Min(_settings.MaxRetryDelay.Ticks, _settings.RetryDelay.Ticks * (1L << Math.Min(failures - 1, 20))));
            _retries[id] = (failures, _time.GetUtcNow() + delay);
            LogObtainFailed(wanted.Key, wanted.Resolver.Name, wanted.Resolver.CaServer, e.Message, delay);
            return delay;
        }
        finally
        {
            await _store.ReleaseLeaseAsync(lease, _holder, CancellationToken.None);
        }
    }

    private async Task<AcmeCertificateRecord> IssueWithAccountAsync(AcmeWanted wanted, CancellationToken ct)
    {
        var client = Client(wanted.Resolver);
        var (key, url) = await AccountAsync(client, wanted.Resolver, ct);
        try
        {
            return await _issuer.IssueAsync(client, key, url, wanted, _settings.Timings, ct);
        }
        catch (AcmeException e) when (e.ProblemType == AcmeException.AccountDoesNotExist)
        {
            // The CA forgot the account (a test CA restarted, or it was deactivated): register the same key again.
            var email = wanted.Resolver.Email ?? "";
            var fresh = await client.RegisterAsync(key, wanted.Resolver.Email, ct);
            await _store.UpdateAccountUrlAsync(wanted.Resolver.CaServer, email, fresh, ct);
            _accounts[(wanted.Resolver.CaServer, email)] = (key, fresh);
            LogAccountRegistered(wanted.Resolver.CaServer, fresh);
            return await _issuer.IssueAsync(client, key, fresh, wanted, _settings.Timings, ct);
        }
    }

    /// <summary>The account for the resolver's CA and email: this process's, else the store's (shared by replicas), else a new one.</summary>
    private async Task<(AcmeAccountKey Key, string Url)> AccountAsync(AcmeClient client, CertResolverConfig resolver, CancellationToken ct)
    {
        var id = (resolver.CaServer, resolver.Email ?? "");
        if (_accounts.TryGetValue(id, out var known)) return known;
        if (await _store.FindAccountAsync(id.CaServer, id.Item2, ct) is { } stored)
            return _accounts[id] = (AcmeAccountKey.FromPem(stored.PrivateKeyPem), stored.AccountUrl);

        var key = AcmeAccountKey.Generate();
        var url = await client.RegisterAsync(key, resolver.Email, ct);
        var saved = await _store.AddAccountAsync(new AcmeAccountRecord(id.CaServer, id.Item2, key.ToPem(), url), ct);
        LogAccountRegistered(resolver.CaServer, url);
        if (saved.AccountUrl != url)
        {
            // Another replica registered at the same moment: use the one stored, as every replica will.
            key.Dispose();
            return _accounts[id] = (AcmeAccountKey.FromPem(saved.PrivateKeyPem), saved.AccountUrl);
        }
        return _accounts[id] = (key, url);
    }

    /// <summary>One client per CA server and trusted CA set, kept for the manager's life.</summary>
    private AcmeClient Client(CertResolverConfig resolver)
    {
        var extra = resolver.CaCertificates.AddRange(
            (Environment.GetEnvironmentVariable("LEGO_CA_CERTIFICATES") ?? "").Split([',', Path.PathSeparator], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal).ToList();
        var id = resolver.CaServer + "\n" + string.Join("\n", extra);
        if (_clients.TryGetValue(id, out var client)) return client;
        if (!Uri.TryCreate(resolver.CaServer, UriKind.Absolute, out var directory) || directory.Scheme is not ("https" or "http"))
            throw new AcmeException($"caServer {resolver.CaServer} is not an http(s) URL");
        var roots = new List<X509Certificate2>();
        foreach (var path in extra)
        {
            try
            {
                roots.AddRange(Pem(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new AcmeException($"the CA certificate {path} cannot be read: {e.Message}", e);
            }
        }
        return _clients[id] = new AcmeClient(directory, roots, _settings.ClientTimeout);
    }

    private static X509Certificate2Collection Pem(string path)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        if (collection.Count == 0) throw new System.Security.Cryptography.CryptographicException("no certificate in it");
        return collection;
    }

    /// <summary>Reads the store into <see cref="AcmeCertificates"/> when it changed (checked at most every StoreRefresh unless forced).</summary>
    private async Task RefreshAsync(bool force, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (!force && now - _lastRefresh < _settings.StoreRefresh) return;
        var version = await _store.CertificatesVersionAsync(ct);
        _lastRefresh = now;
        if (version == _certificates.Version) return;
        foreach (var problem in _certificates.Load(await _store.CertificatesAsync(ct), version)) LogStoreFailed(problem);
    }

    /// <summary>Renew when a third of the certificate's lifetime is left (30 days of Let's Encrypt's 90, as Traefik does).</summary>
    internal static bool DueForRenewal(AcmeCertificateRecord record, DateTimeOffset now) =>
        record.NotAfter - now < (record.NotAfter - record.NotBefore) / 3;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        foreach (var client in _clients.Values) client.Dispose();
        foreach (var (key, _) in _accounts.Values) key.Dispose();
        _stopping?.Dispose();
    }

    [LoggerMessage(1, LogLevel.Information, "ACME certificate for {Domains} obtained by certResolver {Resolver}, valid until {NotAfter:O}")]
    private partial void LogObtained(string domains, string resolver, DateTimeOffset notAfter);

    [LoggerMessage(2, LogLevel.Error, "Unable to obtain an ACME certificate for {Domains} from certResolver {Resolver} ({CaServer}): {Reason}. Retrying in {Delay}")]
    private partial void LogObtainFailed(string domains, string resolver, string caServer, string reason, TimeSpan delay);

    [LoggerMessage(3, LogLevel.Information, "Renewing the ACME certificate for {Domains} of certResolver {Resolver}, valid until {NotAfter:O}")]
    private partial void LogRenewing(string domains, string resolver, DateTimeOffset notAfter);

    [LoggerMessage(4, LogLevel.Information, "ACME account registered at {CaServer}: {AccountUrl}")]
    private partial void LogAccountRegistered(string caServer, string accountUrl);

    [LoggerMessage(5, LogLevel.Warning, "ACME: {Problem}")]
    private partial void LogConfigProblem(string problem);

    [LoggerMessage(6, LogLevel.Error, "ACME certificate store: {Reason}")]
    private partial void LogStoreFailed(string reason);

    [LoggerMessage(7, LogLevel.Debug, "The ACME certificate for {Domains} of certResolver {Resolver} is being ordered by another replica")]
    private partial void LogHeldElsewhere(string domains, string resolver);
}
