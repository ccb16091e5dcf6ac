using System.Net;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>An established TCP connection as <c>ss</c> shows it inside a lab host.</summary>
public sealed record TcpConnection(IPEndPoint Local, IPEndPoint Remote)
{
    public override string ToString() => $"{Local} -> {Remote}";
}
