using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Templates;

namespace AgenticGateway.Tests.Sandboxes.Templates;

/// <summary>The Dockerfile subset, the declarative spec (JSON and YAML), their refusals with line numbers, and the upload's rules.</summary>
[Trait("Category", "unit")]
public class TemplateSpecTests
{
    private static TemplateSpec Dockerfile(string text)
    {
        var (spec, error) = DockerfileParser.Parse(text);
        Assert.True(error is null, error?.Message);
        return spec!;
    }

    private static string Refused(string text)
    {
        var (spec, error) = DockerfileParser.Parse(text);
        Assert.Null(spec);
        Assert.Equal(400, error!.Status);
        return error.Message;
    }

    [Fact]
    public void Every_instruction_of_the_subset_becomes_a_step_with_its_line()
    {
        var spec = Dockerfile("""
            # syntax comment
            FROM python
            ENV GREETING=hello NAME="the user"
            ENV LEGACY value with spaces
            WORKDIR app
            COPY data.txt ./data.txt
            COPY ["src", "lib/"]
            RUN echo $GREETING > out.txt && \
                # a comment inside the continuation
                echo done
            RUN ["python3", "-c", "print('it''s')"]
            """);
        Assert.Equal("python", spec.Runtime);
        var kinds = spec.Steps.Select(s => (s.Kind, s.Line)).ToList();
        Assert.Equal([(TemplateStepKind.Env, 3), (TemplateStepKind.Env, 3), (TemplateStepKind.Env, 4), (TemplateStepKind.Workdir, 5), (TemplateStepKind.Copy, 6),
            (TemplateStepKind.Copy, 7), (TemplateStepKind.Run, 8), (TemplateStepKind.Run, 11)], kinds);
        Assert.Equal(["GREETING", "hello"], spec.Steps[0].Args.ToArray());
        Assert.Equal(["NAME", "the user"], spec.Steps[1].Args.ToArray());
        Assert.Equal(["LEGACY", "value with spaces"], spec.Steps[2].Args.ToArray());
        Assert.Equal("/home/user/app", spec.Steps[3].Args[0]);
        Assert.Equal(["data.txt", "/home/user/app/data.txt"], spec.Steps[4].Args.ToArray());
        Assert.Equal(["src", "/home/user/app/lib/"], spec.Steps[5].Args.ToArray());
        Assert.Equal("echo $GREETING > out.txt &&      echo done", spec.Steps[6].Args[0]);
        Assert.Equal("'python3' '-c' 'print('\\''it'\\'''\\''s'\\'')'", spec.Steps[7].Args[0]);
        Assert.Equal("/home/user/app", spec.Workdir);
        Assert.Equal("hello", spec.Env["GREETING"]);
    }

    [Fact]
    public void Env_and_workdir_substitute_earlier_variables_and_the_base_path()
    {
        var spec = Dockerfile("FROM node:latest\nENV BIN=/home/user/bin\nENV PATH=$PATH:${BIN}\nWORKDIR $BIN/x\nWORKDIR ../y");
        Assert.Equal("node", spec.Runtime);
        Assert.Equal("/usr/local/bin:/usr/bin:/bin:/home/user/bin", spec.Env["PATH"]);
        Assert.Equal("/home/user/bin/y", spec.Workdir);
    }

