// The storage layer uses Linux system calls (fallocate, SEEK_DATA, statx); so do its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
