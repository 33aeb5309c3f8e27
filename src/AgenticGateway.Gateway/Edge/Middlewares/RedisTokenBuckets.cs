using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>rateLimit.redis</c> (v3.4): where the shared buckets live. <c>poolSize</c>, <c>minIdleConns</c>,
/// <c>maxActiveConns</c> and <c>writeTimeout</c> are accepted for compatibility; StackExchange.Redis multiplexes one
/// connection per endpoint, so there is no pool to size.
/// </summary>
internal sealed record RedisBucketOptions(
    IReadOnlyList<string> Endpoints,
    string? Username,
    string? Password,
    int Database,
    TimeSpan ReadTimeout,
    TimeSpan DialTimeout,
    string? TlsCa,
    string? TlsCert,
    string? TlsKey,
    bool TlsInsecureSkipVerify,
    bool Tls)
{
    public static RedisBucketOptions Read(EdgeOptions map)
    {
        var endpoints = map.Strings("endpoints");
        var username = map.String("username");
        var password = map.String("password");
        var db = map.Int("db", 0) ?? 0;
        map.Int("poolSize", 0);
        map.Int("minIdleConns", 0);
        map.Int("maxActiveConns", 0);
        var read = map.Duration("readTimeout") ?? TimeSpan.FromSeconds(3);
        map.Duration("writeTimeout");
        var dial = map.Duration("dialTimeout") ?? TimeSpan.FromSeconds(5);
        var tls = map.Map("tls");
        string? ca = null, cert = null, key = null;
        var insecure = false;
        if (tls is not null)
        {
            ca = tls.String("ca");
            cert = tls.String("cert");
            key = tls.String("key");
            insecure = tls.Bool("insecureSkipVerify") ?? false;
            tls.ReportUnknown();
            if (string.IsNullOrEmpty(cert) != string.IsNullOrEmpty(key))
                map.Error(tls.Path, "cert and key go together: set both or neither");
        }
        map.ReportUnknown();
        if (endpoints.IsEmpty) endpoints = ["localhost:6379"];
        foreach (var endpoint in endpoints)
            if (!endpoint.Contains(':')) map.Error(EdgeNode.ChildPath(map.Path, "endpoints"), $"'{endpoint}' is not host:port");
        return new RedisBucketOptions(endpoints, username, password, db, read, dial, ca, cert, key, insecure, tls is not null);
    }

    /// <summary>Identifies one connection (endpoints, credentials, TLS); kept in memory only, never logged.</summary>
    public string ConnectionKey => string.Join('\n', [.. Endpoints, Username ?? "", Password ?? "", Database.ToString(CultureInfo.InvariantCulture),
        ReadTimeout.Ticks.ToString(CultureInfo.InvariantCulture), DialTimeout.Ticks.ToString(CultureInfo.InvariantCulture), Tls ? "tls" : "", TlsCa ?? "", TlsCert ?? "", TlsKey ?? "", TlsInsecureSkipVerify ? "insecure" : ""]);

    public ConfigurationOptions ToConfiguration()
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = Milliseconds(DialTimeout),
            SyncTimeout = Milliseconds(ReadTimeout),
            AsyncTimeout = Milliseconds(ReadTimeout),
            DefaultDatabase = Database,
            User = string.IsNullOrEmpty(Username) ? null : Username,
            Password = string.IsNullOrEmpty(Password) ? null : Password,
            // A call while disconnected fails at once (and the request gets Traefik's 500) instead of waiting in a backlog.
            BacklogPolicy = BacklogPolicy.FailFast,
            ReconnectRetryPolicy = new LinearRetry(1000),
            Ssl = Tls,
        };
        foreach (var endpoint in Endpoints) options.EndPoints.Add(endpoint);
        if (Tls)
        {
            if (!string.IsNullOrEmpty(TlsCert) && !string.IsNullOrEmpty(TlsKey))
            {
                var client = X509Certificate2.CreateFromPemFile(TlsCert, TlsKey);
                options.CertificateSelection += (_, _, _, _, _) => client;
            }
            if (TlsInsecureSkipVerify) options.CertificateValidation += (_, _, _, _) => true;
            else if (!string.IsNullOrEmpty(TlsCa))
            {
                var authority = X509CertificateLoader.LoadCertificateFromFile(TlsCa);
                options.CertificateValidation += (_, certificate, _, errors) => ValidateWith(authority, certificate, errors);
            }
        }
        return options;
    }

    private static bool ValidateWith(X509Certificate2 authority, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }

    private static int Milliseconds(TimeSpan value) => value <= TimeSpan.Zero ? int.MaxValue : (int)Math.Min(int.MaxValue, value.TotalMilliseconds);
}

