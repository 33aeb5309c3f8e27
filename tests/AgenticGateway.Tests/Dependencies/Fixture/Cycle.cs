// Two folders that use each other both ways, and one used by both: what ArchitectureTests' check must find (and not).
namespace AgenticGateway.Tests.Dependencies.Fixture.Ping
{
    internal static class PingSide
    {
        public static int Call() => Pong.PongSide.Answer + Leaf.Shared.Value;
    }
}

namespace AgenticGateway.Tests.Dependencies.Fixture.Pong
{
    internal static class PongSide
    {
        // A property, not a constant: a constant's value is copied into the user and leaves no reference.
        public static int Answer => 1;
        // A lambda: the closure class is compiler-generated, its use counts as PongSide's.
        public static Func<int> Later() => () => Ping.PingSide.Call() + Leaf.Shared.Value;
    }
}

namespace AgenticGateway.Tests.Dependencies.Fixture.Leaf
{
    internal static class Shared
    {
        public static readonly int Value = 2;
    }
}
