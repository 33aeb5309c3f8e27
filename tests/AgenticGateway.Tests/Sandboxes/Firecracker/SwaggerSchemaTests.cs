using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>The schema checker itself: it accepts the document's own examples and rejects wrong bodies, so the request tests can fail.</summary>
[Trait("Category", "unit")]
public class SwaggerSchemaTests
{
    private static List<string> Check(string method, string path, string body) => SwaggerSchema.Firecracker.ValidateRequest(method, path, body);

    [Fact]
    public void Accepts_bodies_as_firecracker_documents_them()
    {
        Assert.Empty(Check("PUT", "/boot-source", """{"kernel_image_path":"./vmlinux","boot_args":"console=ttyS0"}"""));
        Assert.Empty(Check("PUT", "/drives/rootfs", """{"drive_id":"rootfs","path_on_host":"./rootfs.ext4","is_root_device":true,"is_read_only":false}"""));
        Assert.Empty(Check("PUT", "/mmds", """{"latest":{"meta-data":{"ami-id":"ami-12345678"}}}"""));
        Assert.Empty(Check("PUT", "/snapshot/load", """{"snapshot_path":"s","mem_backend":{"backend_type":"Uffd","backend_path":"u.sock"},"network_overrides":[{"iface_id":"eth0","host_dev_name":"tap1"}]}"""));
    }

    [Theory]
    [InlineData("PUT", "/drives/rootfs", """{"drive_id":"rootfs","path_on_host":"r.ext4"}""", "required property 'is_root_device'")]
    [InlineData("PUT", "/machine-config", """{"vcpu_count":"2","mem_size_mib":128}""", "$.vcpu_count: expected an integer")]
    [InlineData("PUT", "/machine-config", """{"vcpu_count":0,"mem_size_mib":128}""", "below the minimum 1")]
    [InlineData("PUT", "/machine-config", """{"vcpu_count":1,"mem_size_mb":128}""", "$.mem_size_mb: unknown property")]
    [InlineData("PUT", "/actions", """{"action_type":"Start"}""", "is not one of FlushMetrics, InstanceStart, SendCtrlAltDel")]
    [InlineData("PATCH", "/vm", """{"state":"Stopped"}""", "is not one of Paused, Resumed")]
    [InlineData("PUT", "/snapshot/load", """{"snapshot_path":"s","mem_backend":{"backend_type":"File"}}""", "$.mem_backend: required property 'backend_path'")]
    [InlineData("PUT", "/snapshot/create", """{"snapshot_path":"s","mem_file_path":"m","snapshot_type":"full"}""", "is not one of Full, Diff")]
    [InlineData("PUT", "/vsock", """{"guest_cid":2,"uds_path":"v.sock"}""", "below the minimum 3")]
    [InlineData("PUT", "/mmds/config", """{"network_interfaces":"eth0"}""", "expected an array")]
    [InlineData("PUT", "/balloon", """{"amount_mib":10,"deflate_on_oom":"yes"}""", "$.deflate_on_oom: expected a boolean")]
    [InlineData("PUT", "/drives/a", """{"drive_id":"b","is_root_device":false}""", "differs from the path's 'a'")]
    [InlineData("PUT", "/nothing", """{}""", "no such operation")]
    [InlineData("PUT", "/actions", """[]""", "expected an object")]
    public void Rejects_a_wrong_body(string method, string path, string body, string expected)
    {
        var errors = Check(method, path, body);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_required_body_may_not_be_empty()
    {
        Assert.Contains(Check("PUT", "/actions", ""), e => e.Contains("a body is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Definitions_can_be_checked_directly()
    {
        var info = JsonDocument.Parse("""{"app_name":"Firecracker","id":"a","state":"Halted","vmm_version":"1"}""").RootElement;
        Assert.Contains(SwaggerSchema.Firecracker.ValidateDefinition("InstanceInfo", info), e => e.Contains("$.state", StringComparison.Ordinal));
    }
}
