using Tandem.Node.Errors;
using Tandem.Node.Validation;

namespace Tandem.Node.Tests.Validation;

public class NameValidationTests
{
    [Theory]
    [InlineData("demo")]
    [InlineData("Web_01")]
    [InlineData("a")]
    [InlineData("vm.disk-2")]
    [InlineData("0abc")]
    public void Accepts_valid_device_names(string name) => Assert.True(Names.IsValidDeviceName(name));

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("../etc")]
    [InlineData(".hidden")]
    [InlineData("-dash")]
    [InlineData("with space")]
    [InlineData("tab\t")]
    [InlineData("ünïcode")]
    [InlineData("a\\b")]
    public void Refuses_invalid_device_names(string name)
    {
        Assert.False(Names.IsValidDeviceName(name));
        var e = Assert.Throws<TandemException>(() => Names.ValidateDeviceName(name));
        Assert.Equal(ErrorCodes.InvalidName, e.Code);
    }

    [Fact]
    public void Device_names_are_limited_to_63_characters()
    {
        Assert.True(Names.IsValidDeviceName(new string('a', 63)));
        Assert.False(Names.IsValidDeviceName(new string('a', 64)));
    }

    [Theory]
    [InlineData("iqn.2026-11.org.tandem")]
    [InlineData("iqn.2026-11.org.tandem:node1-demo")]
    [InlineData("iqn.1991-05.com.microsoft:host.example.com")]
    [InlineData("iqn.2004-10.com.ubuntu:01:cafe1234")]
    [InlineData("iqn.2026-01.a")]
    public void Accepts_valid_iqns(string name) => Assert.True(IscsiNames.IsValidIqn(name));

    [Theory]
    [InlineData("iqn.2026-13.org.tandem")]
    [InlineData("iqn.2026-00.org.tandem")]
    [InlineData("iqn.26-11.org.tandem")]
    [InlineData("iqn.2026-11")]
    [InlineData("iqn.2026-11.")]
    [InlineData("iqn.2026-11.Org.Tandem")]
    [InlineData("iqn.2026-11.org.tandem:UPPER")]
    [InlineData("iqn.2026-11.org_tandem")]
    [InlineData("iqn.2026-11.org.tandem:with space")]
    [InlineData("eui.0123456789ABCDEF")]
    [InlineData("target1")]
    [InlineData("")]
    public void Refuses_invalid_iqns(string name)
    {
        Assert.False(IscsiNames.IsValidIqn(name));
        Assert.Equal(ErrorCodes.InvalidName, Assert.Throws<TandemException>(() => IscsiNames.ValidateTargetName(name)).Code);
    }

    [Fact]
    public void Iqns_are_limited_to_223_bytes()
    {
        var prefix = "iqn.2026-11.org.tandem:";
        Assert.True(IscsiNames.IsValidIqn(prefix + new string('a', 223 - prefix.Length)));
        Assert.False(IscsiNames.IsValidIqn(prefix + new string('a', 224 - prefix.Length)));
        Assert.Contains("223", Assert.Throws<TandemException>(() => IscsiNames.ValidateTargetName(prefix + new string('a', 300))).Message);
    }

    [Fact]
    public void Uppercase_iqn_error_explains_normalisation() =>
        Assert.Contains("lowercase", Assert.Throws<TandemException>(() => IscsiNames.ValidateTargetName("iqn.2026-11.org.tandem:Disk")).Message);

    [Theory]
    [InlineData("iqn.1993-08.org.debian:01:abcdef")]
    [InlineData("eui.0123456789ABCDEF")]
    [InlineData("eui.0123456789abcdef")]
    [InlineData("naa.52004567BA64678D")]
    [InlineData("naa.62004567BA64678D0123456789ABCDEF")]
    public void Accepts_initiator_names_of_every_format(string name) => Assert.True(IscsiNames.IsValidInitiatorName(name));

    [Theory]
    [InlineData("eui.0123")]
    [InlineData("eui.0123456789ABCDEG")]
    [InlineData("naa.0123456789ABCDEF01")]
    [InlineData("iqn.bad")]
    [InlineData("host1")]
    public void Refuses_bad_initiator_names(string name) =>
        Assert.Equal(ErrorCodes.InvalidName, Assert.Throws<TandemException>(() => IscsiNames.ValidateInitiatorName(name)).Code);

    [Theory]
    [InlineData("iqn.2026-11.org.tandem:x")]
    [InlineData("iqn.2026-11")]
    public void Iqn_prefix_must_be_an_iqn_without_suffix(string prefix) =>
        Assert.Throws<TandemException>(() => IscsiNames.ValidateIqnPrefix(prefix));

    [Theory]
    [InlineData("My-Host.example.com", "my-host.example.com")]
    [InlineData("HOST_01", "host-01")]
    [InlineData("--", "tandem")]
    [InlineData("", "tandem")]
    [InlineData("a b", "a-b")]
    public void Host_names_are_sanitised_into_node_names(string host, string expected)
    {
        var name = Names.SanitizeNodeName(host);
        Assert.Equal(expected, name);
        Assert.True(Names.IsValidIqnLabel(name));
    }

    [Fact]
    public void Default_alias_makes_device_names_iqn_safe() => Assert.Equal("web-01", Names.AliasFromDeviceName("Web_01"));
}
