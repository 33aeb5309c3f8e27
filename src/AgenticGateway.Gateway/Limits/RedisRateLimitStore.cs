using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>
/// Rate-limit counters in Redis, shared by every replica: one Lua script checks all of a request's rules and counts
/// it in all of them atomically, on Redis's clock. Each counter is a hash of bucket number to count; a token rule also
/// keeps the tokens reserved by requests in flight, by the minute they were admitted (so a replica that dies before
/// settling holds them for an hour at most).
/// </summary>
internal sealed class RedisRateLimitStore(RedisConnection redis) : IRateLimitStore
{
    private const string Prefix = "agw:rl:";
    private const string InFlightSuffix = ":inflight";

    // KEYS: each rule's bucket hash, then each rule's in-flight hash (minute -> tokens reserved then, token rules only).
    // ARGV[1] = tokens; then per rule: limit, bucket_ms, is_tokens. Returns
    // {allowed, refused_index, retry_ms, minute, then per rule: bucket, remaining, reset_ms}.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local minute = math.floor(now / 60000)
        local tokens = tonumber(ARGV[1])
        local ring = 61
        local out = {1, -1, 0, minute}
        local n = #KEYS / 2
        for i = 1, n do
          local limit = tonumber(ARGV[2 + (i - 1) * 3])
          local bms = tonumber(ARGV[3 + (i - 1) * 3])
          local istok = ARGV[4 + (i - 1) * 3] == '1'
          local cost = istok and tokens or 1
          local cur = math.floor(now / bms)
          local h = redis.call('HGETALL', KEYS[i])
          local used = 0
          local oldest = nil
          for j = 1, #h, 2 do
            local b = tonumber(h[j])
            if b <= cur - ring then
              redis.call('HDEL', KEYS[i], h[j])
            else
              local c = tonumber(h[j + 1])
              used = used + c
              if c > 0 and (oldest == nil or b < oldest) then oldest = b end
            end
          end
          local pending = 0
          if istok then
            local p = redis.call('HGETALL', KEYS[n + i])
            for j = 1, #p, 2 do
              local v = tonumber(p[j + 1])
              -- a reservation older than an hour belongs to a replica that died before settling it
              if tonumber(p[j]) < minute - 60 or v <= 0 then redis.call('HDEL', KEYS[n + i], p[j]) else pending = pending + v end
            end
          end
          local reset = 0
          if oldest ~= nil then reset = math.max(0, (oldest + ring) * bms - now) end
          local remaining = limit - used - cost
          local fits = used + cost <= limit or (istok and pending == 0 and used < limit)
          if not fits and out[1] == 1 then
            out[1] = 0
            out[2] = i - 1
            out[3] = math.max(1, reset)
            remaining = limit - used
          end
          if remaining < 0 then remaining = 0 end
          out[5 + (i - 1) * 3] = cur
          out[6 + (i - 1) * 3] = remaining
          out[7 + (i - 1) * 3] = reset
        end
        if out[1] == 1 then
          for i = 1, n do
            local bms = tonumber(ARGV[3 + (i - 1) * 3])
            local istok = ARGV[4 + (i - 1) * 3] == '1'
            local cost = istok and tokens or 1
            redis.call('HINCRBY', KEYS[i], out[5 + (i - 1) * 3], cost)
            redis.call('PEXPIRE', KEYS[i], (ring + 1) * bms)
            if istok and tokens > 0 then
              redis.call('HINCRBY', KEYS[n + i], minute, tokens)
              redis.call('PEXPIRE', KEYS[n + i], 3720000)
            end
          end
        end
        return out
        """;

    // KEYS: the rule's bucket hash, its in-flight hash. ARGV: bucket, actual - reserved, minute, reserved.
    private const string SettleScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
          local v = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
          if v < 0 then redis.call('HSET', KEYS[1], ARGV[1], 0) end
        end
        if tonumber(ARGV[4]) > 0 and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then
          if redis.call('HINCRBY', KEYS[2], ARGV[3], -tonumber(ARGV[4])) <= 0 then redis.call('HDEL', KEYS[2], ARGV[3]) end
        end
        return 0
        """;

    public async ValueTask<LimitOutcome> AcquireAsync(IReadOnlyList<LimitRule> rules, long tokens, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[rules.Count * 2];
        var args = new RedisValue[1 + rules.Count * 3];
        args[0] = tokens;
        for (var i = 0; i < rules.Count; i++)
        {
            keys[i] = Prefix + rules[i].Key;
            keys[rules.Count + i] = Prefix + rules[i].Key + InFlightSuffix;
            args[1 + i * 3] = rules[i].Limit;
            args[2 + i * 3] = rules[i].BucketMs;
            args[3 + i * 3] = rules[i].Tokens ? 1 : 0;
        }
        var result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(AcquireScript, keys, args).WaitAsync(redis.CallTimeout, cancellationToken))!;
        var outcome = new LimitOutcome(rules.Count) { Allowed = (long)result[0] == 1, Refused = (int)(long)result[1], RetryAfterMs = (long)result[2], Minute = (long)result[3] };
        for (var i = 0; i < rules.Count; i++)
        {
            outcome.Bucket[i] = (long)result[4 + i * 3];
            outcome.Remaining[i] = (long)result[5 + i * 3];
            outcome.ResetMs[i] = (long)result[6 + i * 3];
        }
        return outcome;
    }

    public async ValueTask SettleAsync(LimitRule rule, long bucket, long minute, long reserved, long actual, CancellationToken cancellationToken) =>
        await redis.Database.ScriptEvaluateAsync(SettleScript, [Prefix + rule.Key, Prefix + rule.Key + InFlightSuffix], [bucket, actual - reserved, minute, reserved])
            .WaitAsync(redis.CallTimeout, cancellationToken);
}
