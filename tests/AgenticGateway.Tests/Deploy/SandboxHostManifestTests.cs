using AgenticGateway.Configuration;
using YamlDotNet.RepresentationModel;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Deploy;

/// <summary>
/// deploy/k8s/sandbox-hosts: the DaemonSet, its config, Secret and Service fit together; the pod asks for what
/// bubblewrap needs (privileged, root) and nothing of the node's beyond its data directory; the config validates with
/// the real loader; the image it names is the Dockerfile's sandbox-host target.
/// </summary>
[Trait("Category", "deploy")]
public sealed class SandboxHostManifestTests
{
    private static readonly string Dir = Path.Combine(DeployDir, "k8s", "sandbox-hosts");

    private static List<YamlNode> All() =>
        [.. Directory.GetFiles(Dir, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").SelectMany(LoadYaml)];

    private static YamlNode Kind(string kind) => All().Single(m => Str(m, "kind") == kind);

    [Fact]
    public void Every_manifest_is_listed_in_the_kustomization_and_the_service_selects_the_daemonset()
    {
        var kustomization = LoadYaml(Path.Combine(Dir, "kustomization.yaml")).Single();
        var listed = Seq(kustomization, "resources").Select(n => ((YamlScalarNode)n).Value!).Order(StringComparer.Ordinal);
        Assert.Equal(Directory.GetFiles(Dir, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal), listed);
        Assert.Equal(["apps/v1 DaemonSet", "v1 ConfigMap", "v1 Secret", "v1 Service"], All().Select(m => $"{Str(m, "apiVersion")} {Str(m, "kind")}").Order(StringComparer.Ordinal));
        // The same namespace as the gateway's, so the gateway's Secret (master key, database, Redis) is found.
        Assert.Equal(Str(LoadYaml(Path.Combine(DeployDir, "k8s", "kustomization.yaml")).Single(), "namespace"), Str(kustomization, "namespace"));

        var daemonSet = Kind("DaemonSet");
        var podLabels = Labels(At(daemonSet, "spec.template.metadata.labels"));
        foreach (var (selector, what) in new[] { (Labels(At(daemonSet, "spec.selector.matchLabels")), "DaemonSet"), (Labels(At(Kind("Service"), "spec.selector")), "Service") })
        {
            Assert.NotEmpty(selector);
            foreach (var (k, v) in selector) Assert.True(podLabels.GetValueOrDefault(k) == v, $"{what}: selector {k}={v}");
        }
        // Not the gateway Deployment's pods: its Service must not send API traffic to the hosts, nor this one to it.
        var gatewayPods = Labels(At(Manifest("Deployment"), "spec.template.metadata.labels"));
        Assert.NotEqual(gatewayPods["app.kubernetes.io/component"], podLabels["app.kubernetes.io/component"]);
        Assert.Equal("http", Str(Seq(Kind("Service"), "spec.ports").Single(), "targetPort"));
    }

    [Fact]
    public void The_pod_is_privileged_for_bubblewrap_and_takes_nothing_else_from_the_node_but_its_data_directory()
    {
        var pod = At(Kind("DaemonSet"), "spec.template.spec")!;
        var container = (YamlMappingNode)Seq(pod, "containers").Single();
        Assert.Equal("true", Str(container, "securityContext.privileged"));
        Assert.Equal("0", Str(container, "securityContext.runAsUser"));
        Assert.Equal("true", Str(container, "securityContext.readOnlyRootFilesystem"));
        Assert.NotEqual("true", Str(pod, "hostNetwork"));
        Assert.NotEqual("true", Str(pod, "hostPID"));
        Assert.NotEqual("true", Str(pod, "hostIPC"));
        Assert.Equal("false", Str(pod, "automountServiceAccountToken"));
        Assert.Equal("true", Str(pod, "nodeSelector.agentic-gateway/sandbox-host"));

        var volumes = Seq(pod, "volumes").ToDictionary(v => Str(v, "name")!, v => (YamlMappingNode)v);
        var hostPaths = volumes.Values.Where(v => At(v, "hostPath") is not null).Select(v => Str(v, "hostPath.path")).ToList();
        Assert.Equal(["/var/lib/agentic-gateway"], hostPaths);
        var mounts = Seq(container, "volumeMounts").ToDictionary(m => Str(m, "mountPath")!, m => Str(m, "name")!);
        Assert.Equal("/var/lib/agentic-gateway", Str(volumes[mounts["/var/lib/agentic-gateway"]], "hostPath.path"));
        Assert.Equal(Str(Kind("ConfigMap"), "metadata.name"), Str(volumes[mounts["/etc/agentic-gateway"]], "configMap.name"));
        Assert.NotNull(At(volumes[mounts["/tmp"]], "emptyDir"));

        // The host's id and advertised URL come from the pod; the secrets from the gateway's Secret and the hosts' own.
        var env = Seq(container, "env").ToDictionary(e => Str(e, "name")!, e => Str(e, "valueFrom.fieldRef.fieldPath"));
        Assert.Equal("spec.nodeName", env["NODE_NAME"]);
        Assert.Equal("status.podIP", env["POD_IP"]);
        var secrets = Seq(container, "envFrom").Select(e => Str(e, "secretRef.name")).ToList();
        Assert.Contains(Str(Manifest("Secret"), "metadata.name"), secrets);
        Assert.Contains(Str(Kind("Secret"), "metadata.name"), secrets);
        Assert.Contains("AGW_HOSTS_SECRET", ((YamlMappingNode)At(Kind("Secret"), "stringData")!).Children.Keys.Select(k => ((YamlScalarNode)k).Value));
        Assert.Equal("/health/ready", Str(container, "readinessProbe.httpGet.path"));
        Assert.Equal("/health/live", Str(container, "livenessProbe.httpGet.path"));
    }

    [Fact]
    public void The_hosts_config_validates_and_the_image_is_the_dockerfiles_sandbox_host_target()
    {
        var yaml = Str(Kind("ConfigMap"), "data.config\\.yaml")!;
        var result = ConfigLoader.Load(yaml, "sandbox-host.yaml", new Dictionary<string, string>(), variables: new Dictionary<string, string>
        {
            ["AGW_MASTER_KEY"] = "sk-deploy-check", ["DATABASE_URL"] = "postgresql://agw:x@db:5432/agw", ["REDIS_URL"] = "redis://redis:6379",
            ["NODE_NAME"] = "node-7.cluster.internal", ["POD_IP"] = "10.1.2.3", ["AGW_HOSTS_SECRET"] = new string('s', 40),
        });
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var hosts = result.Options!.Sandboxes.Hosts!;
        Assert.Equal("node-7.cluster.internal", hosts.Id);
        Assert.Equal(new Uri("http://10.1.2.3:8080"), hosts.AdvertiseUrl);
        var port = Str(Seq(At(Kind("DaemonSet"), "spec.template.spec")!, "containers").Single(), "ports.0.containerPort");
        Assert.Equal(port, hosts.AdvertiseUrl.Port.ToString());
        Assert.Equal("/var/lib/agentic-gateway", result.Options.Storage.DataDirectory);

        var image = Str(Seq(At(Kind("DaemonSet"), "spec.template.spec")!, "containers").Single(), "image")!.Split(':')[0];
        Assert.Equal(image, Str(Seq(LoadYaml(Path.Combine(Dir, "kustomization.yaml")).Single(), "images").Single(), "name"));
        var lines = Instructions(File.ReadAllText(Path.Combine(DeployDir, "Dockerfile")));
        var stage = lines.SkipWhile(l => !(l.Verb == "FROM" && l.Args.EndsWith(" AS sandbox-host", StringComparison.Ordinal))).Skip(1).TakeWhile(l => l.Verb != "FROM").ToList();
        Assert.NotEmpty(stage);
        var install = string.Join(" ", stage.Where(l => l.Verb == "RUN").Select(l => l.Args));
        foreach (var package in new[] { "bubblewrap", "python3", "nodejs", "util-linux" }) Assert.Contains(package, install);
        Assert.Contains(stage, l => l.Verb == "COPY" && l.Args.StartsWith("--from=build", StringComparison.Ordinal));
        Assert.Contains(stage, l => l.Verb == "ENTRYPOINT" && l.Args.Contains("AgenticGateway.dll", StringComparison.Ordinal));
    }
}
