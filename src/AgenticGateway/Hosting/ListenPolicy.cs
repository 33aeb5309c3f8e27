using System.Net;
using AgenticGateway.Configuration;

namespace AgenticGateway.Hosting;

/// <summary>
/// Where the gateway may listen. Without authentication (no master key and no JWT auth) anyone who reaches the API can
/// call the models and run code in sandboxes, so such a gateway listens on loopback only unless the operator asks for
/// more with <c>--insecure</c>. With authentication the default is every interface, as before.
/// </summary>
internal static class ListenPolicy
{
    public const string LoopbackDefault = "http://localhost:8080";
    public const string NetworkDefault = "http://0.0.0.0:8080";

    /// <summary>Whether requests must authenticate: a master key or JWT auth is configured.</summary>
    public static bool AuthRequired(GatewayOptions options) => options.MasterKey.IsSet || options.Jwt is not null;

    /// <summary>The URLs to listen on, or why the gateway must not start.</summary>
    /// <param name="requested">--urls, --port, AGW_URLS or server.urls/port; null when none was given.</param>
    /// <param name="fromPortOption">The address came from --port (and --host): the refusal answers in those options.</param>
    public static (string? Urls, string? Error) Resolve(string? requested, GatewayOptions options, bool insecure, bool fromPortOption = false)
    {
        var auth = AuthRequired(options);
        var urls = requested ?? (auth ? NetworkDefault : LoopbackDefault);
        return (urls, Check(urls, auth, insecure, fromPortOption: fromPortOption));
    }

    /// <summary>Null when <paramref name="urls"/> may be used; otherwise the message that says what to do.</summary>
    /// <param name="reload">The check is of a configuration reload on a running gateway (which keeps its addresses).</param>
    /// <param name="fromPortOption">The address came from --port: a LiteLLM user (whose --host defaults to 0.0.0.0 too)
    /// is told the --host that keeps it on loopback, not only the --urls form.</param>
    public static string? Check(string urls, bool authRequired, bool insecure, bool reload = false, bool fromPortOption = false)
    {
        if (authRequired || insecure) return null;
        var wide = NonLoopback(urls);
        if (wide.Count == 0) return null;
        if (reload)
            return $"The new configuration has no master key or JWT auth, but this gateway listens on {string.Join(", ", wide)}: " +
                   "anyone who can reach it could call the models and run code in sandboxes. Keep master_key (or JWT auth) in the file, " +
                   "or restart the gateway on loopback.";
        var port = Port(wide[0]);
        var loopback = fromPortOption ? $"--host 127.0.0.1 --port {port}, or --urls http://127.0.0.1:{port}" : $"--urls http://127.0.0.1:{port}";
        return $"Refusing to listen on {string.Join(", ", wide)} without authentication: anyone who can reach the gateway could call " +
               "the models and run code in sandboxes. Set a master key (master_key, or general_settings.master_key in a LiteLLM " +
               $"config) or JWT auth, or listen on loopback only ({loopback}), or pass --insecure (AGW_INSECURE=1) " +
               "to accept an open gateway on the network.";
    }

    private static int Port(string url)
    {
        try { return BindingAddress.Parse(url).Port is > 0 and var p ? p : 8080; }
        catch (FormatException) { return 8080; }
    }

    /// <summary>Every listed URL that is not loopback: wildcards (*, +, 0.0.0.0, ::), other IPs and host names.</summary>
    public static IReadOnlyList<string> NonLoopback(string urls) =>
        ListenAddresses.Split(urls).Where(u => !IsLoopback(u)).ToList();

    public static bool IsLoopbackOnly(string urls) => NonLoopback(urls).Count == 0;

    private static bool IsLoopback(string url)
    {
        BindingAddress address;
        try { address = BindingAddress.Parse(url); }
        catch (FormatException) { return false; }
        // A Unix socket is reachable through the file system only.
        if (address.IsUnixPipe) return true;
        var host = address.Host;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        // Kestrel binds any other host name to every interface, so only loopback IP literals count.
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }
}
