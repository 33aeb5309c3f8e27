using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace AgenticGateway.Storage;

internal enum SqlDialect { Sqlite, Postgres }

internal static class SqlDialects
{
    /// <summary>
    /// "column is one of the list @name": Dapper expands <c>IN @name</c> for SQLite, but hands Npgsql the list as one
    /// array parameter, which PostgreSQL matches with <c>= ANY(@name)</c>.
    /// </summary>
    public static string In(this IDatabase db, string column, string parameter) =>
        db.Dialect == SqlDialect.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    /// <summary>Deletes the rows whose <paramref name="column"/> is one of <paramref name="ids"/>; returns the ids that existed.</summary>
    public static async Task<IReadOnlyList<string>> DeleteWhereInAsync(this IDatabase db, string table, string column, IReadOnlyList<string> ids, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<string>($"DELETE FROM {table} WHERE {db.In(column, "ids")} RETURNING {column}", new { ids = ids.ToArray() })).ToList();
    }
}

/// <summary>
/// The gateway's relational store: SQLite in the data directory by default, PostgreSQL when database_url is set.
/// The schema is created and migrated on first use, so a gateway that never stores anything writes nothing.
/// </summary>
internal interface IDatabase
{
    SqlDialect Dialect { get; }
    /// <summary>An open connection to a migrated database.</summary>
    Task<DbConnection> OpenAsync(CancellationToken cancellationToken);
}

/// <summary>Shared first-use migration for both backends.</summary>
internal abstract class MigratingDatabase : IDatabase
{
    private readonly SemaphoreSlim _migrationLock = new(1, 1);
    private volatile bool _migrated;

    public abstract SqlDialect Dialect { get; }

    /// <summary>Whether this process has opened the database yet (and so created and migrated it).</summary>
    public bool Opened => _migrated;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_migrated) await MigrateOnceAsync(cancellationToken);
        return await OpenRawAsync(cancellationToken);
    }

    protected abstract Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken);
    protected virtual Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    protected virtual void BeforeFirstOpen() { }

    private async Task MigrateOnceAsync(CancellationToken cancellationToken)
    {
        await _migrationLock.WaitAsync(cancellationToken);
        try
        {
            if (_migrated) return;
            BeforeFirstOpen();
            await using var c = await OpenRawAsync(cancellationToken);
            await PrepareAsync(c, cancellationToken);
            await Schema.MigrateAsync(c, Dialect, cancellationToken);
            _migrated = true;
        }
        finally
        {
            _migrationLock.Release();
        }
    }
}

internal sealed class SqliteDatabase(string connectionString, string? directory = null) : MigratingDatabase
{
    public static SqliteDatabase ForDataDirectory(string directory)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "gateway.db"), Pooling = true, DefaultTimeout = 30 };
        return new SqliteDatabase(builder.ToString(), directory);
    }

    public override SqlDialect Dialect => SqlDialect.Sqlite;

    protected override void BeforeFirstOpen()
    {
        if (directory is null) return;
        Directory.CreateDirectory(directory);
        // Key hashes, spend and the audit log: a new database is the gateway's user's alone (SQLite would create it
        // 0644 under the usual umask, and gives its -wal and -shm files the database file's mode). An empty file is
        // a new database to SQLite.
        var file = Path.Combine(directory, "gateway.db");
        if (!OperatingSystem.IsWindows() && !File.Exists(file))
        {
            try { using var _ = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }); }
            catch (IOException) when (File.Exists(file)) { }   // created meanwhile: SQLite opens it as it is
        }
    }

    protected override async Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // Writers wait for each other instead of failing at once (spend writer and management API share the file).
        // In WAL mode, synchronous=NORMAL keeps every commit through a process crash and skips an fsync per commit;
        // only a power loss can undo the last commits.
        // 8 MB of page cache instead of SQLite's 2 MB: the spend log's ten b-trees (a row and nine indexes, three of them on
        // random ids) outgrow 2 MB within minutes at full load, and every insert then reads pages back with pread(2). Per pooled
        // connection: the spend writer's and the few the management API and key lookups use.
        await connection.ExecuteAsync("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192");
        return connection;
    }

    protected override Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.ExecuteAsync("PRAGMA journal_mode=WAL");
}

internal sealed class PostgresDatabase : MigratingDatabase, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    public PostgresDatabase(string databaseUrl) => _source = NpgsqlDataSource.Create(ToConnectionString(databaseUrl));

    public override SqlDialect Dialect => SqlDialect.Postgres;

    protected override async Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken) => await _source.OpenConnectionAsync(cancellationToken);

    /// <summary>Accepts LiteLLM's URL form (postgresql://user:pass@host:port/db?sslmode=...) or an Npgsql connection string.</summary>
    public static string ToConnectionString(string databaseUrl)
    {
        if (!databaseUrl.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !databaseUrl.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return databaseUrl;
        var uri = new Uri(databaseUrl);
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            b.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) b.Password = Uri.UnescapeDataString(parts[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv.Length == 2 && kv[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase) && Enum.TryParse<SslMode>(kv[1], true, out var mode)) b.SslMode = mode;
        }
        return b.ConnectionString;
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
