using System.Runtime.InteropServices;

namespace Tandem.Storage.Native;

/// <summary>struct iovec (sys/uio.h): one buffer of a vectored read or write.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public byte* Base;
    public nuint Length;
}
