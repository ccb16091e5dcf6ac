using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Config;

public sealed class AdminSecretTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Generates_a_private_random_password_once_and_keeps_it()
    {
        var path = _dir.Combine("admin.secret");
        var (first, generated) = AdminSecret.LoadOrCreate(path, null);
        Assert.True(generated);
        Assert.True(first.Length >= 24);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var (second, generatedAgain) = AdminSecret.LoadOrCreate(path, null);
        Assert.False(generatedAgain);
        Assert.Equal(first, second);
        Assert.NotEqual(first, AdminSecret.LoadOrCreate(_dir.Combine("other.secret"), null).Password);
    }

    [Fact]
    public void A_given_password_is_used_and_stored()
    {
        var path = _dir.Combine("admin.secret");
        Assert.Equal("chosen-password", AdminSecret.LoadOrCreate(path, "chosen-password").Password);
        Assert.Equal("chosen-password", AdminSecret.LoadOrCreate(path, null).Password);
    }

    [Fact]
    public void An_empty_secret_file_is_an_error_naming_it()
    {
        var path = _dir.Combine("admin.secret");
        File.WriteAllText(path, "  \n");
        var e = Assert.Throws<TandemException>(() => AdminSecret.LoadOrCreate(path, null));
        Assert.Contains(path, e.Message);
        Assert.Equal("  \n", File.ReadAllText(path));
    }

    public void Dispose() => _dir.Dispose();
}
