using Microsoft.Extensions.Logging;

namespace Tandem.Node.Hosting;

/// <summary>The node's log output: one line per event on the console, text or JSON.</summary>
public static class ConsoleLogging
{
    public static ILoggerFactory Create(bool json = false, LogLevel minimumLevel = LogLevel.Information) =>
        LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(minimumLevel);
            // ASP.NET Core's per-request chatter is not useful in a storage node's log.
            builder.AddFilter("Microsoft", LogLevel.Warning);
            if (json)
            {
                builder.AddJsonConsole(o =>
                {
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.UseUtcTimestamp = true;
                });
            }
            else
            {
                builder.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.UseUtcTimestamp = true;
                });
            }
        });
}
