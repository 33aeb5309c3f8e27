using System.Reflection;

namespace AgenticGateway.Tests.Support;

/// <summary>
/// Every test class says what it needs with exactly one Category trait (tests/README.md), so that
/// <c>scripts/test.sh --fast</c> can run the unit and functional tiers alone and no new test class escapes the split.
/// </summary>
[Trait("Category", "unit")]
public class TestCategoryTests
{
    /// <summary>The tiers, from what needs least to what needs most.</summary>
    internal static readonly string[] Categories = ["unit", "functional", "integration", "sandbox", "vm", "browser", "deploy"];

    [Fact]
    public void Every_test_class_has_exactly_one_known_category()
    {
        // xUnit runs public classes only; abstract suites run through the classes that inherit them.
        var classes = typeof(TestCategoryTests).Assembly.GetTypes().Where(t => t.IsVisible && t is { IsClass: true, IsAbstract: false } && TestMethods(t).Any()).ToList();
        Assert.True(classes.Count > 50, $"found only {classes.Count} test classes");
        var problems = Problems(classes);
        Assert.True(problems.Count == 0, "Give each test class one [Trait(\"Category\", X)] with X in "
            + string.Join(" | ", Categories) + " (tests/README.md says which):\n" + string.Join("\n", problems));
    }

    [Fact]
    public void A_class_without_a_category_or_with_a_second_one_is_reported()
    {
        Assert.Equal(
            [
                $"{typeof(Uncategorized).FullName}: no Category trait",
                $"{typeof(UnknownCategory).FullName}: Category slow is not one of the tiers",
                $"{typeof(TwoCategories).FullName}: two Category traits (unit, functional)",
                $"{typeof(MethodCategory).FullName}.{nameof(MethodCategory.Test)}: a Category trait on a method; a class has one tier, so move the test to a class of its own",
            ],
            Problems([typeof(Uncategorized), typeof(UnknownCategory), typeof(TwoCategories), typeof(MethodCategory), typeof(Categorized)]));
    }

    internal static List<string> Problems(IEnumerable<Type> classes)
    {
        var problems = new List<string>();
        foreach (var type in classes)
        {
            var categories = CategoriesOf(type.GetCustomAttributesData()).ToList();
            if (categories.Count == 0) problems.Add($"{type.FullName}: no Category trait");
            else if (categories.Count > 1) problems.Add($"{type.FullName}: two Category traits ({string.Join(", ", categories)})");
            else if (!Categories.Contains(categories[0])) problems.Add($"{type.FullName}: Category {categories[0]} is not one of the tiers");
            // xUnit merges a method's traits with its class's: a method-level category would put the test in two tiers.
            foreach (var method in TestMethods(type))
                if (CategoriesOf(method.GetCustomAttributesData()).Any())
                    problems.Add($"{type.FullName}.{method.Name}: a Category trait on a method; a class has one tier, so move the test to a class of its own");
        }
        return problems;
    }

    private static IEnumerable<MethodInfo> TestMethods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)
            .Where(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any());

    // TraitAttribute keeps its arguments to itself: they are read from the attribute's metadata.
    private static IEnumerable<string> CategoriesOf(IEnumerable<CustomAttributeData> attributes) =>
        attributes.Where(a => a.AttributeType == typeof(TraitAttribute) && a.ConstructorArguments is [{ Value: "Category" }, _])
            .Select(a => (string)a.ConstructorArguments[1].Value!);

    // Samples for the check above, private so that xUnit never runs them (its analyzer would have them public).
#pragma warning disable xUnit1000
    private sealed class Uncategorized
    {
        [Fact]
        public void Test() { }
    }

    [Trait("Category", "slow")]
    private sealed class UnknownCategory
    {
        [Fact]
        public void Test() { }
    }

    [Trait("Category", "unit")]
    [Trait("Category", "functional")]
    private sealed class TwoCategories
    {
        [Fact]
        public void Test() { }
    }

    [Trait("Category", "unit")]
    private sealed class MethodCategory
    {
        [Fact]
        [Trait("Category", "integration")]
        public void Test() { }
    }

    [Trait("Category", "unit")]
    [Trait("Area", "anything")]
    private sealed class Categorized
    {
        [Theory]
        [InlineData(1)]
        public void Test(int value) => Assert.Equal(1, value);
    }
#pragma warning restore xUnit1000
}
