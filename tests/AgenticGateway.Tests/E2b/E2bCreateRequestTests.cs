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

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("pypi.org")]
    public void Internet_access_as_the_Python_SDK_sends_it_on_every_create_opens_nothing_and_refuses_nothing(string? ceiling)
    {
        // No ceiling (any public name may be asked for), an empty one (no egress), a list.
        var options = new SandboxOptions { Egress = new EgressOptions { AllowHosts = ceiling is null ? null : ceiling.Length == 0 ? [] : [ceiling] } };
        var (request, error) = Parse("""{"templateID":"base","allow_internet_access":true}""", options);
        Assert.Null(error);
        Assert.Equal(NetworkMode.None, request!.Spec.Network.Mode);
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
