using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

namespace AgenticGateway.Tests.Configuration;

[Trait("Category", "unit")]
public class DurationsTests
{
    [Theory]
    [InlineData("30", 30_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("250ms", 250)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    public void Parses_numbers_and_suffixes(string text, double ms)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(ms, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5s")]
    [InlineData("")]
    public void Rejects_nonsense(string text) => Assert.False(Durations.TryParse(text, out _));
}
