namespace AgenticGateway.Spend;

/// <summary>Money is kept as integer nano-dollars wherever it is stored or counted, and shown as decimal dollars.</summary>
internal static class Money
{
    private const decimal NanosPerDollar = 1_000_000_000m;

    public static long ToNanos(decimal dollars) => (long)Math.Round(dollars * NanosPerDollar, MidpointRounding.AwayFromZero);

    public static decimal FromNanos(long nanos) => nanos / NanosPerDollar;
}