    [Theory]
    [InlineData("FROM python\nRUN true\nCMD [\"x\"]", "line 3: CMD is not supported")]
    [InlineData("FROM python\n\nEXPOSE 80", "line 3: EXPOSE is not supported")]
    [InlineData("FROM python\nUSER root", "line 2: USER is not supported")]
    [InlineData("RUN true\nFROM python", "line 1: the first instruction must be FROM")]
    [InlineData("FROM ubuntu:22.04", "line 1: FROM ubuntu:22.04: only the tag 'latest'")]
    [InlineData("FROM ubuntu", "line 1: FROM ubuntu is not one of our runtimes")]
    [InlineData("FROM python AS build", "line 1: FROM takes one name")]
    [InlineData("FROM python\nFROM node", "line 2: a second FROM")]
    [InlineData("FROM python\nCOPY --from=build a b", "line 2: COPY --from=build is not supported")]
    [InlineData("FROM python\nCOPY ../secret x", "line 2: COPY ../secret leaves the uploaded files")]
    [InlineData("FROM python\nCOPY /etc/passwd x", "line 2: COPY /etc/passwd leaves the uploaded files")]
    [InlineData("FROM python\nCOPY a /etc/a", "line 2: COPY to /etc/a is outside /home/user")]
    [InlineData("FROM python\nCOPY a ../../../tmp/a", "line 2: COPY to ../../../tmp/a is outside /home/user")]
    [InlineData("FROM python\nCOPY *.py ./", "line 2: COPY *.py: wildcards are not supported")]
    [InlineData("FROM python\nCOPY a b c", "line 2: COPY with several sources needs a destination directory")]
    [InlineData("FROM python\nWORKDIR /etc", "line 2: WORKDIR /etc is outside /home/user")]
    [InlineData("FROM python\nRUN --mount=type=cache true", "line 2: RUN options")]
    [InlineData("FROM python\nRUN [\"a\", 1]", "line 2: RUN [...] must be a JSON array of strings")]
    [InlineData("FROM python\nENV 1BAD=x", "line 2: ENV name 1BAD is not a valid variable name")]
    [InlineData("FROM python\nENV ONLY", "line 2: ENV ONLY has no value")]
    [InlineData("# nothing\n", "the Dockerfile has no FROM")]
    public void Anything_outside_the_subset_is_refused_with_its_line(string text, string expected) =>
        Assert.Contains(expected, Refused(text));

    [Fact]
    public void A_continued_instruction_is_reported_at_its_first_line()
    {
        Assert.Contains("line 3: ADD is not supported", Refused("FROM python\n\nADD a \\\n  b"));
        Assert.Contains("line 5: VOLUME", Refused("FROM python\nRUN a \\\n b \\\n c\nVOLUME /x"));
    }

    [Fact]
    public void Sizes_are_limited()
    {
        Assert.Contains("larger than", Refused("FROM python\n" + new string('#', TemplatePaths.MaxSpecBytes)));
        Assert.Contains("line 2: the RUN command is longer", Refused("FROM python\nRUN " + new string('x', TemplatePaths.MaxCommandChars + 1)));
        Assert.Contains($"more than {TemplatePaths.MaxSteps}", Refused("FROM python\n" + string.Concat(Enumerable.Repeat("RUN true\n", TemplatePaths.MaxSteps + 1))));
    }

    private static (TemplateRequest?, AgenticGateway.OpenAi.ApiError?) Request(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return TemplateRequest.Parse(doc.RootElement, new SandboxOptions());
    }

    [Fact]
    public void A_declarative_spec_becomes_workdir_env_files_and_run_steps_in_that_order()
    {
        var (request, error) = Request("""
            {"name":"demo","runtime":"node","workdir":"app","env":{"B":"2","A":"1"},"files":{"cfg/x.txt":"hi","/home/user/abs.txt":"a"},
             "run":["echo 1","echo 2"],"packages":["left-pad==1.3.0"],"start_command":"node server.js"}
            """);
        Assert.Null(error);
        var spec = request!.Spec;
        Assert.Equal("demo", request.Name);
        Assert.False(request.Public);
        Assert.Equal("node", spec.Runtime);
        Assert.Equal([TemplateStepKind.Workdir, TemplateStepKind.Env, TemplateStepKind.Env, TemplateStepKind.Write, TemplateStepKind.Write, TemplateStepKind.Run, TemplateStepKind.Run],
            spec.Steps.Select(s => s.Kind));
        Assert.Equal(["/home/user/app/cfg/x.txt", "hi"], spec.Steps[3].Args.ToArray());
        Assert.Equal("/home/user/abs.txt", spec.Steps[4].Args[0]);
        Assert.Equal(["left-pad==1.3.0"], spec.Packages.ToArray());
        Assert.Equal("node server.js", spec.StartCommand);
        Assert.Equal("/home/user/app", spec.Workdir);
        Assert.Equal(NetworkMode.None, spec.Network.Mode);
    }

