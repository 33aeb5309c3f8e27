using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Sandboxes.Templates;

/// <summary>
/// The Dockerfile subset a template may be written in: <c>FROM</c> one of our runtimes (first, once), <c>RUN</c>,
/// <c>COPY</c> (from the uploaded files), <c>ENV</c> and <c>WORKDIR</c>, with line continuations, comments, the exec
/// (JSON) forms, and <c>$NAME</c>/<c>${NAME}</c> in ENV, WORKDIR and COPY. Everything else is refused with its line
/// number rather than skipped: a build that silently dropped an <c>EXPOSE</c> or <c>USER</c> would not be what was asked.
/// </summary>
internal static class DockerfileParser
{
    /// <summary>What ENV's <c>$NAME</c> sees before any ENV: the sandbox's own environment.</summary>
    private static readonly ImmutableDictionary<string, string> BaseEnv = ImmutableDictionary.CreateRange<string, string>(StringComparer.Ordinal,
        [new("PATH", "/usr/local/bin:/usr/bin:/bin"), new("HOME", TemplatePaths.Home), new("USER", "user"), new("LANG", "C.UTF-8")]);

    public static (TemplateSpec? Spec, ApiError? Error) Parse(string text, string param = "dockerfile")
    {
        if (Encoding.UTF8.GetByteCount(text) > TemplatePaths.MaxSpecBytes)
            return Fail($"the Dockerfile is larger than {TemplatePaths.MaxSpecBytes} bytes");
        string? runtime = null;
        var steps = ImmutableArray.CreateBuilder<TemplateStep>();
        var env = BaseEnv;
        var workdir = TemplatePaths.Home;
        foreach (var (line, instruction) in Instructions(text))
        {
            var (keyword, rest) = Split(instruction);
            var upper = keyword.ToUpperInvariant();
            if (runtime is null && upper != "FROM") return Fail($"line {line}: the first instruction must be FROM one of our runtimes (python, node, bash, base, code-interpreter-v1), not {Shown(keyword)}");
            if (steps.Count >= TemplatePaths.MaxSteps) return Fail($"line {line}: more than {TemplatePaths.MaxSteps} instructions");
            switch (upper)
            {
                case "FROM":
                    if (runtime is not null) return Fail($"line {line}: a second FROM (multi-stage builds are not supported)");
                    var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (words.Length != 1 || words[0].StartsWith("--", StringComparison.Ordinal))
                        return Fail($"line {line}: FROM takes one name (no --platform, no AS)");
                    var name = words[0];
                    var colon = name.IndexOf(':');
                    if (colon >= 0 && name[(colon + 1)..] != "latest") return Fail($"line {line}: FROM {Shown(name)}: only the tag 'latest' is known");
                    if (TemplatePaths.BaseRuntime(colon >= 0 ? name[..colon] : name) is not { } r)
                        return Fail($"line {line}: FROM {Shown(name)} is not one of our runtimes (python, node, bash, base, code-interpreter-v1)");
                    runtime = r;
                    break;
                case "RUN":
                    if (rest.StartsWith("--", StringComparison.Ordinal)) return Fail($"line {line}: RUN options ({Shown(rest.Split(' ')[0])}) are not supported");
                    var (command, runError) = ExecForm(rest, line, "RUN");
                    if (runError is not null) return (null, runError with { Param = param });
                    if (command.Length == 0) return Fail($"line {line}: RUN needs a command");
                    if (command.Length > TemplatePaths.MaxCommandChars) return Fail($"line {line}: the RUN command is longer than {TemplatePaths.MaxCommandChars} characters");
                    steps.Add(new TemplateStep(TemplateStepKind.Run, [command], line));
                    break;
                case "COPY":
                    var (copy, copyError) = Copy(rest, line, env, workdir);
                    if (copyError is not null) return Fail(copyError);
                    steps.Add(copy!);
                    break;
                case "ENV":
                    var (pairs, envError) = Env(rest, line, env);
                    if (envError is not null) return Fail(envError);
                    foreach (var (k, v) in pairs)
                    {
                        env = env.SetItem(k, v);
                        steps.Add(new TemplateStep(TemplateStepKind.Env, [k, v], line));
                    }
                    break;
                case "WORKDIR":
                    var target = Substitute(Unquote(rest.Trim()), env);
                    if (target.Length == 0) return Fail($"line {line}: WORKDIR needs a directory");
                    if (TemplatePaths.InHome(target, workdir) is not { } dir)
                        return Fail($"line {line}: WORKDIR {Shown(target)} is outside {TemplatePaths.Home} (a template keeps only the home directory)");
                    workdir = dir;
                    steps.Add(new TemplateStep(TemplateStepKind.Workdir, [dir], line));
                    break;
                default:
                    return Fail($"line {line}: {Shown(keyword)} is not supported (a template's Dockerfile may use FROM, RUN, COPY, ENV and WORKDIR{(upper is "CMD" or "ENTRYPOINT" ? "; give the start command as start_command" : "")})");
            }
        }
        if (runtime is null) return Fail("the Dockerfile has no FROM");
        return (new TemplateSpec { Runtime = runtime, Steps = steps.ToImmutable() }, null);

        (TemplateSpec?, ApiError?) Fail(string message) => (null, ApiError.BadRequest($"Dockerfile: {message}.", param));
    }

