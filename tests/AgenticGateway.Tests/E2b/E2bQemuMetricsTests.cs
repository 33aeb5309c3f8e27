using AgenticGateway.Tests.Sandboxes.Qemu;

namespace AgenticGateway.Tests.E2b;

/// <summary>The e2b SDK's getMetrics on a QEMU microVM: the VMM process's CPU time and resident memory, the VM's limits.</summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class E2bQemuMetricsTests(QemuGatewayFixture fixture)
{
    [Fact]
    public async Task GetMetrics_on_a_microVM_reports_the_VMMs_cpu_and_memory()
    {
        var other = await fixture.Gateway.NewKeyAsync();
        var r = await E2bSdk.RunJsonAsync(fixture.Gateway, "metrics.mjs", new Dictionary<string, string> { ["OTHER_KEY"] = other });
        var metrics = r.GetProperty("metrics").EnumerateArray().ToList();
        Assert.True(metrics.Count >= 2, r.ToString());
        Assert.Contains(metrics, m => m.GetProperty("cpuUsedPct").GetDouble() > 0);
        foreach (var m in metrics)
        {
            Assert.True(m.GetProperty("memUsed").GetInt64() > 0, m.ToString());
            Assert.Equal(r.GetProperty("memoryMB").GetInt64() << 20, m.GetProperty("memTotal").GetInt64());
            Assert.Equal(r.GetProperty("cpuCount").GetInt32(), m.GetProperty("cpuCount").GetInt32());
            // The guest's writable layer is in its RAM: the host sees no disk of its own.
            Assert.Equal(0, m.GetProperty("diskUsed").GetInt64());
        }
        Assert.Equal("SandboxNotFoundError", r.GetProperty("otherOwner").GetProperty("error").GetProperty("name").GetString());
    }
}
