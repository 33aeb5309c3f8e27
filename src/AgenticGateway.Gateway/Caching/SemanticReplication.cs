using System.Buffers.Binary;
using AgenticGateway.Limits;
using StackExchange.Redis;

namespace AgenticGateway.Caching;

/// <summary>
/// Keeps every replica's <see cref="VectorIndex"/> the same through Redis: each indexed prompt is a Redis string
/// <c>{namespace}agw:semvec:{entry key}</c> (expiring with the entry, so Redis forgets it when the answer expires)
/// and a message on the channel <c>{namespace}agw:semantic</c> tells the other replicas at once; a replica that
/// starts (or reconnects) loads every stored prompt with SCAN. Removals (invalidation, flush) travel the same way.
/// Best effort: with Redis down the local index still works, and the replicas catch up when it is back.
/// </summary>
internal sealed partial class SemanticReplication : IDisposable
{
    private const byte Added = (byte)'A';
    private const byte Deleted = (byte)'D';
    private const byte Flushed = (byte)'F';

    private readonly VectorIndex _index;
    private readonly ILogger _logger;
    private readonly string _prefix;
    private readonly RedisChannel _channel;
    // Our own messages come back to us; the origin id skips them.
    private readonly byte[] _origin = Guid.NewGuid().ToByteArray();
    private readonly CancellationTokenSource _disposed = new();
    private ConnectionMultiplexer? _mux;
    private readonly Task _started;

    public SemanticReplication(string url, string? cacheNamespace, VectorIndex index, ILogger logger)
    {
        Url = url;
        _index = index;
        _logger = logger;
        _prefix = string.IsNullOrEmpty(cacheNamespace) ? "" : cacheNamespace + ":";
        _channel = RedisChannel.Literal(_prefix + "agw:semantic");
        _started = Task.Run(StartAsync);
    }

    public string Url { get; }

    /// <summary>Completes once the first load has run (or failed): tests and the bench wait on it.</summary>
    public Task Started => _started;

    private IDatabase? Database => _mux is { IsConnected: true } m ? m.GetDatabase() : null;

