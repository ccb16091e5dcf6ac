using System.Runtime.InteropServices;

namespace Tandem.Storage.Native;

/// <summary>struct iovec (sys/uio.h): one buffer of a vectored read or write.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public byte* Base;
    public nuint Length;

    /// <summary>
    /// After a short vectored write of <paramref name="bytes"/> from <c>vectors[next..count)</c>:
    /// steps past the buffers that went out whole and into the one it stopped in; returns the new
    /// first buffer (<paramref name="count"/> when all went out).
    /// </summary>
    public static int Advance(IoVec* vectors, int next, int count, nuint bytes)
    {
        while (next < count && bytes >= vectors[next].Length)
        {
            bytes -= vectors[next].Length;
            next++;
        }
        if (next < count)
        {
            vectors[next].Base += bytes;
            vectors[next].Length -= bytes;
        }
        return next;
    }
}
