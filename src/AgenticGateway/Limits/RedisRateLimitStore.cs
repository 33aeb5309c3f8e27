using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>
/// Rate-limit counters in Redis, shared by every replica: one Lua script checks all of a request's rules and counts
/// it in all of them atomically, on Redis's clock. Each counter is a hash of bucket number to count.
/// </summary>
internal sealed class RedisRateLimitStore(RedisConnection redis) : IRateLimitStore
{
    private const string Prefix = "agw:rl:";

    // ARGV[1] = tokens; then per rule: limit, bucket_ms, is_tokens. Returns
    // {allowed, refused_index, retry_ms, then per rule: bucket, remaining, reset_ms}.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local tokens = tonumber(ARGV[1])
        local ring = 61
        local out = {1, -1, 0}
        local n = #KEYS
        for i = 1, n do
          local limit = tonumber(ARGV[2 + (i - 1) * 3])
          local bms = tonumber(ARGV[3 + (i - 1) * 3])
          local cost = (ARGV[4 + (i - 1) * 3] == '1') and tokens or 1
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
          local reset = 0
          if oldest ~= nil then reset = math.max(0, (oldest + ring) * bms - now) end
          local remaining = limit - used - cost
          if remaining < 0 and out[1] == 1 then
            out[1] = 0
            out[2] = i - 1
            out[3] = math.max(1, reset)
            remaining = limit - used
          end
          if remaining < 0 then remaining = 0 end
          out[4 + (i - 1) * 3] = cur
          out[5 + (i - 1) * 3] = remaining
          out[6 + (i - 1) * 3] = reset
        end
        if out[1] == 1 then
          for i = 1, n do
            local bms = tonumber(ARGV[3 + (i - 1) * 3])
            local cost = (ARGV[4 + (i - 1) * 3] == '1') and tokens or 1
            redis.call('HINCRBY', KEYS[i], out[4 + (i - 1) * 3], cost)
            redis.call('PEXPIRE', KEYS[i], (ring + 1) * bms)
          end
        end
        return out
        """;

    private const string SettleScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
          local v = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
          if v < 0 then redis.call('HSET', KEYS[1], ARGV[1], 0) end
        end
        return 0
        """;

    public async ValueTask<LimitOutcome> AcquireAsync(IReadOnlyList<LimitRule> rules, long tokens, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[rules.Count];
        var args = new RedisValue[1 + rules.Count * 3];
        args[0] = tokens;
        for (var i = 0; i < rules.Count; i++)
        {
            keys[i] = Prefix + rules[i].Key;
            args[1 + i * 3] = rules[i].Limit;
            args[2 + i * 3] = rules[i].BucketMs;
            args[3 + i * 3] = rules[i].Tokens ? 1 : 0;
        }
        var result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(AcquireScript, keys, args).WaitAsync(RedisConnection.CallTimeout, cancellationToken))!;
        var outcome = new LimitOutcome(rules.Count) { Allowed = (long)result[0] == 1, Refused = (int)(long)result[1], RetryAfterMs = (long)result[2] };
        for (var i = 0; i < rules.Count; i++)
        {
            outcome.Bucket[i] = (long)result[3 + i * 3];
            outcome.Remaining[i] = (long)result[4 + i * 3];
            outcome.ResetMs[i] = (long)result[5 + i * 3];
        }
        return outcome;
    }

    public async ValueTask SettleAsync(LimitRule rule, long bucket, long delta, CancellationToken cancellationToken) =>
        await redis.Database.ScriptEvaluateAsync(SettleScript, [Prefix + rule.Key], [bucket, delta]).WaitAsync(RedisConnection.CallTimeout, cancellationToken);
}
