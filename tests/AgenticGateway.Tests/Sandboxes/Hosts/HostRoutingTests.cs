using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Hosts;

/// <summary>
/// Two gateway processes sharing one Redis: a sandbox lives on the host that created it, and every call on it made
/// through the other host reaches it there (execute, commands, files, delete); listings and quotas span both hosts;
/// only a host can mark a call as forwarded.
/// </summary>
[Trait("Category", "sandbox")]
[Collection(HostPair.Collection)]
public sealed class HostRoutingTests(HostPairFixture fixture) : IClassFixture<HostPairFixture>
{
    private HostProcess A => fixture.Pair.A;
    private HostProcess B => fixture.Pair.B;

    [Fact]
    public async Task A_sandbox_created_on_one_host_is_run_written_read_and_deleted_through_the_other()
    {
        var id = await A.CreateAsync();
        Assert.Equal("host-a", await fixture.Pair.HostOfAsync(id));

        var (status, run) = await B.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{id}/execute", """{"code":"import os\nx = 6 * 7\nprint(x, os.getpid() > 0)"}""");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {run}");
        Assert.Equal("42 True\n", run.GetProperty("stdout").GetString());
        // State kept between cells: it is the same interpreter, on host A.
        (status, run) = await B.SendAsync(HttpMethod.Post, $"/v1/sandbox/{id}/execute", """{"code":"print(x + 1)"}""");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {run}");
        Assert.Equal("43\n", run.GetProperty("stdout").GetString());

        // A file written through B (a raw body streamed host to host) is read through A, and the other way round.
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/files?path=data/blob.bin") { Content = new ByteArrayContent(bytes) })
        {
            put.Headers.Authorization = new("Bearer", HostProcess.Master);
            using var written = await B.Client.SendAsync(put);
            Assert.True(written.IsSuccessStatusCode, $"{written.StatusCode}: {await written.Content.ReadAsStringAsync()}");
        }
        using (var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/sandboxes/{id}/files?path=/home/user/data/blob.bin"))
        {
            get.Headers.Authorization = new("Bearer", HostProcess.Master);
            using var read = await A.Client.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            Assert.Equal(bytes, await read.Content.ReadAsByteArrayAsync());
        }
        (status, var command) = await B.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{id}/commands", """{"cmd":"wc -c < data/blob.bin; echo $HOSTNAME"}""");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {command}");
        Assert.StartsWith("300000\n", command.GetProperty("stdout").GetString());

        (status, var described) = await B.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, described.GetProperty("id").GetString());

        (status, var deleted) = await B.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {deleted}");
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        // Gone on its host, and from the registry: neither host finds it any more.
        Assert.Equal(HttpStatusCode.NotFound, (await A.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}")).Status);
        var (gone, error) = await B.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.Equal("sandbox_not_found", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Null(await fixture.Pair.HostOfAsync(id));
    }

    [Fact]
    public async Task A_listing_through_either_host_shows_the_sandboxes_of_both_with_their_metadata_filter()
    {
        var tag = Guid.NewGuid().ToString("N");
        string Spec(string on) => JsonSerializer.Serialize(new { runtime = "python", metadata = new { run = tag, on } });
        var onA = await A.CreateAsync(Spec("a"));
        var onB = await B.CreateAsync(Spec("b"));
        try
        {
            foreach (var host in new[] { A, B })
            {
                var (status, list) = await host.SendAsync(HttpMethod.Get, $"/v1/sandboxes?metadata.run={tag}");
                Assert.Equal(HttpStatusCode.OK, status);
                var ids = list.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetString()).Order().ToList();
                Assert.Equal(new[] { onA, onB }.Order(), ids);
                (_, list) = await host.SendAsync(HttpMethod.Get, $"/v1/sandboxes?metadata.run={tag}&metadata.on=a");
                Assert.Equal([onA], list.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
            }
            // Another caller sees none of them (an unknown key is refused by the host that serves the listing).
            Assert.Equal(HttpStatusCode.Unauthorized, (await B.SendAsync(HttpMethod.Get, "/v1/sandboxes", key: "sk-not-a-key")).Status);
        }
        finally
        {
            await A.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{onA}");
            await A.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{onB}");
        }
    }

    [Fact]
    public async Task The_concurrent_sandbox_quota_counts_the_sandboxes_of_both_hosts()
    {
        // quota.max_concurrent is 3 per key; each host alone runs fewer.
        var made = new List<string> { await A.CreateAsync(), await A.CreateAsync(), await B.CreateAsync() };
        try
        {
            var (status, refused) = await B.SendAsync(HttpMethod.Post, "/v1/sandboxes", """{"runtime":"python"}""");
            Assert.True(status == (HttpStatusCode)429, $"{status}: {refused}");
            Assert.Equal("sandbox_concurrency_quota", refused.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("all hosts", refused.GetProperty("error").GetProperty("message").GetString());

            // Ending one on A (through B) makes room on B.
            Assert.Equal(HttpStatusCode.OK, (await B.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{made[0]}")).Status);
            made.RemoveAt(0);
            made.Add(await B.CreateAsync());
        }
        finally
        {
            foreach (var id in made) await B.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
    }

    [Fact]
    public async Task A_call_marked_as_forwarded_without_the_hosts_secret_is_refused()
    {
        var id = await A.CreateAsync();
        try
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var path = $"/v1/sandboxes/{id}";
            string Signed(string secret, string to, long seconds) =>
                $"v1;host-b;{to};{seconds};{Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"v1\nhost-b\n{to}\n{seconds}\nGET\n{path}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_')}";

            foreach (var forged in new[]
            {
                "yes",
                "v1;host-b;host-a;" + now + ";AAAA",
                Signed("a-guess-at-the-hosts-secret-0123456789", "host-a", now),
                Signed(HostProcess.Secret, "host-c", now),              // made for another host
                Signed(HostProcess.Secret, "host-a", now - 3600),       // an old one replayed
            })
            {
                foreach (var host in new[] { A, B })
                {
                    var (status, body) = await host.SendAsync(HttpMethod.Get, path, headers: h => h.TryAddWithoutValidation("Agw-Host-Call", forged));
                    Assert.True(status == HttpStatusCode.Forbidden, $"{forged} at {host.Id}: {status} {body}");
                    Assert.Equal("invalid_host_call", body.GetProperty("error").GetProperty("code").GetString());
                }
            }
            // The secret's own signature is taken, and then the client's credentials are still checked by the host.
            var (ok, _) = await A.SendAsync(HttpMethod.Get, path, headers: h => h.TryAddWithoutValidation("Agw-Host-Call", Signed(HostProcess.Secret, "host-a", now)));
            Assert.Equal(HttpStatusCode.OK, ok);
            var (unknown, _) = await A.SendAsync(HttpMethod.Get, path, key: "sk-not-a-key", headers: h => h.TryAddWithoutValidation("Agw-Host-Call", Signed(HostProcess.Secret, "host-a", now)));
            Assert.Equal(HttpStatusCode.Unauthorized, unknown);
            // A bad key through B is refused by A, which checks it.
            Assert.Equal(HttpStatusCode.Unauthorized, (await B.SendAsync(HttpMethod.Get, path, key: "sk-not-a-key")).Status);
        }
        finally
        {
            await A.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
    }
}
