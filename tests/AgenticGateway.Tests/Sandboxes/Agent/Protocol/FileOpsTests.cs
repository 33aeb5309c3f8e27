using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.Sandboxes.Agent.Protocol;

/// <summary>The file ops: <c>fs.mkdir</c>, <c>fs.write</c>, <c>fs.read</c>, <c>fs.list</c>, <c>fs.stat</c>, <c>fs.move</c>, <c>fs.remove</c>, and the writable roots they keep to.</summary>
[Collection(AgentProtocolCollection.Name)]
[Trait("Category", "sandbox")]
public class FileOpsTests
{
    private const string Home = AgentUnderTest.Home;
    private const string Tmp = AgentUnderTest.Tmp;

    private static async Task<JsonElement> Stat(AgentUnderTest a, string path) => (await a.CallAsync("fs.stat", new { path })).GetProperty("entry");

    /// <summary>Entries of fs.list without the hidden temporary files of unfinished uploads.</summary>
    private static async Task<List<JsonElement>> List(AgentUnderTest a, object args) =>
        [.. (await a.CallAsync("fs.list", args)).GetProperty("entries").EnumerateArray().Where(e => !e.Str("name")!.StartsWith(".agw", StringComparison.Ordinal))];

    [Fact]
    public async Task Mkdir_creates_parents_accepts_an_existing_directory_and_refuses_a_file()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.mkdir", new { path = "a/b/c" });
        await a.CallAsync("fs.mkdir", new { path = "a/b/c" });       // fine if it exists
        Assert.Equal("dir", (await Stat(a, Home + "/a/b/c")).Str("type"));
        await a.UploadAsync(Tmp + "/file.txt", "x"u8.ToArray());
        await a.CallAsync("fs.mkdir", new { path = Tmp + "/file.txt" }, expect: "exists");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Write_uploads_in_chunks_and_the_file_appears_with_the_final_chunk()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var data = new byte[300_000];
        Random.Shared.NextBytes(data);
        await a.UploadAsync("a/b/c/blob.bin", data, chunk: 100_000, token: "up1");        // parents are created
        Assert.Equal(data, await a.ReadFileAsync("a/b/c/blob.bin"));
        await a.UploadAsync("a/over.txt", "old"u8.ToArray(), token: "up3");
        await a.UploadAsync("a/over.txt", "new content"u8.ToArray(), token: "up4");
        Assert.Equal("new content", Encoding.UTF8.GetString(await a.ReadFileAsync("a/over.txt")));       // overwritten
        // A chunk at the wrong offset, an upload that does not start at 0, data that is not base64.
        await a.CallAsync("fs.write", new { path = "a/x.txt", data_b64 = Convert.ToBase64String("abc"u8), offset = 0, final = false, upload = "u5" });
        await a.CallAsync("fs.write", new { path = "a/x.txt", data_b64 = "", offset = 10, final = true, upload = "u5" }, expect: "invalid");
        await a.CallAsync("fs.write", new { path = "a/y.txt", data_b64 = "", offset = 3, final = true, upload = "u6" }, expect: "invalid");
        await a.CallAsync("fs.write", new { path = "a/y.txt", data_b64 = "!!notbase64", offset = 0, final = true, upload = "u7" }, expect: "invalid");
        await a.CallAsync("fs.stat", new { path = "a/x.txt" }, expect: "not_found");      // not there until the final chunk
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Read_returns_ranges_at_most_4_MiB_and_only_of_regular_files()
    {
        await using var a = await AgentUnderTest.StartAsync();
        var data = new byte[300_000];
        Random.Shared.NextBytes(data);
        await a.UploadAsync("a/blob.bin", data, chunk: 100_000);
        var r = await a.CallAsync("fs.read", new { path = "a/blob.bin" });
        Assert.Equal(data, Convert.FromBase64String(r.Str("data_b64")!));
        Assert.Equal((300_000, true), (r.Int("size"), r.Bool("eof")));
        r = await a.CallAsync("fs.read", new { path = "a/blob.bin", offset = 1000, length = 10 });
        Assert.Equal(data[1000..1010], Convert.FromBase64String(r.Str("data_b64")!));
        Assert.False(r.Bool("eof"));
        await a.UploadAsync("big.bin", Encoding.ASCII.GetBytes(new string('z', 5 << 20)), chunk: 2 << 20, token: "up2");
        r = await a.CallAsync("fs.read", new { path = "big.bin", length = 8 << 20 });
        Assert.Equal((4 << 20, false, 5 << 20), (Convert.FromBase64String(r.Str("data_b64")!).Length, r.Bool("eof"), r.Int("size")));
        await a.CallAsync("fs.read", new { path = "a" }, expect: "invalid");
        await a.CallAsync("fs.read", new { path = "a/missing" }, expect: "not_found");
        await a.CallAsync("fs.read", new { path = "x", offset = -1 }, expect: "invalid");
        await a.CallAsync("fs.read", new { path = "" }, expect: "invalid");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task List_is_sorted_by_path_to_the_depth_asked_and_refuses_a_file()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.mkdir", new { path = "a/b/c" });
        await a.UploadAsync("a/b/c/blob.bin", new byte[1000]);
        await a.UploadAsync("a/over.txt", "new content"u8.ToArray());
        await a.CallAsync("fs.write", new { path = "a/x.txt", data_b64 = Convert.ToBase64String("abc"u8), offset = 0, final = false, upload = "u5" });
        Assert.Equal(new[] { "b", "over.txt" }, (await List(a, new { path = "a" })).Select(e => e.Str("name")));
        var paths = (await List(a, new { path = "a", depth = 3 })).Select(e => e.Str("path"));
        Assert.Equal(new[] { Home + "/a/b", Home + "/a/b/c", Home + "/a/b/c/blob.bin", Home + "/a/over.txt" }, paths);
        await a.CallAsync("fs.list", new { path = "a/over.txt" }, expect: "invalid");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Stat_describes_a_file_and_a_symlink_itself()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.UploadAsync("a/b/c/blob.bin", new byte[300_000], chunk: 100_000);
        var st = await Stat(a, Home + "/a/b/c/blob.bin");
        Assert.Equal(("file", 300_000, "blob.bin", Home + "/a/b/c/blob.bin"), (st.Str("type"), st.Int("size"), st.Str("name"), st.Str("path")));
        Assert.Equal(4, st.Str("mode")!.Length);
        Assert.Equal(JsonValueKind.Number, st.GetProperty("mtime").ValueKind);
        Assert.Contains('.', st.GetProperty("mtime").GetRawText());         // seconds with a fraction
        await a.RunProcessAsync($"ln -s {Home}/inside.txt ok-link; echo hi > inside.txt", new { cwd = Home });
        st = await Stat(a, "ok-link");
        Assert.Equal(("symlink", Home + "/inside.txt"), (st.Str("type"), st.Str("symlink_target")));
        await a.CallAsync("fs.stat", new { path = 5 }, expect: "invalid");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Move_renames_within_a_root_and_copies_across_roots()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.CallAsync("fs.mkdir", new { path = "a/b" });
        await a.UploadAsync("a/over.txt", "new content"u8.ToArray());
        await a.CallAsync("fs.move", new { from = "a/over.txt", to = "a/b/moved.txt" });
        await a.CallAsync("fs.stat", new { path = "a/over.txt" }, expect: "not_found");
        Assert.Equal(11, (await Stat(a, "a/b/moved.txt")).Int("size"));
        await a.CallAsync("fs.move", new { from = "a/b/moved.txt", to = Tmp + "/moved.txt" });        // across roots
        Assert.Equal(11, (await Stat(a, Tmp + "/moved.txt")).Int("size"));
        await a.CallAsync("fs.stat", new { path = "a/b/moved.txt" }, expect: "not_found");
        await a.CallAsync("fs.move", new { from = "a/nothing", to = "a/other" }, expect: "not_found");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Remove_deletes_trees_and_files_and_a_symlink_not_its_target()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.UploadAsync("a/b/c/blob.bin", new byte[1000]);
        await a.UploadAsync(Tmp + "/moved.txt", "x"u8.ToArray());
        await a.CallAsync("fs.remove", new { path = "a" });
        await a.CallAsync("fs.stat", new { path = "a" }, expect: "not_found");
        await a.CallAsync("fs.remove", new { path = "a" }, expect: "not_found");
        await a.CallAsync("fs.remove", new { path = Tmp + "/moved.txt" });
        await a.CallAsync("fs.stat", new { path = Tmp + "/moved.txt" }, expect: "not_found");
        await a.RunProcessAsync($"ln -s {Home}/inside.txt ok-link; echo hi > inside.txt", new { cwd = Home });
        await a.CallAsync("fs.remove", new { path = "ok-link" });
        Assert.Equal("file", (await Stat(a, "inside.txt")).Str("type"));        // removing a link keeps its target
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Names_that_are_not_utf8_are_listed_with_replacement_characters_and_can_be_moved_and_removed()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.RunProcessAsync("mkdir -p d/sub && touch d/$'\\xff'name d/sub/$'\\xfe\\xfd'", new { cwd = Home });
        var names = (await List(a, new { path = "d", depth = 2 })).Select(e => e.Str("path"));
        // Sorted by the names' bytes (as escapes, past ASCII), shown with '?' for each byte that is not UTF-8.
        Assert.Equal(new[] { Home + "/d/sub", Home + "/d/sub/??", Home + "/d/?name" }, names);
        await a.CallAsync("fs.move", new { from = "d", to = Tmp + "/d" });         // across roots: a copy, then a removal
        Assert.Equal("3\n", (await a.RunProcessAsync($"find {Tmp}/d -type f -o -type d -name sub | wc -l")).Stdout);
        await a.CallAsync("fs.remove", new { path = Tmp + "/d" });
        await a.CallAsync("fs.stat", new { path = Tmp + "/d" }, expect: "not_found");
        await a.ShutdownAsync();
    }

