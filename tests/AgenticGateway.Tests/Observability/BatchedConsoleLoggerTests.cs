using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using AgenticGateway.Observability;
using Microsoft.Extensions.Logging.Console;

namespace AgenticGateway.Tests.Observability;

/// <summary>
/// The console logger the gateway runs with: ASP.NET's own formatters, every line kept and in order, written in batches
/// (fewer writes than lines under load) by one thread.
/// </summary>
[Trait("Category", "unit")]
public class BatchedConsoleLoggerTests
{
    [Fact]
    public void Lines_from_many_threads_are_all_written_in_each_threads_order_and_in_fewer_writes_than_lines()
    {
        var output = new CountingStream();
        const int threads = 4, perThread = 5000;
        using (var factory = Factory("simple", output))
        {
            var logger = factory.CreateLogger("AgenticGateway.Test");
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                for (var i = 0; i < perThread; i++) logger.LogInformation("thread={Thread} line={Line}", t, i);
            });
        }   // disposing the factory disposes the provider: what is queued is written

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(threads * perThread, lines.Length);
        var next = new int[threads];
        foreach (var line in lines)
        {
            Assert.StartsWith("info: AgenticGateway.Test[0] thread=", line);
            var t = int.Parse(line.Split("thread=")[1].Split(' ')[0]);
            Assert.Equal($"line={next[t]}", line.Split(' ')[^1]);
            next[t]++;
        }
        Assert.True(output.Writes < lines.Length / 4, $"{output.Writes} writes for {lines.Length} lines: not batched");
    }

    [Fact]
    public void The_json_format_is_aspnets_own_with_the_messages_properties()
    {
        var output = new CountingStream();
        using (var factory = Factory("json", output))
            factory.CreateLogger("AgenticGateway.Pipeline.RequestContextStep").LogInformation(new EventId(1, "Access"), "{Method} {Path} {Status}", "POST", "/v1/chat/completions", 200);

        using var doc = JsonDocument.Parse(output.Text.Trim());
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("EventId").GetInt32());
        Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
        Assert.Equal("AgenticGateway.Pipeline.RequestContextStep", root.GetProperty("Category").GetString());
        Assert.Equal("POST /v1/chat/completions 200", root.GetProperty("Message").GetString());
        Assert.Equal("/v1/chat/completions", root.GetProperty("State").GetProperty("Path").GetString());
    }

    [Fact]
    public void A_single_line_logged_alone_is_written_without_waiting_for_more_lines()
    {
        var output = new CountingStream();
        using var factory = Factory("simple", output);
        factory.CreateLogger("AgenticGateway.Test").LogWarning("alone");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!output.Text.Contains("alone", StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Contains("warn: AgenticGateway.Test[0] alone", output.Text);
    }

    [Fact]
    public void A_line_longer_than_a_batch_is_written_whole()
    {
        var output = new CountingStream();
        var big = new string('x', 200_000);
        using (var factory = Factory("simple", output))
        {
            var logger = factory.CreateLogger("AgenticGateway.Test");
            logger.LogInformation("before");
            logger.LogInformation("{Big}", big);
            logger.LogInformation("after");
        }
        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.EndsWith(big, lines[1]);
        Assert.EndsWith("after", lines[2]);
    }

    [Fact]
    public void Characters_outside_the_basic_plane_survive_a_line_long_enough_to_span_several_chunks()
    {
        var output = new CountingStream();
        var text = string.Concat(Enumerable.Repeat("a😀", 20_000));
        using (var factory = Factory("simple", output)) factory.CreateLogger("AgenticGateway.Test").LogInformation("{Text}", text);
        Assert.DoesNotContain('\uFFFD', output.Text);
        Assert.EndsWith(text, output.Text.TrimEnd('\n'));
    }

    [Fact]
    public void A_stderr_threshold_it_would_ignore_is_refused_and_an_unknown_formatter_falls_back_to_simple()
    {
        Assert.Throws<InvalidOperationException>(() => new BatchedConsoleLoggerProvider(
            new Options(new ConsoleLoggerOptions { LogToStandardErrorThreshold = LogLevel.Warning }), Formatters(), new CountingStream()));
        var output = new CountingStream();
        using (var provider = new BatchedConsoleLoggerProvider(new Options(new ConsoleLoggerOptions { FormatterName = "nope" }), Formatters(), output))
            provider.CreateLogger("AgenticGateway.Test").LogWarning("fallback");
        Assert.Contains("warn: AgenticGateway.Test[0]", output.Text);
    }

    private static IEnumerable<ConsoleFormatter> Formatters()
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddSimpleConsole(o => o.SingleLine = true));
        return services.BuildServiceProvider().GetServices<ConsoleFormatter>().ToList();
    }

    private sealed class Options(ConsoleLoggerOptions value) : Microsoft.Extensions.Options.IOptionsMonitor<ConsoleLoggerOptions>
    {
        public ConsoleLoggerOptions CurrentValue => value;
        public ConsoleLoggerOptions Get(string? name) => value;
        public IDisposable? OnChange(Action<ConsoleLoggerOptions, string?> listener) => null;
    }

    private static ILoggerFactory Factory(string format, Stream output)
    {
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            if (format == "json") b.AddJsonConsole();
            else b.AddSimpleConsole(o => o.SingleLine = true);
            BatchedConsoleLoggerProvider.ReplaceConsoleLogger(b);
            // The provider under test writes to the test's stream instead of stdout.
            b.Services.RemoveAll<ILoggerProvider>();
            b.Services.AddSingleton<ILoggerProvider>(sp => new BatchedConsoleLoggerProvider(
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<ConsoleLoggerOptions>>(), sp.GetServices<ConsoleFormatter>(), output));
        });
        var provider = services.BuildServiceProvider();
        return new DisposingFactory(provider);
    }

    private sealed class DisposingFactory(ServiceProvider services) : ILoggerFactory
    {
        private readonly ILoggerFactory _inner = services.GetRequiredService<ILoggerFactory>();
        public void AddProvider(ILoggerProvider provider) => _inner.AddProvider(provider);
        public ILogger CreateLogger(string categoryName) => _inner.CreateLogger(categoryName);
        public void Dispose() => services.Dispose();
    }

    /// <summary>A stream that keeps what is written and counts the writes.</summary>
    private sealed class CountingStream : Stream
    {
        private readonly MemoryStream _bytes = new();
        private int _writes;
        public int Writes => Volatile.Read(ref _writes);
        public string Text { get { lock (_bytes) return Encoding.UTF8.GetString(_bytes.ToArray()); } }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (_bytes) _bytes.Write(buffer);
            Interlocked.Increment(ref _writes);
        }
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
