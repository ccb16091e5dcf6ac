using Tandem.Node.Devices;
using Tandem.Node.Errors;

namespace Tandem.Node.Tests.Devices;

public class DeviceIdentityTests
{
    [Fact]
    public void New_identities_are_naa6_with_our_company_id_and_random_bits()
    {
        var a = DeviceIdentity.CreateNew();
        var b = DeviceIdentity.CreateNew();
        Assert.Equal(16, a.Naa.Length);
        Assert.Equal(6, a.Naa[0] >> 4);
        var companyId = (uint)(((a.Naa[0] & 0xF) << 20) | (a.Naa[1] << 12) | (a.Naa[2] << 4) | (a.Naa[3] >> 4));
        Assert.Equal(DeviceIdentity.CompanyId, companyId);
        Assert.NotEqual(a.NaaHex, b.NaaHex);
        Assert.NotEqual(a.Serial, b.Serial);
        Assert.Matches("^[0-9A-F]{16}$", a.Serial);
        Assert.Equal(a.NaaHex[^16..].ToUpperInvariant(), a.Serial);
    }

    [Fact]
    public void Stored_identities_parse_back()
    {
        var a = DeviceIdentity.CreateNew();
        var parsed = DeviceIdentity.Parse(a.NaaHex, a.Serial, "test");
        Assert.Equal(a.Naa, parsed.Naa);
        Assert.Equal(a.Serial, parsed.Serial);
    }

    [Theory]
    [InlineData("zz", "S")]
    [InlineData("5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "S")]
    [InlineData("6aaaaaaaaaaaaaaa", "S")]
    [InlineData("6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "")]
    [InlineData("6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bad\u0001")]
    public void Bad_stored_identities_are_config_errors(string naa, string serial) =>
        Assert.Equal(ErrorCodes.ConfigError, Assert.Throws<TandemException>(() => DeviceIdentity.Parse(naa, serial, "src")).Code);
}
