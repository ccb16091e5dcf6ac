namespace Tandem.Node.Config;

/// <summary>
/// Layout of the node's data directory:
/// <code>
/// node.json                   node configuration (devices, targets, ACL, CHAP); 0600, holds CHAP secrets
/// admin.secret                management API password of user "admin"; 0600
/// devices/                    default location of image devices (name.img + name.tandem.json)
/// reservations/&lt;device&gt;.json  persistent-reservation state (APTPL) per device
/// witness/&lt;naa&gt;.json        witness devices this node holds for HA devices elsewhere (their votes)
/// </code>
/// </summary>
public sealed class DataDirectory
{
    public const string DefaultPath = "tandem-data";

    public DataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }
    public string NodeConfigPath => Path.Combine(Root, "node.json");
    public string AdminSecretPath => Path.Combine(Root, "admin.secret");
    public string DevicesDirectory => Path.Combine(Root, "devices");
    public string ReservationsDirectory => Path.Combine(Root, "reservations");
    public string WitnessDirectory => Path.Combine(Root, "witness");

    public string ReservationStatePath(string deviceName) => Path.Combine(ReservationsDirectory, deviceName + ".json");

    /// <summary>Creates the directory tree; the root is private to the service user (it holds secrets).</summary>
    public void EnsureCreated()
    {
        CreatePrivate(Root);
        CreatePrivate(DevicesDirectory);
        CreatePrivate(ReservationsDirectory);
    }

    private static void CreatePrivate(string path)
    {
        if (Directory.Exists(path)) return;
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(path);
        else
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
