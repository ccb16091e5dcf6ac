namespace Tandem.Scsi.LogicalUnits;

/// <summary>
/// What an initiator uses to recognise a logical unit. Identical on every node of an HA device
/// (otherwise hosts see several disks instead of several paths to one).
/// </summary>
/// <param name="Naa">NAA-6 identifier (IEEE registered extended), 16 bytes, reported in VPD 0x83.</param>
/// <param name="Serial">Unit serial number (VPD 0x80), printable ASCII.</param>
/// <param name="Vendor">T10 vendor identification, up to 8 ASCII characters (default TANDEM).</param>
/// <param name="Product">Product identification, up to 16 ASCII characters (default VSAN).</param>
/// <param name="Revision">Product revision level, up to 4 ASCII characters.</param>
public sealed record LogicalUnitIdentity(
    byte[] Naa,
    string Serial,
    string Vendor = "TANDEM",
    string Product = "VSAN",
    string Revision = "0001");
