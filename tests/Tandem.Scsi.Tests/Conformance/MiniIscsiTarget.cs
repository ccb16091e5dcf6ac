using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Tests.Conformance;

/// <summary>
/// Test-only iSCSI target, just enough of RFC 7143 for libiscsi's iscsi-test-cu to drive the
/// SCSI layer: login without digests or CHAP, one connection per session, one command at a time
/// per connection, InitialR2T=Yes with immediate data, task management mapped to the SCSI
/// target's reset hooks. The product's transport is Tandem.Iscsi; this exists so the SCSI layer
/// can be checked against real initiators on its own.
/// </summary>
public sealed class MiniIscsiTarget : IAsyncDisposable
{
    private const int BhsLength = 48;
    private const int MaxRecvDataSegmentLength = 262144;
    private const int MaxBurstLength = 262144;
    private const int CmdSnWindow = 64;

    private readonly TcpListener _listener;
    private readonly IScsiTarget _target;
    private readonly string _targetName;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private Task? _acceptLoop;

    public MiniIscsiTarget(IScsiTarget target, string targetName)
    {
        _target = target;
        _targetName = targetName;
        _listener = new TcpListener(IPAddress.Loopback, 0);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url(ulong lun = 0) => $"iscsi://127.0.0.1:{Port}/{_targetName}/{lun}";

    public void Start()
    {
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            socket.NoDelay = true;
            lock (_connections)
                _connections.Add(Task.Run(() => new Connection(this, socket).RunAsync(_stop.Token)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        if (_acceptLoop is not null)
            await _acceptLoop;
        Task[] all;
        lock (_connections)
            all = [.. _connections];
        await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
    }

    private sealed class Connection(MiniIscsiTarget owner, Socket socket)
    {
        private readonly NetworkStream _stream = new(socket, ownsSocket: true);
        private uint _statSn;
        private uint _expCmdSn;
        private int _initiatorMaxRecv = 8192;
        private ITNexus? _nexus;
        private bool _discovery;
        private string _initiatorName = "";
        private ulong _isid;

        public async Task RunAsync(CancellationToken stop)
        {
            var bhs = new byte[BhsLength];
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await _stream.ReadExactlyAsync(bhs, stop);
                    int ahsLength = bhs[4] * 4;
                    int dataLength = (int)(BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(4)) & 0xFFFFFF);
                    if (ahsLength > 0)
                        await _stream.ReadExactlyAsync(new byte[ahsLength], stop);
                    var data = new byte[dataLength];
                    await _stream.ReadExactlyAsync(data, stop);
                    int pad = (4 - dataLength % 4) % 4;
                    if (pad > 0)
                        await _stream.ReadExactlyAsync(new byte[pad], stop);
                    if (!await HandleAsync(bhs, data, stop))
                        break;
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                if (_nexus is not null)
                    owner._target.NexusLost(_nexus);
                _stream.Dispose();
            }
        }

        private async Task<bool> HandleAsync(byte[] bhs, byte[] data, CancellationToken stop)
        {
            int opcode = bhs[0] & 0x3F;
            bool immediate = (bhs[0] & 0x40) != 0;
            uint cmdSn = BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(24));
            if (opcode is 0x01 or 0x02 or 0x04 or 0x06 or 0x00 && !immediate && opcode != 0x03)
            {
                if (opcode != 0x00 || BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(16)) != 0xFFFFFFFF)
                    _expCmdSn = cmdSn + 1;
            }
            switch (opcode)
            {
                case 0x03: return await LoginAsync(bhs, data, stop);
                case 0x00: await NopAsync(bhs, data, stop); return true;
                case 0x01: await ScsiCommandAsync(bhs, data, stop); return true;
                case 0x02: return await TaskManagementAsync(bhs, stop);
                case 0x04: await TextAsync(bhs, data, stop); return true;
                case 0x06: await LogoutAsync(bhs, stop); return false;
                default: return false;
            }
        }

