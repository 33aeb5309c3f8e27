using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Hosts;
using StackExchange.Redis;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>A live sandbox host as the registry last heard of it.</summary>
internal sealed record HostEntry(string Id, string Url, int Active, int Capacity);

/// <summary>Where a sandbox runs: its host's id and the URL other hosts reach it at.</summary>
internal readonly record struct SandboxLocation(string Host, string Url);

/// <summary>A sandbox another host runs, as that host last described it (the native API's JSON object).</summary>
internal sealed record RemoteSandbox(string Id, string Host, string Owner, string Runtime, byte[] Json);

/// <summary>
/// The sandbox hosts' shared registry in Redis: which host runs each sandbox, which hosts are alive and how loaded,
/// and the quotas every host counts against. Every entry expires unless its host renews it (<see cref="HostHeartbeat"/>),
/// so a host that dies takes its entries with it after <c>sandboxes.hosts.ttl</c>.
/// <list type="bullet">
/// <item><c>host:{id}</c>: hash url, active, capacity; <c>hosts</c>: the set of host ids (pruned of expired ones)</item>
/// <item><c>sandbox:{id}</c>: hash host, url, owner, runtime, state (running or paused), json (running only)</item>
/// <item><c>owner:{owner}</c>, <c>runtime:{runtime}</c>: sorted sets of sandbox ids scored by when they lapse (ms)</item>
/// </list>
/// </summary>
internal sealed class SandboxRegistry : ISandboxCluster
{
    // One hash tag, so the admission script's keys share a slot on a Redis Cluster too.
    private const string Prefix = "agw:{sandboxes}:";

