using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using YamlDotNet.RepresentationModel;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Deploy;

/// <summary>
/// deploy/ as files: the YAML parses, the Kubernetes objects fit together and run the pod safely, the Dockerfile and
/// compose file have the essentials, Prometheus accepts the config, the rules and the dashboards' queries, and the
/// config validates with the real loader. <see cref="DeployedGatewayTests"/> checks them against a running gateway.
/// </summary>
[Trait("Category", "deploy")]
public class DeploymentArtifactsTests
{
    // ---------- YAML and Kubernetes ----------

    [Fact]
    public void Every_yaml_and_json_file_under_deploy_parses()
    {
        var files = Directory.EnumerateFiles(DeployDir, "*.*", SearchOption.AllDirectories).Where(f => f.EndsWith(".yaml") || f.EndsWith(".yml")).ToList();
        Assert.True(files.Count >= 15, $"only {files.Count} YAML files under deploy/");
        foreach (var file in files)
        {
            var documents = LoadYaml(file);
            Assert.True(documents.Count > 0 && documents.All(d => d is YamlMappingNode { Children.Count: > 0 }), $"{file}: no mapping document");
        }
        var dashboards = Directory.GetFiles(Path.Combine(DeployDir, "grafana", "dashboards"), "*.json");
        Assert.Equal(["overview.json", "providers.json", "sandboxes.json", "spend.json"], dashboards.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var file in dashboards)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("uid").GetString()), file);
            Assert.True(doc.RootElement.GetProperty("panels").GetArrayLength() > 0, file);
        }
    }

    [Fact]
    public void Every_kubernetes_manifest_is_named_and_listed_in_the_kustomization()
    {
        var k8s = Path.Combine(DeployDir, "k8s");
        var kustomization = LoadYaml(Path.Combine(k8s, "kustomization.yaml")).Single();
        var listed = Seq(kustomization, "resources").Select(n => ((YamlScalarNode)n).Value!).ToList();
        var files = Directory.GetFiles(k8s, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").ToList();
        Assert.Equal(files.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            foreach (var doc in LoadYaml(Path.Combine(k8s, file!)))
            {
                Assert.False(string.IsNullOrEmpty(Str(doc, "apiVersion")), $"{file}: apiVersion");
                Assert.False(string.IsNullOrEmpty(Str(doc, "kind")), $"{file}: kind");
                Assert.False(string.IsNullOrEmpty(Str(doc, "metadata.name")), $"{file}: metadata.name");
            }
        }
        var kinds = Manifests().Select(m => $"{Str(m, "apiVersion")} {Str(m, "kind")}").Order(StringComparer.Ordinal);
        Assert.Equal([
            "apps/v1 Deployment", "autoscaling/v2 HorizontalPodAutoscaler", "networking.k8s.io/v1 NetworkPolicy", "policy/v1 PodDisruptionBudget",
            "v1 ConfigMap", "v1 Namespace", "v1 Secret", "v1 Service"], kinds);
    }

    [Fact]
    public async Task The_pod_runs_non_root_read_only_with_probes_on_the_health_routes_and_drains_before_it_is_killed()
    {
        var deployment = Manifest("Deployment");
        var pod = At(deployment, "spec.template.spec")!;
        var container = (YamlMappingNode)Seq(pod, "containers").Single();

        Assert.Equal("true", Str(pod, "securityContext.runAsNonRoot"));
        Assert.True(int.Parse(Str(pod, "securityContext.runAsUser")!) > 0);
        Assert.Equal("true", Str(container, "securityContext.readOnlyRootFilesystem"));
        Assert.Equal("false", Str(container, "securityContext.allowPrivilegeEscalation"));
        Assert.Equal("true", Str(container, "securityContext.runAsNonRoot"));
        Assert.Equal(["ALL"], Seq(container, "securityContext.capabilities.drop").Select(n => ((YamlScalarNode)n).Value));

        // Probes on the health routes, on the port the gateway listens on (deploy/config: server.port).
        var ports = Seq(container, "ports").Select(p => (Name: Str(p, "name"), Port: Str(p, "containerPort"))).ToList();
        string PortOf(string probe)
        {
            var port = Str(container, $"{probe}.httpGet.port")!;
            return ports.FirstOrDefault(p => p.Name == port).Port ?? port;
        }
        Assert.Equal("/health/live", Str(container, "livenessProbe.httpGet.path"));
        Assert.Equal("/health/ready", Str(container, "readinessProbe.httpGet.path"));
        Assert.Equal("/health/live", Str(container, "startupProbe.httpGet.path"));
        var configPort = LoadDeployConfig(new Dictionary<string, string>()).Server.Urls!.Split(':')[^1];
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" }) Assert.Equal(configPort, PortOf(probe));

        Assert.NotNull(At(container, "resources.requests.cpu"));
        Assert.NotNull(At(container, "resources.requests.memory"));
        Assert.NotNull(At(container, "resources.limits.memory"));

        // Writable places: /tmp and /data as emptyDirs; the config from the ConfigMap; secrets from the Secret.
        var volumes = Seq(pod, "volumes").ToDictionary(v => Str(v, "name")!, v => (YamlMappingNode)v);
        var mounts = Seq(container, "volumeMounts").ToDictionary(m => Str(m, "mountPath")!, m => Str(m, "name")!);
        Assert.NotNull(At(volumes[mounts["/tmp"]], "emptyDir"));
        Assert.NotNull(At(volumes[mounts["/data"]], "emptyDir"));
        Assert.Equal(Str(Manifest("ConfigMap"), "metadata.name"), Str(volumes[mounts["/etc/agentic-gateway"]], "configMap.name"));
        Assert.Contains("/etc/agentic-gateway/config.yaml", Seq(container, "args").Select(a => ((YamlScalarNode)a).Value));
        Assert.Equal(Str(Manifest("Secret"), "metadata.name"), Str(Seq(container, "envFrom").Single(), "secretRef.name"));

        // The grace period covers the preStop pause (endpoints drain first) and the gateway's own drain after SIGTERM.
        var preStop = Seq(container, "lifecycle.preStop.exec.command").Select(n => ((YamlScalarNode)n).Value).ToList();
        Assert.Equal("sleep", preStop[0]);
        var drain = await GatewayDrainTimeoutAsync();
        var grace = TimeSpan.FromSeconds(int.Parse(Str(pod, "terminationGracePeriodSeconds")!));
        Assert.True(grace > TimeSpan.FromSeconds(int.Parse(preStop[1]!)) + drain, $"grace {grace} must exceed preStop {preStop[1]} s + drain {drain}");
    }

    [Fact]
    public void The_service_pdb_hpa_and_network_policy_select_the_deployment()
    {
        var deployment = Manifest("Deployment");
        var name = Str(deployment, "metadata.name");
        var podLabels = Labels(At(deployment, "spec.template.metadata.labels"));
        void Selects(Dictionary<string, string> selector, string what)
        {
            Assert.True(selector.Count > 0, $"{what}: empty selector");
            foreach (var (k, v) in selector) Assert.True(podLabels.GetValueOrDefault(k) == v, $"{what}: selector {k}={v} does not match the pod labels");
        }
        Selects(Labels(At(deployment, "spec.selector.matchLabels")), "Deployment");
        Selects(Labels(At(Manifest("Service"), "spec.selector")), "Service");
        Selects(Labels(At(Manifest("PodDisruptionBudget"), "spec.selector.matchLabels")), "PodDisruptionBudget");
        Selects(Labels(At(Manifest("NetworkPolicy"), "spec.podSelector.matchLabels")), "NetworkPolicy");

        var service = Manifest("Service");
        var servicePort = Seq(service, "spec.ports").Single();
        Assert.Equal("http", Str(servicePort, "targetPort"));

        var hpa = Manifest("HorizontalPodAutoscaler");
        Assert.Equal("Deployment", Str(hpa, "spec.scaleTargetRef.kind"));
        Assert.Equal("apps/v1", Str(hpa, "spec.scaleTargetRef.apiVersion"));
        Assert.Equal(name, Str(hpa, "spec.scaleTargetRef.name"));
        var min = int.Parse(Str(hpa, "spec.minReplicas")!);
        Assert.True(min >= 2 && int.Parse(Str(hpa, "spec.maxReplicas")!) > min);
        // The PDB must leave room to evict one pod at the HPA's minimum.
        Assert.True(int.Parse(Str(Manifest("PodDisruptionBudget"), "spec.minAvailable")!) < min);
        Assert.Equal("Utilization", Str(Seq(hpa, "spec.metrics").First(), "resource.target.type"));

        var ingressPorts = Seq(Manifest("NetworkPolicy"), "spec.ingress").SelectMany(r => Seq(r, "ports")).Select(p => Str(p, "port"));
        Assert.Contains("8080", ingressPorts);
    }

    [Fact]
    public void The_configmap_carries_the_deploy_config_word_for_word()
    {
        var inMap = Str(Manifest("ConfigMap"), "data.config\\.yaml");
        Assert.Equal(File.ReadAllText(Path.Combine(DeployDir, "config", "gateway.yaml")), inMap);
    }

    // ---------- Dockerfile and compose ----------

    [Fact]
    public void The_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_no_secrets()
    {
        var lines = Instructions(File.ReadAllText(Path.Combine(DeployDir, "Dockerfile")));
        var stages = lines.Where(l => l.Verb == "FROM").ToList();
        Assert.True(stages.Count >= 2, "multi-stage: a build stage and a runtime stage");
        Assert.Contains(stages, s => s.Args.Contains("/sdk:", StringComparison.Ordinal));
        Assert.Contains("/aspnet:", stages[^1].Args, StringComparison.Ordinal);
        var final = lines.SkipWhile(l => l != stages[^1]).ToList();
        Assert.Contains(final, l => l.Verb == "COPY" && l.Args.StartsWith("--from=", StringComparison.Ordinal));

        var user = final.Last(l => l.Verb == "USER").Args.Split(':')[0];
        Assert.True(int.TryParse(user, out var uid) && uid == 10001, $"USER {user}: expected the numeric non-root uid 10001 (runAsNonRoot can verify a number only)");
        Assert.Contains(final, l => l.Verb == "HEALTHCHECK" && l.Args.Contains("/health/live", StringComparison.Ordinal));
        Assert.Contains(final, l => l.Verb == "EXPOSE" && l.Args.Split(' ').Contains("8080"));
        Assert.Contains(final, l => l.Verb == "ENV" && l.Args.Contains("AGW_CONFIG=/etc/agentic-gateway/config.yaml", StringComparison.Ordinal));
        Assert.Contains(final, l => l.Verb == "ENTRYPOINT" && l.Args.Contains("AgenticGateway.dll", StringComparison.Ordinal));

        // No secret in ENV or ARG, and no key-shaped literal anywhere.
        foreach (var l in lines.Where(l => l.Verb is "ENV" or "ARG"))
            Assert.DoesNotMatch(@"(?i)(key|secret|password|token)\w*\s*=", l.Args);
        Assert.DoesNotMatch(@"sk-[A-Za-z0-9]", string.Join("\n", lines.Select(l => l.Args)));

        // What it copies exists, and the ignore file lets it through.
        var ignore = File.ReadAllLines(Path.Combine(DeployDir, "Dockerfile.dockerignore"));
        foreach (var copy in lines.Where(l => l.Verb == "COPY" && !l.Args.StartsWith("--from=", StringComparison.Ordinal)))
        {
            foreach (var source in copy.Args.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1])
            {
                Assert.True(File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"COPY {source}: not in the repository");
                var top = source.TrimEnd('/').Split('/')[0];
                Assert.True(ignore.Any(i => i == "!" + source || i == "!" + top + "/" || i == "!" + source.TrimEnd('/') + "/"), $"COPY {source}: excluded by Dockerfile.dockerignore");
            }
        }
    }

    [Fact]
    public async Task Compose_runs_the_gateway_restricted_with_its_config_storage_and_monitoring()
    {
        var compose = LoadYaml(Path.Combine(DeployDir, "compose.yaml")).Single();
        var services = ((YamlMappingNode)At(compose, "services")!).Children.Keys.Select(k => ((YamlScalarNode)k).Value).ToList();
        Assert.Equal(["gateway", "grafana", "postgres", "prometheus", "redis"], services.Order(StringComparer.Ordinal));

        var gateway = At(compose, "services.gateway")!;
        Assert.Equal("deploy/Dockerfile", Str(gateway, "build.dockerfile"));
        Assert.Equal("10001:10001", Str(gateway, "user"));
        Assert.Equal("true", Str(gateway, "read_only"));
        Assert.Contains("/tmp", Seq(gateway, "tmpfs").Select(n => ((YamlScalarNode)n).Value));
        Assert.StartsWith("postgresql://", Str(gateway, "environment.DATABASE_URL"), StringComparison.Ordinal);
        Assert.StartsWith("redis://redis:", Str(gateway, "environment.REDIS_URL"), StringComparison.Ordinal);
        Assert.StartsWith("${AGW_MASTER_KEY:?", Str(gateway, "environment.AGW_MASTER_KEY"), StringComparison.Ordinal);
        var grace = Str(gateway, "stop_grace_period")!;
        Assert.True(TimeSpan.FromSeconds(int.Parse(grace.TrimEnd('s'))) > await GatewayDrainTimeoutAsync(), $"stop_grace_period {grace}");

        // Every bind mount's source exists (relative to deploy/), and the mounts line up with the config and provisioning.
        var mounts = services.SelectMany(s => Seq(At(compose, $"services.{s}")!, "volumes").Select(v => ((YamlScalarNode)v).Value!.Split(':'))).ToList();
        foreach (var m in mounts.Where(m => m[0].StartsWith("./", StringComparison.Ordinal)))
            Assert.True(File.Exists(Path.Combine(DeployDir, m[0])) || Directory.Exists(Path.Combine(DeployDir, m[0])), $"compose mounts {m[0]}, which does not exist");
        Assert.Contains(mounts, m => m[0] == "./config/gateway.yaml" && m[1] == "/etc/agentic-gateway/config.yaml");
        var dashboardsMount = mounts.Single(m => m[0] == "./grafana/dashboards")[1];
        var provider = LoadYaml(Path.Combine(DeployDir, "grafana", "provisioning", "dashboards", "agentic-gateway.yaml")).Single();
        Assert.Equal(dashboardsMount, Str(Seq(provider, "providers").Single(), "options.path"));
        var datasource = Seq(LoadYaml(Path.Combine(DeployDir, "grafana", "provisioning", "datasources", "prometheus.yaml")).Single(), "datasources").Single();
        Assert.Equal("http://prometheus:9090", Str(datasource, "url"));
        // Every dashboard query uses this datasource.
        foreach (var file in Directory.GetFiles(Path.Combine(DeployDir, "grafana", "dashboards"), "*.json"))
        {
            foreach (var uid in Regex.Matches(File.ReadAllText(file), "\"uid\":\\s*\"([^\"]+)\"").Select(m => m.Groups[1].Value).Skip(1))
                Assert.True(uid == Str(datasource, "uid"), $"{Path.GetFileName(file)}: datasource uid {uid}");
        }
        var scrape = Seq(LoadYaml(Path.Combine(DeployDir, "prometheus", "prometheus.yml")).Single(), "scrape_configs").Single();
        Assert.Equal("gateway:8080", ((YamlScalarNode)Seq(Seq(scrape, "static_configs").Single(), "targets").Single()).Value);
    }

    // ---------- Prometheus ----------

    [Fact]
    public void The_prometheus_config_and_alert_rules_pass_promtool()
    {
        var rules = Promtool("check", "rules", Path.Combine(DeployDir, "prometheus", "alerts.yml"));
        Assert.True(rules.Code == 0, $"promtool check rules: exit {rules.Code}\n{rules.Output}");
        var config = Promtool("check", "config", Path.Combine(DeployDir, "prometheus", "prometheus.yml"));
        Assert.True(config.Code == 0, $"promtool check config: exit {config.Code}\n{config.Output}");
        Assert.Contains("alerts.yml", config.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_dashboard_query_is_valid_promql()
    {
        // promtool parses expressions in recording rules; Grafana's variables get plausible values first.
        var rules = DashboardExpressions().Select((e, i) => new Dictionary<string, string>
        {
            ["record"] = $"dashboard_query_{i}",
            ["expr"] = Regex.Replace(e.Replace("$__rate_interval", "5m").Replace("$__range", "1h"), @"\$\w+", ".*"),
        }).ToList();
        Assert.True(rules.Count > 30, $"only {rules.Count} dashboard queries");
        var file = Path.Combine(Directory.CreateTempSubdirectory("agw-dash-").FullName, "dashboards.rules.yml");
        // JSON is YAML.
        File.WriteAllText(file, JsonSerializer.Serialize(new { groups = new[] { new { name = "dashboards", rules } } }));
        var result = Promtool("check", "rules", file);
        Assert.True(result.Code == 0, $"promtool check rules on the dashboard queries: exit {result.Code}\n{result.Output}");
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    // ---------- Config ----------

    [Fact]
    public async Task The_deploy_config_validates_with_the_real_loader()
    {
        // In process: every ${VAR} is optional except the master key, which is an error until it is set (an open
        // gateway on 0.0.0.0 is never the result of a missing variable).
        var file = Path.Combine(DeployDir, "config", "gateway.yaml");
        var unset = ConfigLoader.Load(File.ReadAllText(file), file, new Dictionary<string, string>(), variables: new Dictionary<string, string>());
        Assert.Contains(unset.Errors, e => e.StartsWith("master_key: '${AGW_MASTER_KEY}' names an environment variable that is not set", StringComparison.Ordinal));
        var options = LoadDeployConfig(new Dictionary<string, string>());
        Assert.Contains(options.Deployments, d => d.ModelName == "mock-gpt");
        Assert.Equal("/data", options.Storage.DataDirectory);
        Assert.Equal("http://0.0.0.0:8080", options.Server.Urls);
        Assert.False(options.Sandboxes.Enabled ?? true);

        // As the container runs it: the gateway's own check-config with the environment compose sets.
        var env = ComposeEnvironment("sk-check", "postgresql://agw:pw@postgres:5432/agw", "redis://redis:6379");
        var (code, output) = await RunAsync([DotnetHost(), GatewayDll(), "check-config", "--config", Path.Combine(DeployDir, "config", "gateway.yaml")], env, TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"check-config: exit {code}\n{output}");
        Assert.Contains("Configuration is valid: 3 deployments.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", output, StringComparison.Ordinal);
    }
}
