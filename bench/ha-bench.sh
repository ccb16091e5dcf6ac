#!/usr/bin/env bash
# bench/ha-bench.sh [rounds]: what synchronous replication costs, measured side by side in one run
# on loopback. Two Tandem nodes (127.0.0.1 and 127.0.0.2) with images in bench/out/ha:
#   - 4 KiB QD32 write IOPS (qemu-img bench) on a two-way HA device against a non-replicated
#     device of the same node, alternating which goes first each round;
#   - idle full resync of a 2 GiB HA device against loopback TCP throughput (iperf3 between the
#     same two addresses).
# Medians and ratios go into the HA section of bench/RESULTS.md (between its markers).
# ONLY=writes or ONLY=resync measures just that and prints it (for a quick look while tuning;
# RESULTS.md is not touched).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
OUT=$PWD/bench/out/ha
PASSWORD=ha-bench

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils qemu-block-extra)
command -v iperf3 >/dev/null || need+=(iperf3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
dotnet build src/Tandem.Cli -c Release -nologo -clp:ErrorsOnly >/dev/null
TANDEM_DLL=src/Tandem.Cli/bin/Release/net10.0/tandem.dll
tandem() { dotnet "$TANDEM_DLL" "$@"; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pkill -f "iperf3 -s -B 127.0.0.2 -p 25201" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
rm -rf "$OUT" && mkdir -p "$OUT/a" "$OUT/b"

start_node() { # name address
  dotnet "$TANDEM_DLL" serve --data-dir "$OUT/$1" --node-name "bench-$1" --admin-password "$PASSWORD" \
    --portal "$2:25260" --api "$2:25261" --replication "$2:25262" >"$OUT/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do
    tandem status --server "$2:25261" --password "$PASSWORD" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "node $1 did not start" >&2; tail "$OUT/$1.log" >&2; exit 1
}
start_node a 127.0.0.1
start_node b 127.0.0.2
A=(--server 127.0.0.1:25261 --password "$PASSWORD")

json_field() { sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" | head -1; }
target_of() { tandem device show "$1" "${A[@]}" --json | json_field targetName; }
wait_synchronized() { # device
  for _ in $(seq 1 1500); do
    local set; set=$(tandem replica list "$1" "${A[@]}" --json)
    if ! grep -q '"not-synchronized"\|"synchronizing"' <<<"$set" && grep -q '"lastSync": {' <<<"$set"; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not synchronize" >&2; exit 1
}
# Rate of the last finished sync of node 2 (bytes/s), from its own figures.
last_sync_rate() { tandem replica list "$1" "${A[@]}" --json | tr -d '\n ' | sed -n 's/.*"lastSync":{[^}]*"rateBytesPerSecond":\([0-9]*\).*/\1/p'; }

tandem device create --name plain --size 1G --provisioning thick "${A[@]}" >/dev/null
tandem device create --name ha --size 1G --provisioning thick "${A[@]}" >/dev/null
tandem replica add ha --partner 127.0.0.2:25261 --partner-password "$PASSWORD" --init none "${A[@]}" >/dev/null
for _ in $(seq 1 100); do tandem replica list ha "${A[@]}" --json | grep -q '"not-synchronized"' || break; sleep 0.2; done
plain_url="iscsi://127.0.0.1:25260/$(target_of plain)/0"
ha_url="iscsi://127.0.0.1:25260/$(target_of ha)/0"

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
WRITES=100000
write_iops() { # url
  local secs
  secs=$(qemu-img bench -f raw -t none -w -c $WRITES -d 32 -s 4096 --pattern=7 "$1" 2>&1 | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
  awk -v t="$secs" -v c=$WRITES 'BEGIN { printf "%.0f", c / t }'
}

declare -a PLAIN HA RESYNC TCP
# Warm-up, not counted: both nodes' code paths compiled and both images' pages cached.
[ "${ONLY:-}" = resync ] || { write_iops "$plain_url" >/dev/null; write_iops "$ha_url" >/dev/null; }
for round in $(seq 1 "$ROUNDS"); do
  [ "${ONLY:-}" = resync ] && break
  if (( round % 2 )); then order=(plain ha); else order=(ha plain); fi
  for which in "${order[@]}"; do
    if [ "$which" = plain ]; then PLAIN+=("$(write_iops "$plain_url")"); else HA+=("$(write_iops "$ha_url")"); fi
  done
  echo "round $round  4k-qd32-write  plain ${PLAIN[-1]}  ha ${HA[-1]} IOPS"
done

if [ "${ONLY:-}" = writes ]; then
  p=$(median "${PLAIN[@]}"); h=$(median "${HA[@]}")
  echo "medians: plain $p  ha $h  ratio $(awk -v a="$h" -v b="$p" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
  exit 0
fi

tandem device create --name big --size 2G --provisioning thick "${A[@]}" >/dev/null
iperf3 -s -B 127.0.0.2 -p 25201 -D >/dev/null 2>&1
sleep 0.5
# Warm-up, not counted: the initial synchronization (it reads the never-written image for the
# first time); the measured rounds are full resyncs with the source data in the page cache, the
# same footing as iperf3's memory-to-memory transfer.
tandem replica add big --partner 127.0.0.2:25261 --partner-password "$PASSWORD" --init synchronize "${A[@]}" >/dev/null
wait_synchronized big
echo "warm-up  initial sync $(last_sync_rate big) B/s"
for round in $(seq 1 "$ROUNDS"); do
  tandem device sync big --full "${A[@]}" >/dev/null
  sleep 0.5
  wait_synchronized big
  RESYNC+=("$(last_sync_rate big)")
  TCP+=("$(iperf3 -c 127.0.0.2 -B 127.0.0.1 -p 25201 -t 4 -f m 2>/dev/null | awk '/receiver/ { v = $7; u = $8 } END { m = (u == "Gbits/sec") ? 1000 : 1; printf "%.0f", v * m * 1e6 / 8 }')")
  echo "round $round  resync ${RESYNC[-1]} B/s  loopback TCP ${TCP[-1]} B/s"
done

if [ "${ONLY:-}" = resync ]; then
  r=$(median "${RESYNC[@]}"); t=$(median "${TCP[@]}")
  echo "medians: resync $r  TCP $t B/s  ratio $(awk -v a="$r" -v b="$t" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
  exit 0
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
p=$(median "${PLAIN[@]}"); h=$(median "${HA[@]}"); r=$(median "${RESYNC[@]}"); t=$(median "${TCP[@]}")
write_ratio=$(awk -v a="$h" -v b="$p" 'BEGIN { printf "%.0f%%", 100 * a / b }')
sync_ratio=$(awk -v a="$r" -v b="$t" 'BEGIN { printf "%.0f%%", 100 * a / b }')

section=$(cat <<TEXT
<!-- ha-bench:begin -->
## Replication cost (bench/ha-bench.sh)

Measured on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) on $(nproc) cores: two Tandem nodes on
127.0.0.1 and 127.0.0.2, thick images in \`bench/out/ha\`, $ROUNDS rounds after an uncounted warm-up, medians.
Writes: $WRITES per run, alternating which device goes first. Resync: \`tandem device sync big --full\` of a
synchronized 2 GiB partner, rate as the node reports it, source data in the page cache.

| workload | non-replicated / baseline | two-way HA device | ratio | target |
| --- | ---: | ---: | ---: | ---: |
| 4 KiB QD32 write, qemu-img bench (IOPS) | $p | $h | $write_ratio | ≥ 70% |
| idle full resync of 2 GiB vs loopback TCP, iperf3 (MiB/s) | $(mib "$t") | $(mib "$r") | $sync_ratio | ≥ 50% |

Raw rounds: plain ${PLAIN[*]} / HA ${HA[*]} IOPS; resync ${RESYNC[*]} B/s; TCP ${TCP[*]} B/s.
<!-- ha-bench:end -->
TEXT
)
. bench/lib/results-section.sh
replace_results_section ha-bench "$section"
echo "$section"
