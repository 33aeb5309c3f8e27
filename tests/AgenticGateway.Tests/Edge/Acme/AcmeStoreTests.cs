using AgenticGateway.Edge;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>
/// The ACME store on each database: a lease is one holder's until it expires or is released; the first account saved
/// wins a race; a certificate saved again replaces its row; challenges expire; a database of schema version 6 upgrades.
/// </summary>
[Trait("Category", "integration")]
public sealed class AcmeStoreTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _data = Directory.CreateTempSubdirectory("agw-acme-store-").FullName;

    public void Dispose() => LocalServers.DeleteDirectory(_data);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_lease_is_one_holders_until_released_or_expired(string backend)
    {
        var (store, clock, _) = await OpenAsync(backend);
        Assert.True(await store.TryLeaseAsync("certificate:le:a", "replica-1", TimeSpan.FromMinutes(10), None));
        Assert.False(await store.TryLeaseAsync("certificate:le:a", "replica-2", TimeSpan.FromMinutes(10), None));
        Assert.True(await store.TryLeaseAsync("certificate:le:b", "replica-2", TimeSpan.FromMinutes(10), None));
        Assert.True(await store.TryLeaseAsync("certificate:le:a", "replica-1", TimeSpan.FromMinutes(10), None));   // its own: extended

        await store.ReleaseLeaseAsync("certificate:le:a", "replica-2", None);   // not the holder: no effect
        Assert.False(await store.TryLeaseAsync("certificate:le:a", "replica-2", TimeSpan.FromMinutes(10), None));
        await store.ReleaseLeaseAsync("certificate:le:a", "replica-1", None);
        Assert.True(await store.TryLeaseAsync("certificate:le:a", "replica-2", TimeSpan.FromMinutes(10), None));

        // A crashed holder's lease lapses.
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.True(await store.TryLeaseAsync("certificate:le:a", "replica-3", TimeSpan.FromMinutes(10), None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Accounts_certificates_and_challenges_round_trip(string backend)
    {
        var (store, clock, _) = await OpenAsync(backend);
        var first = new AcmeAccountRecord("https://ca/dir", "a@example.com", "KEY1", "https://ca/acct/1");
        Assert.Equal(first, await store.AddAccountAsync(first, None));
        // A replica that registered at the same moment gets the stored one back.
        Assert.Equal(first, await store.AddAccountAsync(first with { PrivateKeyPem = "KEY2", AccountUrl = "https://ca/acct/2" }, None));
        await store.UpdateAccountUrlAsync("https://ca/dir", "a@example.com", "https://ca/acct/3", None);
        Assert.Equal("https://ca/acct/3", (await store.FindAccountAsync("https://ca/dir", "a@example.com", None))!.AccountUrl);
        Assert.Null(await store.FindAccountAsync("https://ca/dir", "", None));

        Assert.Null(await store.CertificatesVersionAsync(None));
        var at = new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.Zero);
        var record = new AcmeCertificateRecord("le", "a.example.com,b.example.com", "CHAIN", "KEY", at, at.AddDays(90), at);
        await store.SaveCertificateAsync(record, None);
        var version = await store.CertificatesVersionAsync(None);
        Assert.Equal(record, Assert.Single(await store.CertificatesAsync(None)));
        var renewed = record with { CertificatePem = "CHAIN2", NotAfter = at.AddDays(180), UpdatedAt = at.AddDays(60) };
        await store.SaveCertificateAsync(renewed, None);
        Assert.Equal(renewed, Assert.Single(await store.CertificatesAsync(None)));
        Assert.NotEqual(version, await store.CertificatesVersionAsync(None));

        await store.PublishChallengeAsync("http-01", "tok", "tok.thumb", TimeSpan.FromMinutes(10), None);
        Assert.Equal("tok.thumb", await store.FindChallengeAsync("http-01", "tok", None));
        Assert.Null(await store.FindChallengeAsync("tls-alpn-01", "tok", None));
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Null(await store.FindChallengeAsync("http-01", "tok", None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_database_of_schema_version_6_upgrades_and_keeps_its_data(string backend)
    {
        var (_, _, location) = await OpenAsync(backend);
        await using (var c = await Database(backend, location).OpenAsync(None))
        {
            await c.ExecuteAsync("ALTER TABLE spend_logs DROP COLUMN cache_hit; ALTER TABLE spend_logs DROP COLUMN guardrail_information");
            await c.ExecuteAsync("DROP TABLE routing_decisions");
            await c.ExecuteAsync("DROP TABLE edge_acme_accounts; DROP TABLE edge_certificates; DROP TABLE edge_acme_challenges; DROP TABLE edge_acme_leases; DELETE FROM schema_migrations WHERE version > 6");
            await c.ExecuteAsync("INSERT INTO mcp_tool_pins (server, tool, approved_hash, updated_at) VALUES ('srv', 'tool', 'h1', '2026-12-01T00:00:00.0000000Z')");
        }
        var upgraded = Database(backend, location);
        var store = new AcmeStore(upgraded, TimeProvider.System);
        Assert.True(await store.TryLeaseAsync("x", "me", TimeSpan.FromMinutes(1), None));
        await using var check = await upgraded.OpenAsync(None);
        Assert.Equal(Schema.Version, await check.ExecuteScalarAsync<int>("SELECT MAX(version) FROM schema_migrations"));
        Assert.Equal("h1", await check.ExecuteScalarAsync<string>("SELECT approved_hash FROM mcp_tool_pins WHERE server = 'srv'"));
    }

    private async Task<(AcmeStore Store, FakeTimeProvider Clock, string Location)> OpenAsync(string backend)
    {
        var location = backend == "postgres" ? await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync("acme") : _data;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.Zero));
        return (new AcmeStore(Database(backend, location), clock), clock, location);
    }

    private static IDatabase Database(string backend, string location) =>
        backend == "postgres" ? new PostgresDatabase(location) : SqliteDatabase.ForDataDirectory(location);
}
