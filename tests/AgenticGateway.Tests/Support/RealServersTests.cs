using System.Net;
using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;

namespace AgenticGateway.Tests.Support;

/// <summary>The private Redis and PostgreSQL servers the integration tests run against really work.</summary>
[Trait("Category", "integration")]
public class RealServersTests
{
    [Fact]
    public async Task Redis_shared_instance_stores_and_reads_a_value()
    {
        var redis = await RedisInstance.SharedAsync();
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var database = connection.GetDatabase();
        var key = $"realservers:{Guid.NewGuid():N}";

        await database.StringSetAsync(key, "hello");

        Assert.Equal("hello", (string?)await database.StringGetAsync(key));
        Assert.Same(redis, await RedisInstance.SharedAsync());
    }

    [Fact]
    public async Task Redis_stop_refuses_connections_and_restart_serves_again_on_the_same_port()
    {
        await using var redis = await RedisInstance.StartAsync();
        var port = redis.Port;
        using (var before = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint))
            await before.GetDatabase().StringSetAsync("k", "v");

        await redis.StopAsync();

        using (var client = new TcpClient())
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",connectTimeout=1000"));

        await redis.RestartAsync();

        Assert.Equal(port, redis.Port);
        using var after = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var database = after.GetDatabase();
        Assert.True((await database.StringGetAsync("k")).IsNull); // no persistence: a restart starts empty
        await database.StringSetAsync("k", "again");
        Assert.Equal("again", (string?)await database.StringGetAsync("k"));
    }

    [Fact]
    public async Task Postgres_databases_are_separate()
    {
        var postgres = await PostgresInstance.SharedAsync();
        var first = await postgres.CreateDatabaseAsync("realservers");
        var second = await postgres.CreateDatabaseAsync("realservers");
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(first).Database, new NpgsqlConnectionStringBuilder(second).Database);

        await Execute(first, "CREATE TABLE only_in_first (id int)");

        Assert.True(await Scalar<bool>(first, "SELECT to_regclass('only_in_first') IS NOT NULL"));
        Assert.True(await Scalar<bool>(second, "SELECT to_regclass('only_in_first') IS NULL"));
        Assert.Equal(new NpgsqlConnectionStringBuilder(second).Database, await Scalar<string>(second, "SELECT current_database()"));
    }

    [Fact]
    public async Task Postgres_round_trips_rows()
    {
        var connectionString = await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync();
        await Execute(connectionString, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");

        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO items (id, name) VALUES (@id, @name)", connection);
            insert.Parameters.AddWithValue("id", 7);
            insert.Parameters.AddWithValue("name", "seven ✓");
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        Assert.Equal("seven ✓", await Scalar<string>(connectionString, "SELECT name FROM items WHERE id = 7"));
    }

    [Fact]
    public void A_missing_server_binary_fails_naming_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            LocalServers.Require("agw-no-such-server", [Path.GetTempPath()], "agw-no-such-package"));

        Assert.Contains("agw-no-such-server not found", error.Message);
        Assert.Contains("agw-no-such-package", error.Message);
    }

    private static async Task Execute(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> Scalar<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