    [Theory]
    [InlineData("""{"runtime":"python"}""", "name is required")]
    [InlineData("""{"name":"../x"}""", "name is required")]
    [InlineData("""{"name":"base"}""", "built in")]
    [InlineData("""{"name":"code-interpreter-v1"}""", "built in")]
    [InlineData("""{"name":"Python"}""", "built in")]
    [InlineData("""{"name":"t","runtime":"ruby"}""", "runtime must be one of")]
    [InlineData("""{"name":"t","files":{"../../etc/passwd":"x"}}""", "is outside /home/user")]
    [InlineData("""{"name":"t","files":{"/tmp/x":"x"}}""", "is outside /home/user")]
    [InlineData("""{"name":"t","workdir":"/opt"}""", "workdir must be a directory inside /home/user")]
    [InlineData("""{"name":"t","env":{"1X":"y"}}""", "not a valid name")]
    [InlineData("""{"name":"t","run":[1]}""", "run must be a shell command")]
    [InlineData("""{"name":"t","dockerfile":"FROM python","runtime":"python"}""", "runtime cannot be given with a dockerfile")]
    [InlineData("""{"name":"t","dockerfile":"FROM python\nHEALTHCHECK NONE"}""", "line 2: HEALTHCHECK is not supported")]
    [InlineData("""{"name":"t","public":"yes"}""", "public must be a boolean")]
    [InlineData("""{"name":"t","network":"allowlist"}""", "allow_hosts")]
    [InlineData("""{"name":"t","entrypoint":"x"}""", "Unknown field 'entrypoint'")]
    [InlineData("""{"name":"t","start_command":""}""", "start_command must be")]
    public void A_bad_declarative_spec_is_refused_naming_the_field(string json, string expected)
    {
        var (request, error) = Request(json);
        Assert.Null(request);
        Assert.Contains(expected, error!.Message);
    }

    [Fact]
    public void Inline_files_are_limited_in_size()
    {
        var (_, error) = Request("{\"name\":\"t\",\"files\":{\"a\":\"" + new string('x', TemplatePaths.MaxInlineFileBytes + 1) + "\"}}");
        Assert.Contains("more than", error!.Message);
    }

    [Fact]
    public void Yaml_specs_read_like_json_and_report_syntax_errors_with_their_line()
    {
        var (doc, error) = TemplateRequest.FromYaml("""
            name: tools
            public: false
            env:
              MODE: "on"
              COUNT: 3
            dockerfile: |
              FROM bash
              RUN echo ${HOME}
            """);
        Assert.Null(error);
        using (doc)
        {
            var (request, problem) = TemplateRequest.Parse(doc!.RootElement, new SandboxOptions());
            // env cannot be given with a dockerfile: the YAML was read into the same fields as JSON.
            Assert.Null(request);
            Assert.Contains("env cannot be given with a dockerfile", problem!.Message);
        }
        var (_, broken) = TemplateRequest.FromYaml("name: t\nenv:\n  A: 1\n B: x\n");
        Assert.Matches(@"^spec: line 4: ", broken!.Message);
        var (_, scanner) = TemplateRequest.FromYaml("name: t\nenv:\n  A: [unclosed\n  B: x\n");
        Assert.StartsWith("spec: ", scanner!.Message);
        // No expansion of the gateway's environment in a tenant's text.
        var (plain, _) = TemplateRequest.FromYaml("name: t\nrun: echo os.environ/HOME $HOME");
        using (plain) Assert.Equal("echo os.environ/HOME $HOME", plain!.RootElement.GetProperty("run").GetString());
    }

    [Fact]
    public void The_digest_changes_with_the_spec_and_the_files_but_not_with_the_start_command()
    {
        var a = Dockerfile("FROM python\nRUN echo a");
        var b = Dockerfile("FROM python\nRUN echo b");
        Assert.Equal(a.Digest("ctx1"), Dockerfile("FROM python\nRUN echo a").Digest("ctx1"));
        Assert.NotEqual(a.Digest("ctx1"), b.Digest("ctx1"));
        Assert.NotEqual(a.Digest("ctx1"), a.Digest("ctx2"));
        Assert.NotEqual(a.Digest("ctx1"), (a with { Packages = ["x"] }).Digest("ctx1"));
        Assert.Equal(a.Digest("ctx1"), (a with { StartCommand = "sleep 1" }).Digest("ctx1"));
        Assert.Matches("^[0-9a-f]{64}$", a.Digest(""));
    }