    private async Task StartAsync()
    {
        try
        {
            var mux = await ConnectionMultiplexer.ConnectAsync(RedisConnection.Parse(Url)).WaitAsync(_disposed.Token);
            _mux = mux;
            await mux.GetSubscriber().SubscribeAsync(_channel, (_, message) => Receive(message));
            // After a reconnect, messages sent meanwhile are lost: load again.
            mux.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Interactive) _ = Task.Run(LoadAsync);
            };
            await LoadAsync();
        }
        catch (Exception ex) when (ex is RedisException or OperationCanceledException or TimeoutException)
        {
            if (!_disposed.IsCancellationRequested) Log.SemanticRedisFailed(_logger, "connect", ex.Message);
        }
    }

    private async Task LoadAsync()
    {
        if (_mux is not { } mux) return;
        try
        {
            var db = mux.GetDatabase();
            foreach (var endpoint in mux.GetEndPoints())
            {
                var server = mux.GetServer(endpoint);
                if (server.IsReplica) continue;
                await foreach (var key in server.KeysAsync(db.Database, _prefix + "agw:semvec:*", pageSize: 500).WithCancellation(_disposed.Token))
                {
                    var value = await db.StringGetAsync(key);
                    if (value.HasValue && Decode(value!, 0) is { } prompt) _index.Add(prompt);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or OperationCanceledException or TimeoutException)
        {
            if (!_disposed.IsCancellationRequested) Log.SemanticRedisFailed(_logger, "load", ex.Message);
        }
    }

    private void Receive(RedisValue message)
    {
        byte[]? data = message;
        if (data is null || data.Length < 17 || data.AsSpan(1, 16).SequenceEqual(_origin)) return;
        switch (data[0])
        {
            case Added:
                if (Decode(data, 17) is { } prompt) _index.Add(prompt);
                break;
            case Deleted:
                foreach (var key in System.Text.Encoding.UTF8.GetString(data, 17, data.Length - 17).Split('\n', StringSplitOptions.RemoveEmptyEntries)) _index.Remove(key);
                break;
            case Flushed:
                _index.Clear();
                break;
        }
    }

    public async Task AddAsync(IndexedPrompt prompt, DateTimeOffset now)
    {
        if (Database is not { } db) return;
        var payload = Encode(prompt);
        var ttl = prompt.ExpiresAt - now;
        if (ttl <= TimeSpan.Zero) return;
        try
        {
            await db.StringSetAsync(_prefix + "agw:semvec:" + prompt.Key, payload, ttl);
            await db.PublishAsync(_channel, Message(Added, payload));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.SemanticRedisFailed(_logger, "add", ex.Message);
        }
    }

    public async Task RemoveAsync(IReadOnlyCollection<string> keys)
    {
        if (keys.Count == 0 || Database is not { } db) return;
        try
        {
            await db.KeyDeleteAsync(keys.Select(k => (RedisKey)(_prefix + "agw:semvec:" + k)).ToArray());
            await db.PublishAsync(_channel, Message(Deleted, System.Text.Encoding.UTF8.GetBytes(string.Join('\n', keys))));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.SemanticRedisFailed(_logger, "remove", ex.Message);
        }
    }

    public async Task FlushAsync()
    {
        if (_mux is not { IsConnected: true } mux) return;
        try
        {
            var db = mux.GetDatabase();
            foreach (var endpoint in mux.GetEndPoints())
            {
                var server = mux.GetServer(endpoint);
                if (server.IsReplica) continue;
                var batch = new List<RedisKey>();
                await foreach (var key in server.KeysAsync(db.Database, _prefix + "agw:semvec:*", pageSize: 500))
                {
                    batch.Add(key);
                    if (batch.Count == 500) { await db.KeyDeleteAsync([.. batch]); batch.Clear(); }
                }
                if (batch.Count > 0) await db.KeyDeleteAsync([.. batch]);
            }
            await db.PublishAsync(_channel, Message(Flushed, []));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.SemanticRedisFailed(_logger, "flush", ex.Message);
        }
    }

    private byte[] Message(byte kind, ReadOnlySpan<byte> payload)
    {
        var message = new byte[17 + payload.Length];
        message[0] = kind;
        _origin.CopyTo(message, 1);
        payload.CopyTo(message.AsSpan(17));
        return message;
    }

    /// <summary>Version 1: the strings (length-prefixed UTF-8), the expiry (unix ms), then the vector's floats (little-endian).</summary>
    internal static byte[] Encode(IndexedPrompt p)
    {
        using var stream = new MemoryStream(64 + p.PromptText.Length * 2 + p.Vector.Length * 4);
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8);
        w.Write((byte)1);
        w.Write(p.Partition);
        w.Write(p.ModelGroup);
        w.Write(p.Key);
        w.Write(p.PromptText);
        w.Write(p.ExpiresAt.ToUnixTimeMilliseconds());
        w.Write(p.Vector.Length);
        Span<byte> f = stackalloc byte[4];
        foreach (var v in p.Vector)
        {
            BinaryPrimitives.WriteSingleLittleEndian(f, v);
            w.Write(f);
        }
        w.Flush();
        return stream.ToArray();
    }

    internal static IndexedPrompt? Decode(byte[] data, int offset)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(data, offset, data.Length - offset), System.Text.Encoding.UTF8);
            if (r.ReadByte() != 1) return null;
            var partition = r.ReadString();
            var model = r.ReadString();
            var key = r.ReadString();
            var text = r.ReadString();
            var expires = DateTimeOffset.FromUnixTimeMilliseconds(r.ReadInt64());
            var length = r.ReadInt32();
            if (length is <= 0 or > 65_536) return null;
            var bytes = r.ReadBytes(length * 4);
            if (bytes.Length != length * 4) return null;
            var vector = new float[length];
            for (var i = 0; i < length; i++) vector[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
            return new IndexedPrompt(partition, model, key, text, vector, expires);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or FormatException or ArgumentException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _mux?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Semantic cache: Redis {Operation} failed ({Reason}); the local index goes on alone until Redis is back")]
        public static partial void SemanticRedisFailed(ILogger logger, string operation, string reason);
    }
}