    /// <summary>Logical lines: continuations joined (comment lines inside one skipped), blank and comment lines dropped.</summary>
    private static IEnumerable<(int Line, string Text)> Instructions(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var current = new StringBuilder();
        var start = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.Trim();
            if (current.Length == 0 && (trimmed.Length == 0 || trimmed.StartsWith('#'))) continue;
            if (current.Length > 0 && trimmed.StartsWith('#')) continue;
            if (current.Length == 0) start = i + 1;
            var end = line.TrimEnd();
            if (end.EndsWith('\\'))
            {
                current.Append(end[..^1]).Append(' ');
                continue;
            }
            current.Append(line);
            yield return (start, current.ToString().Trim());
            current.Clear();
        }
        if (current.Length > 0) yield return (start, current.ToString().Trim());
    }

    private static (string Keyword, string Remainder) Split(string instruction)
    {
        var space = instruction.IndexOfAny([' ', '\t']);
        return space < 0 ? (instruction, "") : (instruction[..space], instruction[(space + 1)..].Trim());
    }

    /// <summary>The exec form (a JSON array) as one shell command, its words quoted; the shell form as written.</summary>
    private static (string Command, ApiError? Error) ExecForm(string rest, int line, string instruction)
    {
        if (!rest.StartsWith('[')) return (rest, null);
        var (words, error) = JsonWords(rest);
        if (error is not null) return ("", ApiError.BadRequest($"Dockerfile: line {line}: {instruction} [...] must be a JSON array of strings ({error})."));
        return (string.Join(' ', words.Select(Quote)), null);
    }

    private static (List<string> Words, string? Error) JsonWords(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return ([], "not an array");
            var words = new List<string>();
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String) return ([], "an item is not a string");
                words.Add(item.GetString()!);
            }
            return (words, null);
        }
        catch (JsonException ex) { return ([], ex.Message.Split('.')[0]); }
    }

    private static (TemplateStep?, string?) Copy(string rest, int line, ImmutableDictionary<string, string> env, string workdir)
    {
        if (rest.StartsWith("--", StringComparison.Ordinal))
            return (null, $"line {line}: COPY {Shown(rest.Split(' ')[0])} is not supported (files are copied from the build's upload, owned by the sandbox user)");
        List<string> words;
        if (rest.StartsWith('['))
        {
            var (json, error) = JsonWords(rest);
            if (error is not null) return (null, $"line {line}: COPY [...] must be a JSON array of strings ({error})");
            words = json;
        }
        else words = [.. Words(rest)];
        if (words.Count < 2) return (null, $"line {line}: COPY needs a source and a destination");
        var destination = Substitute(words[^1], env);
        var sources = new List<string>();
        foreach (var source in words.Take(words.Count - 1).Select(s => Substitute(s, env)))
        {
            if (source.IndexOfAny(['*', '?', '[']) >= 0) return (null, $"line {line}: COPY {Shown(source)}: wildcards are not supported; name the files or a directory");
            if (TemplatePaths.InContext(source) is not { } normalized)
                return (null, $"line {line}: COPY {Shown(source)} leaves the uploaded files (sources are relative paths inside the upload)");
            sources.Add(normalized);
        }
        if (sources.Count > 1 && !destination.EndsWith('/')) return (null, $"line {line}: COPY with several sources needs a destination directory ending in /");
        if (TemplatePaths.InHome(destination, workdir) is not { } target)
            return (null, $"line {line}: COPY to {Shown(destination)} is outside {TemplatePaths.Home} (a template keeps only the home directory)");
        // The trailing slash says "into this directory"; it is kept for the builder.
        return (new TemplateStep(TemplateStepKind.Copy, [.. sources, destination.EndsWith('/') ? target.TrimEnd('/') + "/" : target], line), null);
    }

    /// <summary><c>ENV a=1 b="two words"</c>, or the legacy <c>ENV name the rest of the line</c>.</summary>
    private static (List<(string, string)>, string?) Env(string rest, int line, ImmutableDictionary<string, string> env)
    {
        var pairs = new List<(string, string)>();
        var words = Words(rest).ToList();
        if (words.Count == 0) return (pairs, $"line {line}: ENV needs name=value");
        if (!words[0].Contains('='))
        {
            var space = rest.IndexOfAny([' ', '\t']);
            if (space < 0) return (pairs, $"line {line}: ENV {Shown(words[0])} has no value");
            words = [words[0] + "=" + Unquote(rest[(space + 1)..].Trim())];
        }
        var scope = env;
        foreach (var word in words)
        {
            var eq = word.IndexOf('=');
            if (eq <= 0) return (pairs, $"line {line}: ENV {Shown(word)} is not name=value");
            var name = word[..eq];
            if (!SandboxSpec.EnvName().IsMatch(name)) return (pairs, $"line {line}: ENV name {Shown(name)} is not a valid variable name");
            var value = Substitute(word[(eq + 1)..], scope);
            if (value.Length > 32 * 1024) return (pairs, $"line {line}: ENV {name} is longer than 32768 characters");
            pairs.Add((name, value));
        }
        return (pairs, null);
    }

    /// <summary>Words split on blanks, with '...' and "..." quoting and backslash escapes (quotes removed).</summary>
    private static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        var any = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < text.Length) word.Append(text[++i]);
                else word.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; any = true; }
            else if (c == '\\' && i + 1 < text.Length) { word.Append(text[++i]); any = true; }
            else if (char.IsWhiteSpace(c)) { if (any || word.Length > 0) yield return word.ToString(); word.Clear(); any = false; }
            else word.Append(c);
        }
        if (any || word.Length > 0) yield return word.ToString();
    }

    private static string Unquote(string text) => Words(text).FirstOrDefault() is { } w && Words(text).Count() == 1 ? w : text;

    /// <summary><c>$NAME</c> and <c>${NAME}</c> from the variables set so far (unknown ones become empty, as in Docker).</summary>
    private static string Substitute(string text, ImmutableDictionary<string, string> env)
    {
        if (!text.Contains('$')) return text;
        var result = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '$' || i + 1 >= text.Length) { result.Append(text[i]); continue; }
            int start, end;
            if (text[i + 1] == '{')
            {
                var close = text.IndexOf('}', i + 2);
                if (close < 0) { result.Append(text[i]); continue; }
                start = i + 2; end = close; i = close;
            }
            else
            {
                start = i + 1; end = start;
                while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_')) end++;
                if (end == start) { result.Append('$'); continue; }
                i = end - 1;
            }
            result.Append(env.GetValueOrDefault(text[start..end], ""));
        }
        return result.ToString();
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>Input quoted back in an error: bounded and printable.</summary>
    internal static string Shown(string text)
    {
        var cut = text.Length > 60 ? text[..60] + "..." : text;
        return new string(cut.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
    }
}
