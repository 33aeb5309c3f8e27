namespace AgenticGateway.Pricing;

/// <summary>Money is kept as integer nano-dollars wherever it is stored or counted, and shown as decimal dollars.</summary>
internal static class Money
{
    private const decimal NanosPerDollar = 1_000_000_000m;

    private const decimal MaxDollars = long.MaxValue / NanosPerDollar;

    /// <summary>Saturates at the ends of the range: a budget of 1e15 dollars means "no limit in practice", not an overflow.</summary>
    public static long ToNanos(decimal dollars) =>
        dollars >= MaxDollars ? long.MaxValue : dollars <= -MaxDollars ? long.MinValue : (long)Math.Round(dollars * NanosPerDollar, MidpointRounding.AwayFromZero);

    public static decimal FromNanos(long nanos) => nanos / NanosPerDollar;
}
