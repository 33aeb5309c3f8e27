using System.Text;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// E2B's Python SDK refuses a key that is not <c>e2b_</c> and hex before sending anything; a gateway key written as
/// <c>e2b_</c> + the hex of its characters is read as that key, and nothing else is.
/// </summary>
[Trait("Category", "unit")]
public class E2bKeyFormUnitTests
{
    private static string E2bForm(string key) => "e2b_" + Convert.ToHexStringLower(Encoding.ASCII.GetBytes(key));

    [Fact]
    public void An_sk_key_in_e2b_form_is_read_as_the_key()
    {
        Assert.Equal("sk-abc123", ClientAuth.FromE2bForm(E2bForm("sk-abc123")));
        Assert.Equal("sk-ABC", ClientAuth.FromE2bForm("e2b_" + Convert.ToHexString(Encoding.ASCII.GetBytes("sk-ABC"))));
    }

    [Theory]
    [InlineData("sk-plain")]                    // not the form
    [InlineData("e2b_985895e32046e1404d05")]    // a real E2B key's shape: hex that is not an sk- key
    [InlineData("e2b_736b2d61 ")]               // not hex
    [InlineData("e2b_736b2")]                   // odd length
    [InlineData("e2b_736b2d0a41")]              // sk- then a control character
    [InlineData("e2b_")]
    public void Anything_else_is_the_key_as_presented(string presented) =>
        Assert.Equal(presented, ClientAuth.FromE2bForm(presented));
}

/// <summary>The SDK, unchanged, authenticating with a virtual key in its e2b_ form.</summary>
[Trait("Category", "sandbox")]
public class E2bKeyFormTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    [Fact]
    public async Task A_virtual_key_in_e2b_form_creates_and_owns_sandboxes_as_the_key_itself()
    {
        var key = await e2b.NewKeyAsync();
        var encoded = "e2b_" + Convert.ToHexStringLower(Encoding.ASCII.GetBytes(key));
        var created = await e2b.RunSdkJsonAsync("create.mjs", key: encoded);
        var id = created.GetProperty("sandboxId").GetString()!;
        // The plain key is the same owner: it sees the sandbox.
        var (status, _) = await e2b.Gateway.SendAsync(HttpMethod.Get, $"/e2b/sandboxes/{id}", key: key);
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        var (killed, _) = await e2b.Gateway.SendAsync(HttpMethod.Delete, $"/e2b/sandboxes/{id}", key: key);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, killed);
    }
}
