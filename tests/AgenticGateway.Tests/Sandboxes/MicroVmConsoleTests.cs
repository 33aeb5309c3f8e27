using System.IO.Pipelines;
using System.Text;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Tests.Sandboxes;

[Trait("Category", "unit")]
public class MicroVmConsoleTests
{
    [Fact]
    public async Task Keeps_only_the_tail_however_much_the_guest_writes_even_without_newlines()
    {
        var pipe = new Pipe();
        var console = new MicroVmConsole(pipe.Reader.AsStream());
        var writer = pipe.Writer.AsStream();
        // 8 MiB without a newline, then the lines a failed boot would print.
        var junk = new byte[64 * 1024];
        Array.Fill(junk, (byte)'x');
        for (var i = 0; i < 128; i++) await writer.WriteAsync(junk);
        await writer.WriteAsync(Encoding.UTF8.GetBytes("\r\nKernel panic - not syncing: VFS\r\nend of trace\r\n"));
        await writer.DisposeAsync();
        await console.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(8L * 1024 * 1024 + 49, console.Written);
        var tail = console.Tail(3);
        Assert.EndsWith("Kernel panic - not syncing: VFS\nend of trace\n", tail, StringComparison.Ordinal);
        Assert.True(tail.Length <= MicroVmConsole.Kept, $"tail of {tail.Length} characters");
    }

    [Fact]
    public async Task A_short_console_is_returned_whole()
    {
        var console = new MicroVmConsole(new MemoryStream(Encoding.UTF8.GetBytes("one\ntwo\nthree")));
        await console.Completion;
        Assert.Equal("two\nthree", console.Tail(2));
        Assert.Equal("one\ntwo\nthree", console.Tail());
    }
}
