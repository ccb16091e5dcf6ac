#!/usr/bin/env bash
# Builds Tandem and starts a two-node HA demo on loopback: node A on 127.0.0.1 and node B on
# 127.0.0.2 (data in ./tandem-data/a and ./tandem-data/b), one 1 GiB device mirrored between
# them. Prints both portals and the multipath hints. Ctrl-C stops both nodes cleanly.
# Run it again and it picks up where it left off (the device and its replica are kept).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Tandem.Cli -c Release -nologo -clp:ErrorsOnly

TANDEM_DLL=src/Tandem.Cli/bin/Release/net10.0/tandem.dll
tandem() { dotnet "$TANDEM_DLL" "$@"; }
data=${TANDEM_DEMO_DIR:-$PWD/tandem-data}
password=${TANDEM_DEMO_PASSWORD:-tandem-demo}
mkdir -p "$data/a" "$data/b"

pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

start_node() { # name address
    dotnet "$TANDEM_DLL" serve --data-dir "$data/$1" --node-name "node-$1" --admin-password "$password" \
        --portal "$2:3260" --api "$2:3261" --replication "$2:3262" >"$data/$1/node.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        tandem status --server "$2:3261" --password "$password" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "node $1 did not start; see $data/$1/node.log" >&2
    tail -20 "$data/$1/node.log" >&2
    exit 1
}

start_node a 127.0.0.1
start_node b 127.0.0.2
a=(--server 127.0.0.1:3261 --password "$password")

if ! tandem device show demo "${a[@]}" >/dev/null 2>&1; then
    tandem device create --name demo --size 1G --provisioning thin "${a[@]}" >/dev/null
fi
if tandem replica list demo "${a[@]}" --json | grep -q '"not-replicated"'; then
    tandem replica add demo --partner 127.0.0.2:3261 --partner-password "$password" --init synchronize "${a[@]}" >/dev/null
fi
echo "Synchronizing the partner copy..."
for _ in $(seq 1 600); do
    tandem replica list demo "${a[@]}" --json | grep -q '"synchronizing"\|"not-synchronized"' || break
    sleep 0.2
done

target=$(tandem device show demo "${a[@]}" --json | sed -n 's/.*"targetName": *"\([^"]*\)".*/\1/p' | head -1)
tandem replica list demo "${a[@]}"
cat <<TEXT

Two-node HA demo running (logs: $data/a/node.log, $data/b/node.log).
  Device demo, target $target, mirrored on both nodes.
  Portals: 127.0.0.1:3260 (node A, ALUA group 1) and 127.0.0.2:3260 (node B, ALUA group 2)
  Admin:   tandem replica list demo --server 127.0.0.1:3261 --password $password

Multipath (open-iscsi + dm-multipath):
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260
  iscsiadm -m discovery -t sendtargets -p 127.0.0.2:3260
  iscsiadm -m node -T $target --login
  multipath -ll    # one map, two paths, both active (ALUA)
libiscsi, both paths:
  iscsi-test-cu -t ALL.MultipathIO iscsi://127.0.0.1:3260/$target/0 iscsi://127.0.0.2:3260/$target/0

Ctrl-C stops both nodes.
TEXT
wait