    // KEYS: owner set, runtime set. ARGV: now ms, lapse ms, id, owner max, runtime max (0: none), ttl ms.
    // Returns 0 admitted, 1 the owner's quota is full, 2 the runtime's.
    private const string AdmitScript = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
        if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 1 end
        if tonumber(ARGV[5]) > 0 and redis.call('ZSCORE', KEYS[2], ARGV[3]) == false and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 2 end
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[6])
        return 0
        """;

    private readonly RedisConnection _redis;
    private readonly SandboxHostsOptions _hosts;
    private readonly SandboxOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // Admitted, not started yet (a cold start with packages can outlast the ttl): renewed by the heartbeat too.
    private readonly ConcurrentDictionary<string, (string Owner, string Runtime)> _pending = new(StringComparer.Ordinal);

    public SandboxRegistry(RedisConnection redis, SandboxOptions options, TimeProvider time, ILogger<SandboxRegistry> logger)
    {
        _redis = redis;
        _options = options;
        _hosts = options.Hosts!;
        _time = time;
        _logger = logger;
    }

    public SandboxHostsOptions Hosts => _hosts;

    /// <summary>Whether the registry can be asked now (Redis connected and answering).</summary>
    public bool IsUp => _redis.IsUp;

    private static RedisKey HostKey(string id) => Prefix + "host:" + id;
    private static readonly RedisKey HostSet = Prefix + "hosts";
    private static RedisKey SandboxKey(string id) => Prefix + "sandbox:" + id;
    private static RedisKey OwnerKey(string owner) => Prefix + "owner:" + owner;
    private static RedisKey RuntimeKey(string runtime) => Prefix + "runtime:" + runtime;

    private long Lapse => _time.GetUtcNow().Add(_hosts.Ttl).ToUnixTimeMilliseconds();
    private long TtlMs => (long)_hosts.Ttl.TotalMilliseconds;

    public async ValueTask<ApiError?> AdmitAsync(string owner, string id, string runtime, int hostActive, CancellationToken cancellationToken)
    {
        if (_hosts.MaxSandboxes > 0 && hostActive >= _hosts.MaxSandboxes)
            return new ApiError(503, $"This sandbox host runs its maximum of {_hosts.MaxSandboxes} sandboxes and no other host has room; try again later.", "service_unavailable", "sandbox_capacity") { RetryAfterSeconds = 5 };
        if (!_redis.IsUp) return Unreachable();
        var runtimeMax = _options.Pools.GetValueOrDefault(runtime)?.MaxTotal ?? 0;
        long verdict;
        try
        {
            var result = await _redis.Database.ScriptEvaluateAsync(AdmitScript, [OwnerKey(owner), RuntimeKey(runtime)],
                [_time.GetUtcNow().ToUnixTimeMilliseconds(), Lapse, id, _options.Quota.MaxConcurrent, runtimeMax, TtlMs]).WaitAsync(_redis.CallTimeout, cancellationToken);
            verdict = (long)result;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.MarkDown(ex);
            return Unreachable();
        }
        if (verdict == 1)
            return new ApiError(429, $"Sandbox quota reached: at most {_options.Quota.MaxConcurrent} sandboxes at once per key, on all hosts together. Delete one first.", "rate_limit_error", "sandbox_concurrency_quota") { RetryAfterSeconds = 60 };
        if (verdict == 2)
            return new ApiError(503, $"The gateway's hosts run their maximum of {runtimeMax} {runtime} sandboxes; try again later.", "service_unavailable", "sandbox_capacity") { RetryAfterSeconds = 5 };
        _pending[id] = (owner, runtime);
        return null;
    }

    /// <summary>Without Redis the hosts cannot count together: fail-open admits on this host's own counts, fail-closed refuses.</summary>
    private ApiError? Unreachable() => _redis.FailOpen ? null
        : new ApiError(503, "The sandbox hosts' registry (Redis) is unreachable; try again shortly.", "service_unavailable", "sandbox_registry_unavailable") { RetryAfterSeconds = 1 };

    public async ValueTask WithdrawAsync(string owner, string id, string runtime)
    {
        _pending.TryRemove(id, out _);
        await ForgetAsync(owner, id, runtime);
    }

    public async ValueTask StartedAsync(Sandbox sandbox)
    {
        _pending.TryRemove(sandbox.Id, out _);
        if (!_redis.IsUp) return;     // the heartbeat writes it once Redis is back
        var batch = _redis.Database.CreateBatch();
        var writes = Record(batch, sandbox, Lapse);
        batch.Execute();
        await Settle(writes, "register " + sandbox.Id);
    }

    public ValueTask EndedAsync(Sandbox sandbox) => ForgetAsync(sandbox.Owner, sandbox.Id, sandbox.Runtime);

    public async ValueTask PausedAsync(Sandbox sandbox)
    {
        if (!_redis.IsUp) return;     // the heartbeat writes it once Redis is back
        var batch = _redis.Database.CreateBatch();
        var writes = new List<Task>(RecordPaused(batch, sandbox.Id, sandbox.Owner, sandbox.Runtime))
        {
            batch.SortedSetRemoveAsync(OwnerKey(sandbox.Owner), sandbox.Id),
            batch.SortedSetRemoveAsync(RuntimeKey(sandbox.Runtime), sandbox.Id),
        };
        batch.Execute();
        await Settle([.. writes], "pause " + sandbox.Id);
    }

    private async ValueTask ForgetAsync(string owner, string id, string runtime)
    {
        if (!_redis.IsUp) return;     // its entries lapse by themselves
        var batch = _redis.Database.CreateBatch();
        Task[] writes = [batch.KeyDeleteAsync(SandboxKey(id)), batch.SortedSetRemoveAsync(OwnerKey(owner), id), batch.SortedSetRemoveAsync(RuntimeKey(runtime), id)];
        batch.Execute();
        await Settle(writes, "forget " + id);
    }

    /// <summary>
    /// Renews this host and everything it runs (rewritten whole, so a Redis that restarted empty learns it all again),
    /// then forgets what ended meanwhile.
    /// </summary>
    public async Task RenewAsync(IReadOnlyCollection<Sandbox> live, IReadOnlyCollection<(string Id, string Owner, string Runtime)> paused)
    {
        var lapse = Lapse;
        var batch = _redis.Database.CreateBatch();
        var writes = new List<Task>(4 + live.Count * 6)
        {
            batch.HashSetAsync(HostKey(_hosts.Id), [new("url", _hosts.AdvertiseUrl.ToString().TrimEnd('/')), new("active", live.Count), new("capacity", _hosts.MaxSandboxes)]),
            batch.KeyExpireAsync(HostKey(_hosts.Id), _hosts.Ttl),
            batch.SetAddAsync(HostSet, _hosts.Id),
        };
        foreach (var sandbox in live) writes.AddRange(Record(batch, sandbox, lapse));
        foreach (var (id, owner, runtime) in paused) writes.AddRange(RecordPaused(batch, id, owner, runtime));
        foreach (var (id, (owner, runtime)) in _pending)
        {
            writes.Add(batch.SortedSetAddAsync(OwnerKey(owner), id, lapse, SortedSetWhen.Exists));
            writes.Add(batch.SortedSetAddAsync(RuntimeKey(runtime), id, lapse, SortedSetWhen.Exists));
        }
        batch.Execute();
        await Task.WhenAll(writes).WaitAsync(_redis.CallTimeout * 4);
        foreach (var sandbox in live)
            if (sandbox.HasEnded) await EndedAsync(sandbox);
    }

    /// <summary>This host leaves the registry (a graceful stop; its sandboxes were forgotten as they ended).</summary>
    public async Task LeaveAsync()
    {
        if (!_redis.IsUp) return;
        var batch = _redis.Database.CreateBatch();
        Task[] writes = [batch.KeyDeleteAsync(HostKey(_hosts.Id)), batch.SetRemoveAsync(HostSet, _hosts.Id)];
        batch.Execute();
        await Settle(writes, "leave");
    }

    private Task[] Record(IBatch batch, Sandbox sandbox, long lapse)
    {
        var key = SandboxKey(sandbox.Id);
        return
        [
            batch.HashSetAsync(key, [
                new("host", _hosts.Id), new("url", _hosts.AdvertiseUrl.ToString().TrimEnd('/')), new("owner", sandbox.Owner),
                new("runtime", sandbox.Runtime), new("state", "running"), new("json", Describe(sandbox))]),
            batch.KeyExpireAsync(key, _hosts.Ttl),
            batch.SortedSetAddAsync(OwnerKey(sandbox.Owner), sandbox.Id, lapse),
            batch.KeyExpireAsync(OwnerKey(sandbox.Owner), _hosts.Ttl),
            batch.SortedSetAddAsync(RuntimeKey(sandbox.Runtime), sandbox.Id, lapse),
            batch.KeyExpireAsync(RuntimeKey(sandbox.Runtime), _hosts.Ttl),
        ];
    }

    /// <summary>A paused sandbox: routed to this host (which resumes it), neither listed as running nor counted.</summary>
    private Task[] RecordPaused(IBatch batch, string id, string owner, string runtime)
    {
        var key = SandboxKey(id);
        return
        [
            batch.HashSetAsync(key, [new("host", _hosts.Id), new("url", _hosts.AdvertiseUrl.ToString().TrimEnd('/')), new("owner", owner), new("runtime", runtime), new("state", "paused")]),
            batch.HashDeleteAsync(key, "json"),
            batch.KeyExpireAsync(key, _hosts.Ttl),
        ];
    }

    /// <summary>The sandbox as the native API describes it, for listings made on other hosts.</summary>
    private static byte[] Describe(Sandbox sandbox)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer)) SandboxEndpoints.Write(w, sandbox, "running");
        return buffer.WrittenSpan.ToArray();
    }

    private async ValueTask Settle(Task[] writes, string what)
    {
        try { await Task.WhenAll(writes).WaitAsync(_redis.CallTimeout); }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.MarkDown(ex);
            HostsLog.RegistryWriteFailed(_logger, what, ex.Message);
        }
    }

    /// <summary>The host that runs sandbox <paramref name="id"/>, or null when no live host has it (or Redis cannot say: see <see cref="IsUp"/>).</summary>
    public async ValueTask<SandboxLocation?> LocateAsync(string id, CancellationToken cancellationToken)
    {
        if (!_redis.IsUp) return null;
        try
        {
            var values = await _redis.Database.HashGetAsync(SandboxKey(id), [(RedisValue)"host", (RedisValue)"url"]).WaitAsync(_redis.CallTimeout, cancellationToken);
            return values[0].HasValue && values[1].HasValue ? new SandboxLocation(values[0]!, values[1]!) : null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.MarkDown(ex);
            return null;
        }
    }

    /// <summary>The owner's sandboxes that other hosts run (an empty list when Redis cannot say).</summary>
    public async Task<List<RemoteSandbox>> RemoteAsync(string owner, CancellationToken cancellationToken)
    {
        var remote = new List<RemoteSandbox>();
        if (!_redis.IsUp) return remote;
        try
        {
            var db = _redis.Database;
            var ids = await db.SortedSetRangeByScoreAsync(OwnerKey(owner), _time.GetUtcNow().ToUnixTimeMilliseconds(), double.PositiveInfinity).WaitAsync(_redis.CallTimeout, cancellationToken);
            if (ids.Length == 0) return remote;
            var batch = db.CreateBatch();
            var reads = ids.Select(id => batch.HashGetAsync(SandboxKey((string)id!), [(RedisValue)"host", (RedisValue)"owner", (RedisValue)"runtime", (RedisValue)"json"])).ToArray();
            batch.Execute();
            await Task.WhenAll(reads).WaitAsync(_redis.CallTimeout, cancellationToken);
            for (var i = 0; i < ids.Length; i++)
            {
                var v = reads[i].Result;
                // Only entries still renewed, of this owner, on another host (this host lists its own from memory).
                if (!v[0].HasValue || v[0] == _hosts.Id || v[1] != owner || !v[3].HasValue) continue;
                remote.Add(new RemoteSandbox((string)ids[i]!, v[0]!, owner, v[2]!, (byte[])v[3]!));
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.MarkDown(ex);
        }
        return remote;
    }

    /// <summary>The live hosts other than this one, as of their last heartbeat; expired ones are pruned from the set.</summary>
    public async Task<List<HostEntry>> OtherHostsAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<HostEntry>();
        if (!_redis.IsUp) return hosts;
        try
        {
            var db = _redis.Database;
            var ids = await db.SetMembersAsync(HostSet).WaitAsync(_redis.CallTimeout, cancellationToken);
            foreach (var member in ids)
            {
                var id = (string)member!;
                if (id == _hosts.Id) continue;
                var v = await db.HashGetAsync(HostKey(id), [(RedisValue)"url", (RedisValue)"active", (RedisValue)"capacity"]).WaitAsync(_redis.CallTimeout, cancellationToken);
                if (!v[0].HasValue)
                {
                    _ = db.SetRemoveAsync(HostSet, member, CommandFlags.FireAndForget);
                    continue;
                }
                hosts.Add(new HostEntry(id, v[0]!, (int)v[1], (int)v[2]));
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.MarkDown(ex);
        }
        return hosts;
    }
}
