using Mono.Cecil;
using Mono.Cecil.Cil;

namespace AgenticGateway.Tests.Dependencies;

/// <summary>
/// Which types of one assembly use which, read from its compiled IL with Mono.Cecil: signatures, base types,
/// attributes, generic arguments and every type, method and field a method body touches. Compiler-generated types
/// (lambdas' closures, async state machines) count as the type that declares them, so a lambda's use is its method's.
/// </summary>
internal static class TypeDependencies
{
    /// <summary>For each top-level type of the assembly (by full name): the types of the same assembly it uses.</summary>
    public static Dictionary<string, HashSet<string>> Of(string assemblyPath)
    {
        // Attribute arguments of enum types are resolved: look beside the assembly and in the shared frameworks.
        using var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!);
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        resolver.AddSearchDirectory(runtime);
        var aspNet = Path.Combine(runtime, "..", "..", "Microsoft.AspNetCore.App");
        if (Directory.Exists(aspNet) && Directory.GetDirectories(aspNet).Order(StringComparer.Ordinal).LastOrDefault() is { } newest) resolver.AddSearchDirectory(newest);
        using var module = ModuleDefinition.ReadModule(assemblyPath, new ReaderParameters { AssemblyResolver = resolver });
        var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var type in module.GetTypes())
        {
            var owner = Outermost(type);
            // Types of no namespace (Program, the compiler's <PrivateImplementationDetails>) are in no folder.
            if (owner.Namespace.Length == 0) continue;
            if (!result.TryGetValue(owner.FullName, out var used)) result[owner.FullName] = used = new(StringComparer.Ordinal);
            void Use(TypeReference? t)
            {
                while (t is not null)
                {
                    switch (t)
                    {
                        case GenericInstanceType g:
                            foreach (var a in g.GenericArguments) Use(a);
                            t = g.ElementType;
                            continue;
                        case TypeSpecification s:
                            t = s.ElementType;
                            continue;
                        case GenericParameter:
                            return;
                    }
                    if (t.Scope == module || t.Module == module && t.Scope is ModuleDefinition)
                    {
                        var o = t; while (o.DeclaringType is not null) o = o.DeclaringType;
                        if (o.Namespace.Length > 0) used.Add(o.FullName);
                    }
                    return;
                }
            }
            void Attributes(ICustomAttributeProvider p)
            {
                foreach (var a in p.CustomAttributes)
                {
                    Use(a.AttributeType);
                    foreach (var arg in a.ConstructorArguments) if (arg.Value is TypeReference tr) Use(tr);
                }
            }
            void Method(MethodReference m)
            {
                Use(m.DeclaringType);
                Use(m.ReturnType);
                foreach (var p in m.Parameters) Use(p.ParameterType);
                if (m is GenericInstanceMethod gm) foreach (var a in gm.GenericArguments) Use(a);
            }
            Use(type.BaseType);
            foreach (var i in type.Interfaces) Use(i.InterfaceType);
            Attributes(type);
            foreach (var f in type.Fields) { Use(f.FieldType); Attributes(f); }
            foreach (var p in type.Properties) { Use(p.PropertyType); Attributes(p); }
            foreach (var e in type.Events) Use(e.EventType);
            foreach (var m in type.Methods)
            {
                Method(m);
                Attributes(m);
                foreach (var p in m.Parameters) Attributes(p);
                if (!m.HasBody) continue;
                foreach (var v in m.Body.Variables) Use(v.VariableType);
                foreach (var ins in m.Body.Instructions)
                {
                    switch (ins.Operand)
                    {
                        case TypeReference t: Use(t); break;
                        case MethodReference mr: Method(mr); break;
                        case FieldReference fr: Use(fr.DeclaringType); Use(fr.FieldType); break;
                    }
                }
            }
        }
        foreach (var (name, used) in result) used.Remove(name);
        return result;
    }

    private static TypeDefinition Outermost(TypeDefinition t)
    {
        while (t.DeclaringType is not null) t = t.DeclaringType;
        return t;
    }

    /// <summary>
    /// Pairs of sibling namespaces (two folders with the same parent) whose types use each other both ways, each with
    /// one use in each direction as evidence ("A.X uses B.Y"). Types directly in the parent belong to neither folder.
    /// </summary>
    public static List<string> MutualFolders(Dictionary<string, HashSet<string>> uses)
    {
        // edges[(parent, from, to)] = an example use
        var edges = new Dictionary<(string Parent, string From, string To), string>();
        foreach (var (type, used) in uses)
        {
            var ns = Namespace(type);
            foreach (var target in used)
            {
                var other = Namespace(target);
                if (ns == other) continue;
                var a = ns.Split('.'); var b = other.Split('.');
                var common = 0;
                while (common < a.Length && common < b.Length && a[common] == b[common]) common++;
                // Siblings: both go on below their common parent (a parent using its own subfolder is not a pair).
                if (common >= a.Length || common >= b.Length) continue;
                var key = (string.Join('.', a[..common]), a[common], b[common]);
                edges.TryAdd(key, $"{type} uses {target}");
            }
        }
        var pairs = new List<string>();
        foreach (var ((parent, from, to), example) in edges)
            if (string.CompareOrdinal(from, to) < 0 && edges.TryGetValue((parent, to, from), out var back))
                pairs.Add($"{parent}: {from} <-> {to} ({example}; {back})");
        pairs.Sort(StringComparer.Ordinal);
        return pairs;
    }

    private static string Namespace(string fullName)
    {
        var dot = fullName.LastIndexOf('.');
        return dot < 0 ? "" : fullName[..dot];
    }
}