        private static Dictionary<string, string> ParseKeys(byte[] data)
        {
            var keys = new Dictionary<string, string>();
            foreach (var pair in Encoding.UTF8.GetString(data).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                if (eq > 0)
                    keys[pair[..eq]] = pair[(eq + 1)..];
            }
            return keys;
        }

        private async Task<bool> LoginAsync(byte[] bhs, byte[] data, CancellationToken stop)
        {
            var keys = ParseKeys(data);
            int csg = (bhs[1] >> 2) & 3;
            int nsg = bhs[1] & 3;
            bool transit = (bhs[1] & 0x80) != 0;
            _expCmdSn = BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(24));
            _statSn = BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(28));
            if (keys.TryGetValue("InitiatorName", out var name))
                _initiatorName = name;
            if (keys.TryGetValue("SessionType", out var type))
                _discovery = type == "Discovery";
            ulong isid = 0;
            for (int i = 8; i < 14; i++)
                isid = isid << 8 | bhs[i];
            _isid = isid;

            var reply = new StringBuilder();
            foreach (var (key, value) in keys)
            {
                string? answer = key switch
                {
                    "AuthMethod" => "None",
                    "HeaderDigest" or "DataDigest" => "None",
                    "MaxConnections" => "1",
                    "InitialR2T" => "Yes",
                    "ImmediateData" => "Yes",
                    "MaxRecvDataSegmentLength" => MaxRecvDataSegmentLength.ToString(),
                    "MaxBurstLength" => Math.Min(int.Parse(value), MaxBurstLength).ToString(),
                    "FirstBurstLength" => Math.Min(int.Parse(value), 65536).ToString(),
                    "DefaultTime2Wait" => "2",
                    "DefaultTime2Retain" => "0",
                    "MaxOutstandingR2T" => "1",
                    "DataPDUInOrder" or "DataSequenceInOrder" => "Yes",
                    "ErrorRecoveryLevel" => "0",
                    "InitiatorName" or "SessionType" or "TargetName" or "InitiatorAlias" => null,
                    _ => "NotUnderstood",
                };
                if (key == "MaxRecvDataSegmentLength")
                    _initiatorMaxRecv = int.Parse(value);
                if (answer is not null)
                    reply.Append(key).Append('=').Append(answer).Append('\0');
            }
            if (csg == 0)
                reply.Append("TargetPortalGroupTag=1\0");

            var response = new byte[BhsLength];
            response[0] = 0x23;
            response[1] = (byte)((transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
            Array.Copy(bhs, 8, response, 8, 6); // ISID
            bool done = transit && nsg == 3;
            if (done)
                BinaryPrimitives.WriteUInt16BigEndian(response.AsSpan(14), 1);
            Array.Copy(bhs, 16, response, 16, 4); // ITT
            await SendAsync(response, Encoding.UTF8.GetBytes(reply.ToString()), advanceStatSn: true, stop);
            if (done && !_discovery)
            {
                _nexus = new ITNexus(_initiatorName, _isid, owner._targetName, 1, 1, 1);
                owner._target.NexusCreated(_nexus);
            }
            return true;
        }

        private async Task NopAsync(byte[] bhs, byte[] data, CancellationToken stop)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(16)) == 0xFFFFFFFF)
                return;
            var response = new byte[BhsLength];
            response[0] = 0x20;
            response[1] = 0x80;
            Array.Copy(bhs, 8, response, 8, 12); // LUN, ITT
            BinaryPrimitives.WriteUInt32BigEndian(response.AsSpan(20), 0xFFFFFFFF);
            await SendAsync(response, data, advanceStatSn: true, stop);
        }

        private static ulong DecodeLun(ReadOnlySpan<byte> lun) => (lun[0] & 0xC0) switch
        {
            0x00 => lun[1],
            0x40 => (ulong)((lun[0] & 0x3F) << 8 | lun[1]),
            _ => ulong.MaxValue,
        };

        private async Task ScsiCommandAsync(byte[] bhs, byte[] immediateData, CancellationToken stop)
        {
            bool write = (bhs[1] & 0x20) != 0;
            int edtl = (int)BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(20));
            var command = new ScsiCommand
            {
                Nexus = _nexus!,
                Lun = DecodeLun(bhs.AsSpan(8)),
                InitiatorTaskTag = BinaryPrimitives.ReadUInt32BigEndian(bhs.AsSpan(16)),
                Attribute = (TaskAttribute)(bhs[1] & 0x07),
                ExpectedTransferLength = edtl,
                IsRead = (bhs[1] & 0x40) != 0,
                IsWrite = write,
            };
            command.SetCdb(bhs.AsSpan(32, 16));

            if (write)
            {
                var dataOut = new byte[edtl];
                int received = Math.Min(immediateData.Length, edtl);
                immediateData.AsSpan(0, received).CopyTo(dataOut);
                uint r2tSn = 0;
                while (received < edtl)
                {
                    int want = Math.Min(edtl - received, MaxBurstLength);
                    var r2t = new byte[BhsLength];
                    r2t[0] = 0x31;
                    r2t[1] = 0x80;
                    Array.Copy(bhs, 8, r2t, 8, 12);
                    BinaryPrimitives.WriteUInt32BigEndian(r2t.AsSpan(20), 0x1000 + r2tSn);
                    BinaryPrimitives.WriteUInt32BigEndian(r2t.AsSpan(36), r2tSn++);
                    BinaryPrimitives.WriteUInt32BigEndian(r2t.AsSpan(40), (uint)received);
                    BinaryPrimitives.WriteUInt32BigEndian(r2t.AsSpan(44), (uint)want);
                    await SendAsync(r2t, ReadOnlyMemory<byte>.Empty, advanceStatSn: false, stop);
                    int got = 0;
                    while (got < want)
                    {
                        var dbhs = new byte[BhsLength];
                        await _stream.ReadExactlyAsync(dbhs, stop);
                        int len = (int)(BinaryPrimitives.ReadUInt32BigEndian(dbhs.AsSpan(4)) & 0xFFFFFF);
                        var chunk = new byte[len + (4 - len % 4) % 4];
                        await _stream.ReadExactlyAsync(chunk, stop);
                        if ((dbhs[0] & 0x3F) != 0x05)
                            throw new IOException("expected Data-Out");
                        int offset = (int)BinaryPrimitives.ReadUInt32BigEndian(dbhs.AsSpan(40));
                        chunk.AsSpan(0, Math.Min(len, edtl - offset)).CopyTo(dataOut.AsSpan(offset));
                        got += len;
                        if ((dbhs[1] & 0x80) != 0)
                            break;
                    }
                    received += got;
                }
                command.DataOut = dataOut.AsMemory(0, Math.Min(received, edtl));
            }
            var dataIn = command.IsRead ? new byte[edtl] : [];
            command.DataIn = dataIn;

            await owner._target.ExecuteAsync(command, stop);

            int tl = command.TransferLength;
            byte residualFlags = 0;
            uint residual = 0;
            if (tl > edtl) { residualFlags = 0x04; residual = (uint)(tl - edtl); }
            else if (tl < edtl) { residualFlags = 0x02; residual = (uint)(edtl - tl); }

            int sendBytes = command.IsRead ? Math.Min(tl, edtl) : 0;
            if (command.Status == ScsiStatus.Good && sendBytes > 0)
            {
                uint dataSn = 0;
                for (int offset = 0; offset < sendBytes; offset += _initiatorMaxRecv)
                {
                    int n = Math.Min(_initiatorMaxRecv, sendBytes - offset);
                    bool last = offset + n >= sendBytes;
                    var din = new byte[BhsLength];
                    din[0] = 0x25;
                    din[1] = (byte)(last ? 0x80 | 0x01 | residualFlags : 0);
                    din[3] = (byte)command.Status;
                    Array.Copy(bhs, 8, din, 8, 12);
                    BinaryPrimitives.WriteUInt32BigEndian(din.AsSpan(20), 0xFFFFFFFF);
                    BinaryPrimitives.WriteUInt32BigEndian(din.AsSpan(36), dataSn++);
                    BinaryPrimitives.WriteUInt32BigEndian(din.AsSpan(40), (uint)offset);
                    if (last)
                        BinaryPrimitives.WriteUInt32BigEndian(din.AsSpan(44), residual);
                    await SendAsync(din, dataIn.AsMemory(offset, n), advanceStatSn: last, stop);
                }
                return;
            }

            var response = new byte[BhsLength];
            response[0] = 0x21;
            response[1] = (byte)(0x80 | residualFlags);
            response[3] = (byte)command.Status;
            Array.Copy(bhs, 16, response, 16, 4);
            BinaryPrimitives.WriteUInt32BigEndian(response.AsSpan(44), residual);
            byte[] senseSegment = [];
            if (command.SenseLength > 0)
            {
                senseSegment = new byte[2 + command.SenseLength];
                BinaryPrimitives.WriteUInt16BigEndian(senseSegment, (ushort)command.SenseLength);
                command.Sense.CopyTo(senseSegment.AsSpan(2));
            }
            await SendAsync(response, senseSegment, advanceStatSn: true, stop);
        }

        private async Task<bool> TaskManagementAsync(byte[] bhs, CancellationToken stop)
        {
            int function = bhs[1] & 0x7F;
            ulong lun = DecodeLun(bhs.AsSpan(8));
            byte result = 0; // function complete
            switch (function)
            {
                case 1: // ABORT TASK: commands run one at a time, so the task is already done
                    result = 0;
                    break;
                case 2: // ABORT TASK SET
                case 4: // CLEAR TASK SET
                    break;
                case 5: // LOGICAL UNIT RESET
                    owner._target.LogicalUnitReset(lun, _nexus!);
                    break;
                case 6: // TARGET WARM RESET
                case 7: // TARGET COLD RESET
                    owner._target.TargetReset(_nexus!);
                    break;
                default:
                    result = 5;
                    break;
            }
            var response = new byte[BhsLength];
            response[0] = 0x22;
            response[1] = 0x80;
            response[2] = result;
            Array.Copy(bhs, 16, response, 16, 4);
            await SendAsync(response, ReadOnlyMemory<byte>.Empty, advanceStatSn: true, stop);
            return function != 7;
        }

        private async Task TextAsync(byte[] bhs, byte[] data, CancellationToken stop)
        {
            var keys = ParseKeys(data);
            string reply = keys.ContainsKey("SendTargets")
                ? $"TargetName={owner._targetName}\0TargetAddress=127.0.0.1:{owner.Port},1\0"
                : "";
            var response = new byte[BhsLength];
            response[0] = 0x24;
            response[1] = 0x80;
            Array.Copy(bhs, 16, response, 16, 4);
            BinaryPrimitives.WriteUInt32BigEndian(response.AsSpan(20), 0xFFFFFFFF);
            await SendAsync(response, Encoding.UTF8.GetBytes(reply), advanceStatSn: true, stop);
        }

        private async Task LogoutAsync(byte[] bhs, CancellationToken stop)
        {
            var response = new byte[BhsLength];
            response[0] = 0x26;
            response[1] = 0x80;
            Array.Copy(bhs, 16, response, 16, 4);
            await SendAsync(response, ReadOnlyMemory<byte>.Empty, advanceStatSn: true, stop);
        }

        private async Task SendAsync(byte[] bhs, ReadOnlyMemory<byte> data, bool advanceStatSn, CancellationToken stop)
        {
            bhs[5] = (byte)(data.Length >> 16);
            bhs[6] = (byte)(data.Length >> 8);
            bhs[7] = (byte)data.Length;
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), advanceStatSn ? _statSn++ : _statSn);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), _expCmdSn);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(32), _expCmdSn + CmdSnWindow);
            await _stream.WriteAsync(bhs, stop);
            if (data.Length > 0)
            {
                await _stream.WriteAsync(data, stop);
                int pad = (4 - data.Length % 4) % 4;
                if (pad > 0)
                    await _stream.WriteAsync(new byte[pad], stop);
            }
        }
    }
}