    [Fact]
    public async Task Paths_outside_the_writable_roots_are_denied_through_dotdot_and_symlinks()
    {
        await using var a = await AgentUnderTest.StartAsync();
        await a.RunProcessAsync($"ln -s /usr escape; ln -s /usr/bin/env escape-file; ln -s {Home}/inside.txt ok-link; echo hi > inside.txt", new { cwd = Home });
        (string Op, object Args)[] denied =
        [
            ("fs.read", new { path = "escape/bin/env" }), ("fs.read", new { path = "escape-file" }),
            ("fs.list", new { path = "escape" }), ("fs.stat", new { path = "escape" }),
            ("fs.stat", new { path = "escape/bin" }), ("fs.mkdir", new { path = "escape/newdir" }),
            ("fs.remove", new { path = "escape/bin/env" }),
            ("fs.write", new { path = "escape/evil", data_b64 = "", offset = 0, final = true, upload = "e" }),
            ("fs.read", new { path = "../../../etc/passwd" }), ("fs.read", new { path = Home + "/../../usr/bin/env" }),
            ("fs.list", new { path = "/" }), ("fs.list", new { path = ".." }), ("fs.stat", new { path = "/usr" }),
            ("fs.write", new { path = "../evil", data_b64 = "", offset = 0, final = true, upload = "e2" }),
            ("fs.move", new { from = "inside.txt", to = "escape/moved" }),
            ("fs.move", new { from = "inside.txt", to = "../moved" }),
            ("fs.move", new { from = "escape-file", to = "x" }),
            ("fs.remove", new { path = Home }), ("fs.remove", new { path = "." }), ("fs.remove", new { path = Tmp }),
        ];
        foreach (var (op, args) in denied) await a.CallAsync(op, args, expect: "denied");
        Assert.Equal("hi\n", Encoding.UTF8.GetString(await a.ReadFileAsync("ok-link")));        // a symlink inside the roots is followed
        var escape = (await a.CallAsync("fs.list", new { path = "." })).GetProperty("entries").EnumerateArray().Single(e => e.Str("name") == "escape");
        Assert.Equal(("symlink", "/usr"), (escape.Str("type"), escape.Str("symlink_target")));       // escaping links are listed, not followed
        await a.ShutdownAsync();
    }
}
