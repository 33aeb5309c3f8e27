using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Egress;
using AgenticGateway.Services.E2b;

namespace AgenticGateway.Tests.E2b;

/// <summary>E2B's create body (NewSandbox) as a native sandbox spec: templates, metadata, envs, timeout, network, refusals.</summary>
[Trait("Category", "unit")]
public class E2bCreateRequestTests
{
    private static (E2bCreateRequest.Parsed? Request, AgenticGateway.OpenAi.ApiError? Error) Parse(string json, SandboxOptions? options = null)
    {
        using var document = JsonDocument.Parse(json);
        return E2bCreateRequest.Parse(document.RootElement, options ?? new SandboxOptions());
    }

    [Theory]
    [InlineData("base", "python")]
    [InlineData("code-interpreter-v1", "python")]
    [InlineData("python", "python")]
    [InlineData("node", "node")]
    [InlineData("bash", "bash")]
    public void A_template_starts_its_runtime(string template, string runtime)
    {
        var (request, error) = Parse($$"""{"templateID":"{{template}}"}""");
        Assert.Null(error);
        Assert.Equal(runtime, request!.Spec.Runtime);
        Assert.Equal(template, request.Template);
    }

    [Fact]
    public void Metadata_envs_timeout_and_auto_pause_carry_over()
    {
        var (request, error) = Parse("""{"templateID":"base","timeout":90,"metadata":{"team":"a"},"envVars":{"GREETING":"hi"},"autoPause":true,"secure":true}""");
        Assert.Null(error);
        var spec = request!.Spec;
        Assert.Equal(TimeSpan.FromSeconds(90), spec.Resources.Timeout);
        Assert.Equal("a", spec.Metadata["team"]);
        Assert.Equal("hi", spec.Env["GREETING"]);
        Assert.True(spec.AutoPause);
        Assert.Equal(NetworkMode.None, spec.Network.Mode);
    }

    [Fact]
    public void Host_names_in_allowOut_become_the_allowlist()
    {
        var options = new SandboxOptions { Egress = new EgressOptions { AllowHosts = ["pypi.org"] } };
        var (request, error) = Parse("""{"templateID":"base","network":{"allowOut":["pypi.org"]}}""", options);
        Assert.Null(error);
        Assert.Equal(NetworkMode.Allowlist, request!.Spec.Network.Mode);
        Assert.Equal(["pypi.org"], request.Spec.Network.AllowHosts);
    }

    [Fact]
    public void A_host_outside_the_operators_list_is_refused_naming_the_config_key_as_it_is_spelled()
    {
        var options = new SandboxOptions { Egress = new EgressOptions { AllowHosts = ["pypi.org"] } };
        var (_, error) = Parse("""{"templateID":"base","network":{"allowOut":["evil.example.com"]}}""", options);
        Assert.Equal(400, error!.Status);
        Assert.Equal("network.allowOut", error.Param);
        Assert.StartsWith("network.allowOut: 'evil.example.com' is not permitted", error.Message);
        Assert.Contains("(sandboxes.egress.allow_hosts: pypi.org)", error.Message);
    }

    [Fact]
    public void Internet_access_is_the_operators_host_list_when_there_is_one()
    {
        var options = new SandboxOptions { Egress = new EgressOptions { AllowHosts = ["pypi.org", "*.npmjs.org"] } };
        var (request, error) = Parse("""{"templateID":"base","allow_internet_access":true}""", options);
        Assert.Null(error);
        Assert.Equal(NetworkMode.Allowlist, request!.Spec.Network.Mode);
        Assert.Equal(["pypi.org", "*.npmjs.org"], request.Spec.Network.AllowHosts);
        // allowOut, when given, is what the sandbox gets; false asks for nothing.
        Assert.Equal(["pypi.org"], Parse("""{"templateID":"base","allow_internet_access":true,"network":{"allowOut":["pypi.org"]}}""", options).Request!.Spec.Network.AllowHosts);
        Assert.Equal(NetworkMode.None, Parse("""{"templateID":"base","allow_internet_access":false}""", options).Request!.Spec.Network.Mode);
    }

    [Fact]
    public void Internet_access_that_cannot_be_given_is_refused_not_ignored()
    {
        // No egress at all: 403.
        var closed = new SandboxOptions { Egress = new EgressOptions { AllowHosts = [] } };
        var (request, error) = Parse("""{"templateID":"base","allow_internet_access":true}""", closed);
        Assert.Null(request);
        Assert.Equal((403, "allow_internet_access"), (error!.Status, error.Param));
        Assert.Contains("sandboxes.egress.allow_hosts is empty", error.Message);
        // Any public name may be asked for, but only by name: 400 saying how.
        (request, error) = Parse("""{"templateID":"base","allow_internet_access":true}""");
        Assert.Null(request);
        Assert.Equal((400, "allow_internet_access"), (error!.Status, error.Param));
        Assert.Contains("network.allowOut", error.Message);
    }

    [Theory]
    [InlineData("""{}""", "templateID")]
    [InlineData("""{"templateID":"desktop"}""", "templateID")]
    [InlineData("""{"templateID":"base","timeout":0}""", "timeout")]
    [InlineData("""{"templateID":"base","envVars":{"1BAD":"x"}}""", "envVars")]
    [InlineData("""{"templateID":"base","metadata":"team=a"}""", "metadata")]
    [InlineData("""{"templateID":"base","network":{"allowOut":["10.0.0.0/8"]}}""", "network")]
    [InlineData("""{"templateID":"base","mcp":{"github":{}}}""", "mcp")]
    [InlineData("""{"templateID":"base","volumeMounts":[{"name":"v","path":"/data"}]}""", "volumeMounts")]
    [InlineData("""{"templateID":"base","autoPause":"yes"}""", "autoPause")]
    [InlineData("""{"templateID":"base","autoPause":true,"autoResume":{"enabled":true}}""", "autoResume")]
    public void What_cannot_be_given_is_refused_by_its_E2B_name(string json, string param)
    {
        var (request, error) = Parse(json);
        Assert.Null(request);
        Assert.Equal(400, error!.Status);
        Assert.Equal(param, error.Param);
    }
}