/// <summary>
/// Token buckets in Redis, shared by every replica whose middleware has the same name: one Lua script refills, takes
/// and stores atomically on Redis's clock (replicas' clocks may differ), so two replicas never spend one token twice.
/// </summary>
internal sealed class RedisTokenBuckets : ITokenBuckets
{
    // Traefik's key prefix, so a Traefik and this edge pointed at one Redis with the same middleware name share buckets' names.
    private const string Prefix = "rate:";

    // KEYS[1] the bucket. ARGV: tokens per microsecond, burst, ttl seconds, maximum wait in microseconds.
    // Returns the wait in microseconds, as text (Lua numbers returned to Redis lose their fraction).
    private const string ReserveScript = """
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local max_delay = tonumber(ARGV[4])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'last')
        local tokens = tonumber(state[1])
        local last = tonumber(state[2])
        if tokens == nil or last == nil then
          tokens = burst
          last = now
        end
        if now < last then last = now end
        tokens = math.min(burst, tokens + (now - last) * rate) - 1
        local wait = 0
        if tokens < 0 then
          wait = -tokens / rate
          if wait > max_delay then tokens = tokens + 1 end
        end
        redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'last', string.format('%d', now))
        redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
        return string.format('%.17g', wait)
        """;

    // One multiplexer per distinct connection, for the process: a reload rebuilds the middleware, not the connection.
    private static readonly ConcurrentDictionary<string, Lazy<ConnectionMultiplexer>> Connections = new(StringComparer.Ordinal);

    private readonly RedisBucketOptions _options;
    private readonly RedisValue[] _args;
    private readonly ILogger _logger;

    public RedisTokenBuckets(RedisBucketOptions options, double rate, long burst, TimeSpan maxDelay, TimeSpan ttl, ILogger<RedisTokenBuckets> logger)
    {
        _options = options;
        _logger = logger;
        _args =
        [
            (rate / 1_000_000).ToString("R", CultureInfo.InvariantCulture),
            burst,
            (long)Math.Ceiling(ttl.TotalSeconds),
            (long)maxDelay.TotalMicroseconds,
        ];
    }

    public async ValueTask<TimeSpan> ReserveAsync(string source, CancellationToken cancellationToken)
    {
        var mux = Connections.GetOrAdd(_options.ConnectionKey, _ => new Lazy<ConnectionMultiplexer>(Connect)).Value;
        var result = await mux.GetDatabase().ScriptEvaluateAsync(ReserveScript, [Prefix + source], _args)
            .WaitAsync(_options.ReadTimeout <= TimeSpan.Zero ? Timeout.InfiniteTimeSpan : _options.ReadTimeout, cancellationToken);
        var micros = double.Parse((string)result!, NumberStyles.Float, CultureInfo.InvariantCulture);
        return TimeSpan.FromMicroseconds(micros);
    }

    private ConnectionMultiplexer Connect()
    {
        // AbortOnConnectFail is off: an unreachable Redis yields a multiplexer that keeps reconnecting; calls fail meanwhile.
        var mux = ConnectionMultiplexer.Connect(_options.ToConfiguration());
        TrafficLog.RedisConnecting(_logger, string.Join(", ", _options.Endpoints), mux.IsConnected);
        return mux;
    }
}
