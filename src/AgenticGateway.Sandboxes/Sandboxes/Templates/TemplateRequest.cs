using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// A build request (POST /v1/templates): the template's name, whether it is public, and its spec, written either
/// declaratively (<c>runtime</c>, <c>packages</c>, <c>files</c>, <c>env</c>, <c>workdir</c>, <c>run</c>) or as a
/// <c>dockerfile</c>; <c>start_command</c>, <c>packages</c> and the build's <c>network</c> go with either.
/// The same fields arrive as JSON or YAML.
/// </summary>
internal sealed record TemplateRequest(string Name, bool Public, TemplateSpec Spec)
{
    private static readonly string[] Declarative = ["runtime", "files", "env", "workdir", "run"];

    public static (TemplateRequest? Request, ApiError? Error) Parse(JsonElement body, SandboxOptions options)
    {
        if (body.ValueKind != JsonValueKind.Object) return (null, ApiError.BadRequest("The template spec must be an object."));
        if (SandboxHttpText(body, "name") is not { } name || !TemplatePaths.ValidName(name))
            return (null, ApiError.BadRequest("name is required: 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.", "name"));
        if (TemplatePaths.BuiltIn.Contains(name))
            return (null, ApiError.BadRequest($"name '{name}' is built in (base, code-interpreter-v1 and the runtimes cannot be overwritten).", "name"));
        var isPublic = false;
        if (body.TryGetProperty("public", out var pub))
        {
            if (pub.ValueKind is JsonValueKind.True or JsonValueKind.False) isPublic = pub.GetBoolean();
            else if (pub.ValueKind != JsonValueKind.Null) return (null, ApiError.BadRequest("public must be a boolean.", "public"));
        }
        foreach (var p in body.EnumerateObject())
            if (p.Name is not ("name" or "public" or "dockerfile" or "packages" or "start_command" or "start_cmd" or "network" or "allow_hosts") && !Declarative.Contains(p.Name))
                return (null, ApiError.BadRequest($"Unknown field '{DockerfileParser.Shown(p.Name)}' (a template has: name, public, runtime, packages, files, env, workdir, run, dockerfile, start_command, network, allow_hosts).", p.Name));

        TemplateSpec spec;
        if (body.TryGetProperty("dockerfile", out var dockerfile) && dockerfile.ValueKind != JsonValueKind.Null)
        {
            if (dockerfile.ValueKind != JsonValueKind.String) return (null, ApiError.BadRequest("dockerfile must be a string (the Dockerfile's text).", "dockerfile"));
            if (Declarative.FirstOrDefault(n => body.TryGetProperty(n, out _)) is { } both)
                return (null, ApiError.BadRequest($"{both} cannot be given with a dockerfile (write it as FROM, COPY, ENV, WORKDIR or RUN).", both));
            var (parsed, error) = DockerfileParser.Parse(dockerfile.GetString()!);
            if (error is not null) return (null, error);
            spec = parsed!;
        }
        else
        {
            var (parsed, error) = Declared(body);
            if (error is not null) return (null, error);
            spec = parsed!;
        }

        if (body.TryGetProperty("packages", out var packages))
        {
            var (list, error) = SandboxSpec.StringList(packages, "packages", 100, SandboxSpec.PackageName(), "a package name with an optional version, such as numpy==2.1.0");
            if (error is not null) return (null, error);
            spec = spec with { Packages = list };
        }
        if (body.TryGetProperty("start_command", out var start) || body.TryGetProperty("start_cmd", out start))
        {
            if (start.ValueKind == JsonValueKind.String && start.GetString() is { Length: > 0 and <= TemplatePaths.MaxCommandChars } command && !command.Contains('\0'))
                spec = spec with { StartCommand = command };
            else if (start.ValueKind != JsonValueKind.Null)
                return (null, ApiError.BadRequest($"start_command must be a shell command of at most {TemplatePaths.MaxCommandChars} characters.", "start_command"));
        }
        var (network, networkError) = Network(body, options);
        if (networkError is not null) return (null, networkError);
        return (new TemplateRequest(name, isPublic, spec with { Network = network }), null);
    }