    [Fact]
    public async Task Uploads_take_files_and_directories_only_and_no_path_leaves_them()
    {
        var staging = Directory.CreateTempSubdirectory("agw-tpl-").FullName;
        try
        {
            using (var upload = new TemplateContext(staging, 1 << 20))
            {
                Assert.Null(await upload.AddTarAsync(Tar(w =>
                {
                    w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "src/"));
                    w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "src/a.py") { DataStream = new MemoryStream("print(1)"u8.ToArray()) });
                    w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./run.sh") { DataStream = new MemoryStream("x"u8.ToArray()), Mode = (UnixFileMode)0b111_101_101 });
                }), CancellationToken.None));
                Assert.Null(await upload.AddAsync("data/b.txt", new MemoryStream("b"u8.ToArray()), UnixFileMode.None, CancellationToken.None));
                Assert.Equal(3, upload.Count);
                Assert.Equal(["a.py"], upload.Select("src")!.Select(f => f.Relative));
                Assert.Equal(3, upload.Select("")!.Count);
                Assert.Null(upload.Select("missing"));
                Assert.True((upload.Select("run.sh")![0].Mode & UnixFileMode.UserExecute) != 0);
                var digest = upload.Digest();
                Assert.Null(await upload.AddAsync("c", new MemoryStream("c"u8.ToArray()), UnixFileMode.None, CancellationToken.None));
                Assert.NotEqual(digest, upload.Digest());
            }
            foreach (var (build, expected) in new (Action<TarWriter>, string)[]
            {
                (w => w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = "/etc/passwd" }), "is a SymbolicLink"),
                (w => w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "hard") { LinkName = "x" }), "is a HardLink"),
                (w => w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../escape") { DataStream = new MemoryStream([1]) }), "is not a relative path"),
                (w => w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "/abs") { DataStream = new MemoryStream([1]) }), "is not a relative path"),
                (w => w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "big") { DataStream = new MemoryStream(new byte[2048]) }), "larger than 1024 bytes"),
            })
            {
                using var upload = new TemplateContext(staging, 1024);
                Assert.Contains(expected, await upload.AddTarAsync(Tar(build), CancellationToken.None));
            }
            using (var upload = new TemplateContext(staging, 1024))
                Assert.Contains("not a readable tar archive", await upload.AddTarAsync(new MemoryStream(Encoding.ASCII.GetBytes(new string('z', 1024))), CancellationToken.None));
            // Gzipped archives are read too.
            using (var upload = new TemplateContext(staging, 1 << 20))
            {
                var gz = new MemoryStream();
                using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionMode.Compress, leaveOpen: true))
                    Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "z.txt") { DataStream = new MemoryStream("z"u8.ToArray()) })).CopyTo(z);
                gz.Position = 0;
                Assert.Null(await upload.AddTarAsync(gz, CancellationToken.None));
                Assert.NotNull(upload.Select("z.txt"));
            }
            Assert.Empty(Directory.EnumerateFileSystemEntries(staging));
        }
        finally { Directory.Delete(staging, true); }
    }

    [Fact]
    public void A_build_log_is_bounded_and_still_records_why_the_build_failed()
    {
        var build = new TemplateBuild("bld-1", "tpl-1", "d", DateTimeOffset.UtcNow);
        for (var i = 0; i < 1000; i++) build.Log(new string('x', 10_000));
        Assert.InRange(build.Lines().Sum(l => l.Message.Length), 1, 1 << 20);
        Assert.All(build.Lines(), l => Assert.True(l.Message.Length <= 4099));
        build.Failed("line 3: RUN exited with code 1.", 3, DateTimeOffset.UtcNow);
        Assert.Equal("line 3: RUN exited with code 1.", build.Lines()[^1].Message);
        Assert.Equal("error", build.Status);
        Assert.Equal(3, build.FailedLine);
        Assert.Single(build.Lines(build.Lines().Count - 1));
    }

    private static MemoryStream Tar(Action<TarWriter> write)
    {
        var stream = new MemoryStream();
        using (var w = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true)) write(w);
        stream.Position = 0;
        return stream;
    }
}
