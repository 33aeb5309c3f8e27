using System.Globalization;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Edge;

/// <summary>An ACME account: its key (PKCS#8 PEM) and URL at one CA, for one email (empty: none).</summary>
internal sealed record AcmeAccountRecord(string CaServer, string Email, string PrivateKeyPem, string AccountUrl);

/// <summary>
/// A certificate a resolver obtained: <see cref="Domains"/> is the main domain then the SANs, comma-separated (the
/// identity Traefik gives it), the chain and key as PEM, and its validity.
/// </summary>
internal sealed record AcmeCertificateRecord(string Resolver, string Domains, string CertificatePem, string PrivateKeyPem, DateTimeOffset NotBefore, DateTimeOffset NotAfter, DateTimeOffset UpdatedAt);

/// <summary>
/// The edge's ACME state in the gateway's database (SQLite or PostgreSQL), so replicas share accounts, certificates
/// and pending challenges, and take turns ordering through leases. Times are ISO-8601 UTC text of one width, so
/// comparing the text compares the times. Keys are stored as Traefik's acme.json stores them (PEM, readable by the
/// database's owner only), since every replica must be able to use them.
/// </summary>
internal sealed class AcmeStore(IDatabase db, TimeProvider time)
{
    public async Task<AcmeAccountRecord?> FindAccountAsync(string caServer, string email, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition(
            "SELECT ca_server, email, private_key, account_url FROM edge_acme_accounts WHERE ca_server = @caServer AND email = @email",
            new { caServer, email }, cancellationToken: ct));
        return row is null ? null : new AcmeAccountRecord(row.ca_server, row.email, row.private_key, row.account_url);
    }

    /// <summary>Saves the account unless another replica saved one first; returns the one stored (use that one).</summary>
    public async Task<AcmeAccountRecord> AddAccountAsync(AcmeAccountRecord account, CancellationToken ct)
    {
        await using (var c = await db.OpenAsync(ct))
        {
            await c.ExecuteAsync(new CommandDefinition("""
                INSERT INTO edge_acme_accounts (ca_server, email, private_key, account_url, created_at)
                VALUES (@CaServer, @Email, @PrivateKeyPem, @AccountUrl, @now) ON CONFLICT (ca_server, email) DO NOTHING
                """, new { account.CaServer, account.Email, account.PrivateKeyPem, account.AccountUrl, now = Now() }, cancellationToken: ct));
        }
        return await FindAccountAsync(account.CaServer, account.Email, ct) ?? account;
    }

    /// <summary>Replaces the account's URL (the CA forgot the account and it was registered again with the same key).</summary>
    public async Task UpdateAccountUrlAsync(string caServer, string email, string accountUrl, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE edge_acme_accounts SET account_url = @accountUrl WHERE ca_server = @caServer AND email = @email",
            new { caServer, email, accountUrl }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<AcmeCertificateRecord>> CertificatesAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<CertificateRow>(new CommandDefinition(
            "SELECT resolver, domains, certificate, private_key, not_before, not_after, updated_at FROM edge_certificates", cancellationToken: ct));
        return [.. rows.Select(r => new AcmeCertificateRecord(r.resolver, r.domains, r.certificate, r.private_key, Parse(r.not_before), Parse(r.not_after), Parse(r.updated_at)))];
    }

    /// <summary>The newest change to any certificate, so replicas reload only when something changed.</summary>
    public async Task<string?> CertificatesVersionAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<string?>(new CommandDefinition("SELECT MAX(updated_at) || ':' || COUNT(*) FROM edge_certificates", cancellationToken: ct));
    }

    public async Task SaveCertificateAsync(AcmeCertificateRecord r, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO edge_certificates (resolver, domains, certificate, private_key, not_before, not_after, updated_at)
            VALUES (@Resolver, @Domains, @CertificatePem, @PrivateKeyPem, @notBefore, @notAfter, @updatedAt)
            ON CONFLICT (resolver, domains) DO UPDATE SET certificate = excluded.certificate, private_key = excluded.private_key,
                not_before = excluded.not_before, not_after = excluded.not_after, updated_at = excluded.updated_at
            """, new { r.Resolver, r.Domains, r.CertificatePem, r.PrivateKeyPem, notBefore = Text(r.NotBefore), notAfter = Text(r.NotAfter), updatedAt = Text(r.UpdatedAt) },
            cancellationToken: ct));
    }

    /// <summary>Publishes a challenge's key authorization (kind <c>http-01</c> by token, <c>tls-alpn-01</c> by domain) until it expires.</summary>
    public async Task PublishChallengeAsync(string kind, string name, string keyAuthorization, TimeSpan lifetime, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO edge_acme_challenges (kind, name, key_authorization, expires_at) VALUES (@kind, @name, @keyAuthorization, @expires)
            ON CONFLICT (kind, name) DO UPDATE SET key_authorization = excluded.key_authorization, expires_at = excluded.expires_at
            """, new { kind, name, keyAuthorization, expires = Text(time.GetUtcNow() + lifetime) }, cancellationToken: ct));
    }

    public async Task WithdrawChallengeAsync(string kind, string name, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        // Expired challenges of crashed replicas go with it.
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM edge_acme_challenges WHERE (kind = @kind AND name = @name) OR expires_at < @now",
            new { kind, name, now = Now() }, cancellationToken: ct));
    }

    public async Task<string?> FindChallengeAsync(string kind, string name, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT key_authorization FROM edge_acme_challenges WHERE kind = @kind AND name = @name AND expires_at > @now",
            new { kind, name, now = Now() }, cancellationToken: ct));
    }

    /// <summary>
    /// Takes the lease <paramref name="name"/> for <paramref name="holder"/> until <paramref name="lifetime"/> from now,
    /// when it is free, expired, or already the holder's. One statement, so two replicas cannot both take it.
    /// </summary>
    public async Task<bool> TryLeaseAsync(string name, string holder, TimeSpan lifetime, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var now = time.GetUtcNow();
        return await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO edge_acme_leases (name, holder, expires_at) VALUES (@name, @holder, @expires)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE edge_acme_leases.expires_at < @now OR edge_acme_leases.holder = excluded.holder
            """, new { name, holder, expires = Text(now + lifetime), now = Text(now) }, cancellationToken: ct)) == 1;
    }

    public async Task ReleaseLeaseAsync(string name, string holder, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM edge_acme_leases WHERE name = @name AND holder = @holder", new { name, holder }, cancellationToken: ct));
    }

    private string Now() => Text(time.GetUtcNow());

    private static string Text(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    // Dapper maps columns to these by name.
#pragma warning disable IDE1006
    private sealed record AccountRow(string ca_server, string email, string private_key, string account_url);
    private sealed record CertificateRow(string resolver, string domains, string certificate, string private_key, string not_before, string not_after, string updated_at);
#pragma warning restore IDE1006
}