    private static string? SandboxHttpText(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The declarative fields as steps, in the order that makes each see the one before: workdir, env, files, run.</summary>
    private static (TemplateSpec?, ApiError?) Declared(JsonElement body)
    {
        var runtime = "python";
        if (body.TryGetProperty("runtime", out var r) && r.ValueKind != JsonValueKind.Null)
        {
            if (r.ValueKind != JsonValueKind.String || TemplatePaths.BaseRuntime(r.GetString()!) is not { } known)
                return (null, ApiError.BadRequest("runtime must be one of: python, node, bash (or base, code-interpreter-v1).", "runtime"));
            runtime = known;
        }
        var steps = ImmutableArray.CreateBuilder<TemplateStep>();
        var workdir = TemplatePaths.Home;
        if (body.TryGetProperty("workdir", out var w) && w.ValueKind != JsonValueKind.Null)
        {
            if (w.ValueKind != JsonValueKind.String || TemplatePaths.InHome(w.GetString()!, TemplatePaths.Home) is not { } dir)
                return (null, ApiError.BadRequest($"workdir must be a directory inside {TemplatePaths.Home} (a template keeps only the home directory).", "workdir"));
            workdir = dir;
            steps.Add(new TemplateStep(TemplateStepKind.Workdir, [dir], 1));
        }
        if (body.TryGetProperty("env", out var env))
        {
            var (map, error) = SandboxSpec.StringMap(env, "env", 256, 32 * 1024, SandboxSpec.EnvName());
            if (error is not null) return (null, error);
            foreach (var (k, v) in map.OrderBy(e => e.Key, StringComparer.Ordinal)) steps.Add(new TemplateStep(TemplateStepKind.Env, [k, v], steps.Count + 1));
        }
        if (body.TryGetProperty("files", out var files) && files.ValueKind != JsonValueKind.Null)
        {
            if (files.ValueKind != JsonValueKind.Object) return (null, ApiError.BadRequest("files must be an object of path: text.", "files"));
            long total = 0;
            foreach (var f in files.EnumerateObject())
            {
                if (f.Value.ValueKind != JsonValueKind.String) return (null, ApiError.BadRequest($"files.{DockerfileParser.Shown(f.Name)} must be the file's text.", "files"));
                if (TemplatePaths.InHome(f.Name, workdir) is not { } path || path == TemplatePaths.Home)
                    return (null, ApiError.BadRequest($"files: '{DockerfileParser.Shown(f.Name)}' is outside {TemplatePaths.Home} (a template keeps only the home directory).", "files"));
                var text = f.Value.GetString()!;
                total += Encoding.UTF8.GetByteCount(text);
                if (total > TemplatePaths.MaxInlineFileBytes) return (null, ApiError.BadRequest($"files: more than {TemplatePaths.MaxInlineFileBytes} bytes in all (upload larger files and COPY them).", "files"));
                steps.Add(new TemplateStep(TemplateStepKind.Write, [path, text], steps.Count + 1));
            }
        }
        if (body.TryGetProperty("run", out var run) && run.ValueKind != JsonValueKind.Null)
        {
            var commands = run.ValueKind == JsonValueKind.String ? [run] : run.ValueKind == JsonValueKind.Array ? run.EnumerateArray().ToList() : null;
            if (commands is null || commands.Any(c => c.ValueKind != JsonValueKind.String || c.GetString()!.Length is 0 or > TemplatePaths.MaxCommandChars))
                return (null, ApiError.BadRequest($"run must be a shell command or a list of them (each at most {TemplatePaths.MaxCommandChars} characters).", "run"));
            foreach (var c in commands) steps.Add(new TemplateStep(TemplateStepKind.Run, [c.GetString()!], steps.Count + 1));
        }
        if (steps.Count > TemplatePaths.MaxSteps) return (null, ApiError.BadRequest($"A template has at most {TemplatePaths.MaxSteps} steps.", "run"));
        return (new TemplateSpec { Runtime = runtime, Steps = steps.ToImmutable() }, null);
    }

    /// <summary>The build's network, validated exactly as a sandbox's is (the same ceiling on allow_hosts).</summary>
    private static (NetworkPolicy, ApiError?) Network(JsonElement body, SandboxOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var name in (ReadOnlySpan<string>)["network", "allow_hosts"])
                if (body.TryGetProperty(name, out var v)) { w.WritePropertyName(name); v.WriteTo(w); }
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        var (spec, error) = SandboxSpec.Parse(doc.RootElement, options);
        return (spec?.Network ?? NetworkPolicy.None, error);
    }

    /// <summary>
    /// A spec written as YAML, as a JSON document. Scalars are strings, except plain true/false/null; nothing is
    /// expanded (unlike the gateway's own config, a tenant's text never sees the gateway's environment).
    /// </summary>
    public static (JsonDocument? Document, ApiError? Error) FromYaml(string text, string param = "spec")
    {
        if (Encoding.UTF8.GetByteCount(text) > TemplatePaths.MaxSpecBytes) return (null, ApiError.BadRequest($"The spec is larger than {TemplatePaths.MaxSpecBytes} bytes.", param));
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException ex) { return (null, ApiError.BadRequest($"{param}: line {ex.Start.Line}: {ex.InnerException?.Message ?? ex.Message}", param)); }
        // YamlDotNet's scanner gives up on some malformed input without a position.
        catch (InvalidOperationException) { return (null, ApiError.BadRequest($"{param}: not valid YAML.", param)); }
        if (stream.Documents.Count != 1) return (null, ApiError.BadRequest($"{param}: one YAML document is expected.", param));
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            if (Write(stream.Documents[0].RootNode, w, 0) is { } problem) return (null, ApiError.BadRequest($"{param}: {problem}", param));
        return (JsonDocument.Parse(buffer.WrittenMemory), null);
    }

    private static string? Write(YamlNode node, Utf8JsonWriter w, int depth)
    {
        if (depth > 16) return $"line {node.Start.Line}: nested too deeply.";
        switch (node)
        {
            case YamlScalarNode s when s.Style == ScalarStyle.Plain && s.Value is "true" or "false":
                w.WriteBooleanValue(s.Value == "true"); return null;
            case YamlScalarNode s when s.Style == ScalarStyle.Plain && s.Value is null or "" or "~" or "null":
                w.WriteNullValue(); return null;
            case YamlScalarNode s:
                w.WriteStringValue(s.Value); return null;
            case YamlSequenceNode seq:
                w.WriteStartArray();
                foreach (var item in seq) if (Write(item, w, depth + 1) is { } e) return e;
                w.WriteEndArray();
                return null;
            case YamlMappingNode map:
                w.WriteStartObject();
                foreach (var (k, v) in map)
                {
                    if (k is not YamlScalarNode key || key.Value is null) return $"line {k.Start.Line}: keys must be plain names.";
                    w.WritePropertyName(key.Value);
                    if (Write(v, w, depth + 1) is { } e) return e;
                }
                w.WriteEndObject();
                return null;
            default:
                return $"line {node.Start.Line}: anchors and aliases are not supported.";
        }
    }
}
