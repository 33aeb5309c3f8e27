using System.Net;

namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// Traefik's TCP middlewares: <c>ipAllowList</c> (sourceRange; the deprecated <c>ipWhiteList</c> too) closes a
/// connection from any other address, <c>inFlightConn</c> (amount) closes one beyond the per-client-IP limit.
/// Both read the client's address after a trusted PROXY protocol header, as Traefik does.
/// </summary>
internal static partial class TcpMiddlewares
{
    public static TcpMiddleware? Build(MiddlewareConfig config, List<string> errors, ILogger logger)
    {
        var options = new EdgeOptions(config.Options, errors);
        var before = errors.Count;
        TcpMiddleware? built = config.Type switch
        {
            "ipAllowList" or "ipWhiteList" => IpAllowList(options, config.Name, logger),
            "inFlightConn" => InFlightConn(options, config.Name, logger),
            _ => null,
        };
        if (built is null && errors.Count == before)
            errors.Add($"{config.Options.Path}: unknown TCP middleware type {config.Type} (ipAllowList, inFlightConn)");
        options.ReportUnknown();
        return errors.Count == before ? built : null;
    }

    private static TcpMiddleware? IpAllowList(EdgeOptions options, string name, ILogger logger)
    {
        var ranges = new List<IPNetwork>();
        var texts = options.Strings("sourceRange");
        if (texts.IsEmpty)
            options.Error(EdgeNode.ChildPath(options.Path, "sourceRange"), "is required (IPs or CIDR ranges)");
        for (var i = 0; i < texts.Length; i++)
        {
            if (ParseRange(texts[i]) is { } range)
                ranges.Add(range);
            else
                options.Error($"{EdgeNode.ChildPath(options.Path, "sourceRange")}[{i}]", $"'{texts[i]}' is not an IP address or CIDR range");
        }
        return next => session =>
        {
            var address = session.Remote?.Address;
            if (address is not null && address.IsIPv4MappedToIPv6)
                address = address.MapToIPv4();
            foreach (var range in ranges)
            {
                if (address is not null && range.Contains(address))
                    return next(session);
            }
            LogRefused(logger, name, session.Remote?.Address.ToString() ?? "unknown");
            return Task.CompletedTask;
        };
    }

    private static TcpMiddleware? InFlightConn(EdgeOptions options, string name, ILogger logger)
    {
        var amount = options.Long("amount", 0);
        if (amount is null)
        {
            options.Error(EdgeNode.ChildPath(options.Path, "amount"), "is required");
            return null;
        }
        // Shared by every connection the router takes in this snapshot, counted per client IP as Traefik does.
        var counts = new Dictionary<IPAddress, long>();
        var sync = new Lock();
        return next => async session =>
        {
            var address = session.Remote?.Address ?? IPAddress.None;
            lock (sync)
            {
                counts.TryGetValue(address, out var count);
                if (count >= amount)
                {
                    LogTooMany(logger, name, address.ToString());
                    return;
                }
                counts[address] = count + 1;
            }
            try
            {
                await next(session);
            }
            finally
            {
                lock (sync)
                {
                    if (counts.TryGetValue(address, out var count) && count <= 1)
                        counts.Remove(address);
                    else
                        counts[address] = count - 1;
                }
            }
        };
    }

    /// <summary>An IP (a range of one) or a CIDR range.</summary>
    public static IPNetwork? ParseRange(string text)
    {
        if (IPNetwork.TryParse(text, out var network))
            return network;
        return IPAddress.TryParse(text, out var address) ? new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128) : null;
    }

    [LoggerMessage(1931, LogLevel.Debug, "TCP middleware {Middleware}: connection from {Client} refused (not in sourceRange)")]
    private static partial void LogRefused(ILogger logger, string middleware, string client);

    [LoggerMessage(1932, LogLevel.Debug, "TCP middleware {Middleware}: connection from {Client} refused (too many connections)")]
    private static partial void LogTooMany(ILogger logger, string middleware, string client);
}
