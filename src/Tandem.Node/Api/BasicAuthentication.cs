using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tandem.Node.Config;
using Tandem.Node.Errors;

namespace Tandem.Node.Api;

/// <summary>
/// HTTP Basic authentication (RFC 7617) as user <c>admin</c> for every endpoint except health.
/// Credentials are compared as SHA-256 digests with a fixed-time comparison, so neither content
/// nor length leaks through timing.
/// </summary>
/// <remarks>
/// Partner nodes may also authenticate as user <c>cluster</c> with the cluster secret: that is how
/// a node removes its copy on a partner without the administrator's password.
/// </remarks>
internal sealed class BasicAuthentication(string password, Func<string?> clusterSecret, ILogger log)
{
    public const string Realm = "Tandem";

    private static readonly PathString[] Anonymous = ["/api/v1/health"];

    private static readonly byte[] ClusterUserDigest = SHA256.HashData(Encoding.UTF8.GetBytes(HighAvailability.PartnerClient.ClusterUser));
    private readonly byte[] _userDigest = SHA256.HashData(Encoding.UTF8.GetBytes(AdminSecret.UserName));
    private readonly byte[] _passwordDigest = SHA256.HashData(Encoding.UTF8.GetBytes(password));

    public async Task HandleAsync(HttpContext context, RequestDelegate next)
    {
        if (Anonymous.Any(p => context.Request.Path.Equals(p, StringComparison.OrdinalIgnoreCase)) || IsAuthorized(context.Request))
        {
            await next(context);
            return;
        }

        log.LogWarning("Unauthenticated {Method} {Path} from {Remote}", context.Request.Method, context.Request.Path,
            context.Connection.RemoteIpAddress);
        context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
        await ApiErrors.WriteAsync(context, ErrorCodes.Unauthorized,
            "Authentication required: HTTP Basic as user 'admin' with the password from the node's admin.secret file.");
    }

    private bool IsAuthorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Basic ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[scheme.Length..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':');
        if (colon < 0)
            return false;
        var user = SHA256.HashData(Encoding.UTF8.GetBytes(decoded[..colon]));
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(decoded[(colon + 1)..]));
        var userOk = CryptographicOperations.FixedTimeEquals(user, _userDigest);
        var passwordOk = CryptographicOperations.FixedTimeEquals(given, _passwordDigest);
        if (userOk & passwordOk)
            return true;
        return clusterSecret() is { } secret
            & CryptographicOperations.FixedTimeEquals(user, ClusterUserDigest)
            & CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(clusterSecret() ?? "")));
    }
}
