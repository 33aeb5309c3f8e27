using System.Globalization;
using AgenticGateway.Limits;
using StackExchange.Redis;

namespace AgenticGateway.Caching;

/// <summary>
/// The cache in Redis (<c>type: redis</c> and <c>redis-semantic</c>), shared by every replica. An entry is a hash that
/// expires with the entry; sets index entries by model group and by user (for invalidation) and list them all (for
/// flushall without scanning the keyspace), each living as long as its longest entry. Keys start with
/// <c>agw:cache:</c> and the configured namespace. While Redis is down the cache is bypassed: a lookup is a miss, a
/// store is dropped; never an error for the request.
/// </summary>
internal sealed class RedisCacheStore(RedisConnection redis, string? ns) : ICacheStore
{
    private readonly string _prefix = "agw:cache:" + (ns is { Length: > 0 } ? ns + ":" : "");

    // KEYS: entry, model index, user index (or ""), all-entries set, index-of-indexes set. ARGV[1]: ttl ms; then field/value pairs.
    private const string SetScript = """
        local ttl = tonumber(ARGV[1])
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], unpack(ARGV, 2))
        redis.call('PEXPIRE', KEYS[1], ttl)
        local sets = {KEYS[2], KEYS[4], KEYS[5]}
        if KEYS[3] ~= '' then table.insert(sets, KEYS[3]) end
        redis.call('SADD', KEYS[2], KEYS[1])
        redis.call('SADD', KEYS[4], KEYS[1])
        redis.call('SADD', KEYS[5], KEYS[2])
        if KEYS[3] ~= '' then
          redis.call('SADD', KEYS[3], KEYS[1])
          redis.call('SADD', KEYS[5], KEYS[3])
        end
        for _, s in ipairs(sets) do
          if redis.call('PTTL', s) < ttl then redis.call('PEXPIRE', s, ttl) end
        end
        return 1
        """;

    // KEYS[1]: a set of entry keys. Deletes them and the set; returns how many entries existed.
    private const string DeleteMembersScript = """
        local members = redis.call('SMEMBERS', KEYS[1])
        local n = 0
        for i = 1, #members, 500 do
          n = n + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
        end
        redis.call('DEL', KEYS[1])
        return n
        """;

    public string Prefix => _prefix;

    private RedisKey EntryKey(string key) => _prefix + "e:" + key;
    private RedisKey ModelIndex(string model) => _prefix + "m:" + model;
    private RedisKey UserIndex(string user) => _prefix + "u:" + user;
    private RedisKey AllIndex => _prefix + "all";
    private RedisKey Indexes => _prefix + "indexes";

    public async ValueTask<CacheEntry?> GetAsync(string key, CancellationToken ct)
    {
        if (!redis.IsUp) return null;
        try
        {
            var fields = await redis.Database.HashGetAllAsync(EntryKey(key)).WaitAsync(redis.CallTimeout, ct);
            return fields.Length == 0 ? null : Read(key, fields);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            redis.MarkDown(ex);
            return null;
        }
    }

    public async ValueTask SetAsync(CacheEntry entry, CancellationToken ct)
    {
        if (!redis.IsUp) return;
        var ttl = (long)(entry.ExpiresAt - entry.CreatedAt).TotalMilliseconds;
        if (ttl <= 0) return;
        var args = new List<RedisValue>(26) { ttl };
        void Add(string name, RedisValue value) { args.Add(name); args.Add(value); }
        Add("partition", entry.Partition);
        Add("model_group", entry.ModelGroup);
        if (entry.UserId is { } user) Add("user_id", user);
        Add("call_type", entry.CallType);
        Add("stream", entry.Stream ? 1 : 0);
        Add("content_type", entry.ContentType);
        Add("body", entry.Body);
        Add("prompt_tokens", entry.PromptTokens);
        Add("completion_tokens", entry.CompletionTokens);
        Add("cost_nanos", entry.CostNanos);
        Add("created_at", entry.CreatedAt.ToUnixTimeMilliseconds());
        Add("expires_at", entry.ExpiresAt.ToUnixTimeMilliseconds());
        if (entry.PromptText is { } prompt) Add("prompt_text", prompt);
        RedisKey[] keys = [EntryKey(entry.Key), ModelIndex(entry.ModelGroup), entry.UserId is { } u ? UserIndex(u) : (RedisKey)"", AllIndex, Indexes];
        try
        {
            await redis.Database.ScriptEvaluateAsync(SetScript, keys, [.. args]).WaitAsync(redis.CallTimeout, ct);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            redis.MarkDown(ex);
        }
    }

    public async ValueTask<bool> DeleteAsync(string key, CancellationToken ct)
    {
        if (!redis.IsUp) return false;
        try { return await redis.Database.KeyDeleteAsync(EntryKey(key)).WaitAsync(redis.CallTimeout, ct); }
        catch (Exception ex) when (IsRedisFailure(ex)) { redis.MarkDown(ex); return false; }
    }

    public ValueTask<long> InvalidateModelAsync(string modelGroup, CancellationToken ct) => DeleteMembersAsync(ModelIndex(modelGroup), ct);

    public ValueTask<long> InvalidateUserAsync(string userId, CancellationToken ct) => DeleteMembersAsync(UserIndex(userId), ct);

    public async ValueTask FlushAllAsync(CancellationToken ct)
    {
        if (!redis.IsUp) return;
        await DeleteMembersAsync(Indexes, ct);
        await DeleteMembersAsync(AllIndex, ct);
    }

    public async ValueTask<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            await redis.Database.PingAsync().WaitAsync(redis.CallTimeout, ct);
            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex)) { return false; }
    }

    private async ValueTask<long> DeleteMembersAsync(RedisKey set, CancellationToken ct)
    {
        if (!redis.IsUp) return 0;
        try { return (long)await redis.Database.ScriptEvaluateAsync(DeleteMembersScript, [set]).WaitAsync(redis.CallTimeout, ct); }
        catch (Exception ex) when (IsRedisFailure(ex)) { redis.MarkDown(ex); return 0; }
    }

    private static CacheEntry? Read(string key, HashEntry[] fields)
    {
        string? partition = null, model = null, user = null, callType = null, contentType = null, prompt = null;
        byte[]? body = null;
        bool stream = false;
        long promptTokens = 0, completionTokens = 0, cost = 0, created = 0, expires = 0;
        foreach (var f in fields)
        {
            switch ((string?)f.Name)
            {
                case "partition": partition = f.Value; break;
                case "model_group": model = f.Value; break;
                case "user_id": user = f.Value; break;
                case "call_type": callType = f.Value; break;
                case "stream": stream = (long)f.Value == 1; break;
                case "content_type": contentType = f.Value; break;
                case "body": body = f.Value; break;
                case "prompt_tokens": promptTokens = (long)f.Value; break;
                case "completion_tokens": completionTokens = (long)f.Value; break;
                case "cost_nanos": cost = (long)f.Value; break;
                case "created_at": created = (long)f.Value; break;
                case "expires_at": expires = (long)f.Value; break;
                case "prompt_text": prompt = f.Value; break;
            }
        }
        // A hash written by something else, or half of one: not an entry.
        if (partition is null || model is null || callType is null || contentType is null || body is null) return null;
        return new CacheEntry
        {
            Key = key, Partition = partition, ModelGroup = model, UserId = user, CallType = callType, Stream = stream,
            ContentType = contentType, Body = body, PromptTokens = promptTokens, CompletionTokens = completionTokens, CostNanos = cost,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created), ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(expires), PromptText = prompt,
        };
    }

    internal static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;

    internal static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
