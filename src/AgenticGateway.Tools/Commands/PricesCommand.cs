using System.CommandLine;
using System.Text.Json;
using AgenticGateway.Pricing;

namespace AgenticGateway.Commands;

/// <summary>
/// <c>agw prices update [--url URL] [--out FILE]</c>: fetches LiteLLM's current model cost map and writes it where the
/// gateway reads an operator's copy (AGW_MODEL_COST_MAP), after checking that it parses and has not shrunk to a
/// fraction of the built-in copy (a truncated download or an error page must not unprice every model).
/// </summary>
internal static class PricesCommand
{
    public static Command Command()
    {
        var url = new Option<string>("--url") { Description = "where to fetch the map (default: LiteLLM's, " + ModelCostMap.LiteLlmUrl + ")", HelpName = "URL" };
        var output = new Option<string>("--out") { Description = "the file to write (default: AGW_MODEL_COST_MAP)", HelpName = "FILE" };
        var update = new Command("update", "Fetch LiteLLM's model price and context-window map for the gateway to use (set AGW_MODEL_COST_MAP to the file).") { url, output };
        update.SetAction((result, cancellationToken) => UpdateAsync(result.GetValue(url) ?? ModelCostMap.LiteLlmUrl,
            result.GetValue(output) ?? Environment.GetEnvironmentVariable(ModelCostMap.PathVariable), cancellationToken));
        return new Command("prices", "The model price table (LiteLLM's model cost map).") { update };
    }

    private static async Task<int> UpdateAsync(string url, string? output, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(output))
        {
            Console.Error.WriteLine($"Where to write? Give --out FILE, or set {ModelCostMap.PathVariable} (the gateway reads the map from there).");
            return 1;
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            Console.Error.WriteLine($"--url must be an http(s) URL, got '{url}'.");
            return 1;
        }
        byte[] bytes;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            using var response = await http.GetAsync(uri, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"Cannot fetch {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.");
                return 1;
            }
            bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"Cannot fetch {url}: {ex.Message}");
            return 1;
        }
        ModelCostMap map;
        try { map = ModelCostMap.Parse(bytes, url); }
        catch (JsonException ex)
        {
            Console.Error.WriteLine($"{url} is not a model cost map: {ex.Message}");
            return 1;
        }
        // LiteLLM refuses a fetched map that shrank below a share of its bundled one; so does this.
        var shipped = ModelCostMap.Shipped.Count;
        if (map.Count < shipped / 2)
        {
            Console.Error.WriteLine($"{url} has {map.Count} models, fewer than half of the built-in {shipped}: not written (a truncated or wrong file?).");
            return 1;
        }
        var full = Path.GetFullPath(output);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // Written beside and renamed over: a gateway starting meanwhile reads the old file or the new one, never half.
        var temporary = full + ".tmp";
        await File.WriteAllBytesAsync(temporary, bytes, cancellationToken);
        File.Move(temporary, full, overwrite: true);
        foreach (var w in map.Warnings) Console.WriteLine($"warning: {w}");
        Console.WriteLine($"Wrote {map.Count} models to {full}.");
        if (!string.Equals(Environment.GetEnvironmentVariable(ModelCostMap.PathVariable), output, StringComparison.Ordinal))
            Console.WriteLine($"Start the gateway with {ModelCostMap.PathVariable}={full} to use it.");
        return 0;
    }
}
