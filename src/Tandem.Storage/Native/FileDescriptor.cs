using System.Runtime.InteropServices;

namespace Tandem.Storage.Native;

/// <summary>
/// Borrows the descriptor of a file or socket handle for one system call: AddRef keeps a
/// concurrent Dispose from closing (and the kernel from reusing) the fd while it is in use.
/// </summary>
internal ref struct FileDescriptor
{
    private readonly SafeHandle _handle;
    private bool _added;

    public FileDescriptor(SafeHandle handle)
    {
        _handle = handle;
        _added = false;
        handle.DangerousAddRef(ref _added); // throws ObjectDisposedException once closed
        Value = (int)handle.DangerousGetHandle();
    }

    public int Value { get; }

    public void Dispose()
    {
        if (_added)
        {
            _added = false;
            _handle.DangerousRelease();
        }
    }
}
