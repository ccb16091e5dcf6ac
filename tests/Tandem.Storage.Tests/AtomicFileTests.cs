using System.Text;

namespace Tandem.Storage.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Writes_new_file_and_replaces_existing_leaving_no_temp_files()
    {
        string path = _dir.File("config.json");
        AtomicFile.WriteAllText(path, "first");
        Assert.Equal("first", File.ReadAllText(path));

        AtomicFile.WriteAllText(path, "second, longer than the first");
        Assert.Equal("second, longer than the first", File.ReadAllText(path));

        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));

        AtomicFile.WriteAllBytes(path, []);
        Assert.Empty(File.ReadAllBytes(path));

        Assert.Equal(["config.json"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Text_is_utf8_without_bom()
    {
        string path = _dir.File("t.txt");
        AtomicFile.WriteAllText(path, "é");
        Assert.Equal(Encoding.UTF8.GetBytes("é"), File.ReadAllBytes(path));
    }

    [Fact]
    public void Mode_is_applied_exactly()
    {
        string secret = _dir.File("secret");
        AtomicFile.WriteAllText(secret, "chap-secret", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));

        // Wider than a typical umask allows: still exact.
        var groupWritable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        AtomicFile.WriteAllText(secret, "again", groupWritable);
        Assert.Equal(groupWritable, File.GetUnixFileMode(secret));
    }

    [Fact]
    public void Without_mode_the_existing_permissions_are_kept()
    {
        string path = _dir.File("keep");
        AtomicFile.WriteAllText(path, "a", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        AtomicFile.WriteAllText(path, "b");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal("b", File.ReadAllText(path));
    }

    [Fact]
    public void Failure_leaves_the_old_file_and_no_temp_file()
    {
        string path = _dir.File("dir-in-the-way");
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllText(path, "x"));
        Assert.True(Directory.Exists(path));
        Assert.Equal(["dir-in-the-way"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));

        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(_dir.File("missing/x"), "x"));
        Assert.Throws<ArgumentException>(() => AtomicFile.WriteAllText("", "x"));
    }

    [Fact]
    public async Task Concurrent_writers_leave_one_complete_version()
    {
        string path = _dir.File("race");
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            for (int j = 0; j < 20; j++)
                AtomicFile.WriteAllText(path, new string((char)('a' + i), 10_000));
        })));
        string text = File.ReadAllText(path);
        Assert.Equal(10_000, text.Length);
        Assert.All(text, c => Assert.Equal(text[0], c));
        Assert.Equal(["race"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }
}
