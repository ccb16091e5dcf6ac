namespace Tandem.Node.Devices;

/// <summary>Node-wide settings that shape device identities and target names.</summary>
public sealed record NodeIdentitySettings(string NodeName, string IqnPrefix, string Vendor, string Product);
