#!/usr/bin/env bash
# Side-by-side benchmark: Tandem against tgt (Debian's userspace iSCSI target), one run.
#
# Both targets serve an identical thick image file of the same size in the same folder (same
# disk), on loopback. The same public clients (qemu-img bench, iscsi-perf) run against both,
# alternating which goes first in each round. Medians, Tandem/tgt ratios and CPU seconds per
# GiB moved are written to bench/RESULTS.md.
#
# usage: bench/peer-bench.sh [rounds]        (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
OUT=bench/out
IMAGE_SIZE=$((1 << 30))
TGT_PORT=3270
TANDEM_PORT=3280
TANDEM_API=3281
TGT_IQN=iqn.2026-11.org.tandem.bench:tgt
PASSWORD=bench-admin-password

need=()
command -v tgtd >/dev/null || need+=(tgt)
command -v iscsi-perf >/dev/null || need+=(libiscsi-bin)
command -v qemu-img >/dev/null || need+=(qemu-utils qemu-block-extra)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

dotnet build src/Tandem.Cli -c Release -nologo -clp:ErrorsOnly
TANDEM="dotnet src/Tandem.Cli/bin/Release/net10.0/tandem.dll"

rm -rf "$OUT"; mkdir -p "$OUT/images"
TGT_PID=""; TANDEM_PID=""
stop() { # pid: SIGTERM, then SIGKILL if it is still there after 5 s (tgtd may ignore SIGTERM)
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}
cleanup() {
  stop "$TGT_PID"
  stop "$TANDEM_PID"
  wait 2>/dev/null || true
  rm -rf "$OUT/images" "$OUT/tandem-data"
}
trap cleanup EXIT

# --- tgt -------------------------------------------------------------------------------------
fallocate -l $IMAGE_SIZE "$OUT/images/tgt.img"
tgtd -f --iscsi portal=127.0.0.1:$TGT_PORT --control-port 7777 >"$OUT/tgtd.log" 2>&1 &
TGT_PID=$!
sleep 1
TGTADM="tgtadm -C 7777 --lld iscsi"
$TGTADM --op new --mode target --tid 1 -T $TGT_IQN
$TGTADM --op new --mode logicalunit --tid 1 --lun 1 -b "$OUT/images/tgt.img"
$TGTADM --op bind --mode target --tid 1 -I ALL
TGT_URL=iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1

# --- Tandem ----------------------------------------------------------------------------------
$TANDEM serve --data-dir "$OUT/tandem-data" --portal 127.0.0.1:$TANDEM_PORT --api 127.0.0.1:$TANDEM_API \
  --admin-password $PASSWORD --node-name bench >"$OUT/tandem.log" 2>&1 &
TANDEM_PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$TANDEM_API/api/v1/health >/dev/null 2>&1 && break; sleep 0.2; done
TANDEM_IQN=$($TANDEM --server 127.0.0.1:$TANDEM_API --password $PASSWORD device create --name bench \
  --size $IMAGE_SIZE --provisioning thick --location "$PWD/$OUT/images" --json | sed -n 's/.*"targetName": *"\([^"]*\)".*/\1/p')
TANDEM_URL=iscsi://127.0.0.1:$TANDEM_PORT/$TANDEM_IQN/0

# Fill both images once so reads hit written blocks on both (and neither reads holes).
qemu-img convert -n -f raw -O raw "$OUT/images/tgt.img" "$TANDEM_URL" 2>/dev/null || true
dd if=/dev/urandom of="$OUT/fill.raw" bs=1M count=1024 status=none
qemu-img convert -n -f raw -O raw "$OUT/fill.raw" "$TGT_URL"
qemu-img convert -n -f raw -O raw "$OUT/fill.raw" "$TANDEM_URL"
rm -f "$OUT/fill.raw"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# workload name | kind | unit
WORKLOADS=(
  "4k-seq-write-qd32|qemu -w -c 40000 -d 32 -s 4096 --pattern=7|IOPS"
  "4k-seq-read-qd32|qemu -c 40000 -d 32 -s 4096|IOPS"
  "4k-seq-write-qd1|qemu -w -c 6000 -d 1 -s 4096 --pattern=7|IOPS"
  "4k-seq-read-qd1|qemu -c 6000 -d 1 -s 4096|IOPS"
  "1m-seq-write-qd8|qemu -w -c 800 -d 8 -s 1M --pattern=7|MiB/s"
  "1m-seq-read-qd8|qemu -c 800 -d 8 -s 1M|MiB/s"
  "4k-rand-read-qd32|perf -m 32|IOPS"
  "4k-rand-read-qd1|perf -m 1|IOPS"
  "4k-rand-read-4sessions-qd8|perf4 -m 8|IOPS"
)
PERF_SECONDS=6

# ONLY=<regex> runs just the matching workloads (for a quick look while tuning; RESULTS.md wants the full set).
if [ -n "${ONLY:-}" ]; then
  kept=()
  for entry in "${WORKLOADS[@]}"; do [[ ${entry%%|*} =~ $ONLY ]] && kept+=("$entry"); done
  WORKLOADS=("${kept[@]}")
fi

# Runs one workload against one URL; prints "<figure> <bytes moved>".
run_one() {
  local spec=$1 url=$2 kind args
  kind=${spec%% *}; args=${spec#* }
  case $kind in
    qemu)
      local count size secs
      count=$(sed -n 's/.*-c \([0-9]*\).*/\1/p' <<<"$args")
      size=$(sed -n 's/.*-s \([0-9]*[KM]*\).*/\1/p' <<<"$args")
      case $size in *M) size=$(( ${size%M} << 20 ));; *K) size=$(( ${size%K} << 10 ));; esac
      # shellcheck disable=SC2086
      secs=$(qemu-img bench -f raw -t none $args "$url" 2>&1 | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
      [ -n "$secs" ] || { echo "0 0"; return; }
      if [ "$size" -ge $((1 << 20)) ]; then
        awk -v c="$count" -v s="$size" -v t="$secs" 'BEGIN { printf "%.1f %d\n", c * s / 1048576 / t, c * s }'
      else
        awk -v c="$count" -v s="$size" -v t="$secs" 'BEGIN { printf "%.0f %d\n", c / t, c * s }'
      fi ;;
    perf)
      local iops
      # shellcheck disable=SC2086
      iops=$(timeout $((PERF_SECONDS + 20)) iscsi-perf $args -b 8 -r -t $PERF_SECONDS "$url" 2>&1 | tr '\r' '\n' | sed -n 's/.*iops average \([0-9]*\).*/\1/p' | tail -1)
      awk -v i="${iops:-0}" -v t=$PERF_SECONDS 'BEGIN { printf "%d %d\n", i, i * t * 4096 }' ;;
    perf4)
      local total=0 f
      for n in 1 2 3 4; do
        # shellcheck disable=SC2086
        (timeout $((PERF_SECONDS + 20)) iscsi-perf $args -b 8 -r -t $PERF_SECONDS -i "iqn.2026-11.org.tandem.bench:client$n" "$url" 2>&1 \
          | tr '\r' '\n' | sed -n 's/.*iops average \([0-9]*\).*/\1/p' | tail -1 >"$OUT/perf4.$n") &
      done
      wait
      for n in 1 2 3 4; do f=$(cat "$OUT/perf4.$n"); total=$((total + ${f:-0})); done
      awk -v i="$total" -v t=$PERF_SECONDS 'BEGIN { printf "%d %d\n", i, i * t * 4096 }' ;;
  esac
}

declare -A FIG CPU BYTES
for round in $(seq "$ROUNDS"); do
  for entry in "${WORKLOADS[@]}"; do
    IFS='|' read -r name spec unit <<<"$entry"
    if [ $((round % 2)) -eq 1 ]; then order="tandem tgt"; else order="tgt tandem"; fi
    for who in $order; do
      if [ "$who" = tandem ]; then url=$TANDEM_URL; pid=$TANDEM_PID; else url=$TGT_URL; pid=$TGT_PID; fi
      before=$(cpu_ticks "$pid")
      read -r figure bytes < <(run_one "$spec" "$url")
      after=$(cpu_ticks "$pid")
      FIG[$name,$who]+="$figure "
      CPU[$who]=$(( ${CPU[$who]:-0} + after - before ))
      BYTES[$who]=$(( ${BYTES[$who]:-0} + bytes ))
      CPU[$name,$who]=$(( ${CPU[$name,$who]:-0} + after - before ))
      BYTES[$name,$who]=$(( ${BYTES[$name,$who]:-0} + bytes ))
      echo "round $round  $name  $who: $figure $unit"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
per_gib() { awk -v t="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", t / hz / (b / 1073741824) }'; }

{
  echo "# Tandem vs tgt, side by side"
  echo
  echo "Measured by \`bench/peer-bench.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)"
  echo "on $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), $(tgtd --version 2>/dev/null | head -1 || echo tgt)."
  echo "Both targets serve a 1 GiB thick image file in \`$OUT/images\` on loopback; $ROUNDS rounds,"
  echo "alternating which target goes first. Figures are medians; ratio = Tandem / tgt."
  echo "CPU is the target process's user+system time per GiB moved by the clients."
  echo
  echo "| workload | unit | Tandem | tgt | ratio | Tandem CPU s/GiB | tgt CPU s/GiB |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for entry in "${WORKLOADS[@]}"; do
    IFS='|' read -r name spec unit <<<"$entry"
    a=$(median <<<"${FIG[$name,tandem]}"); b=$(median <<<"${FIG[$name,tgt]}")
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }')
    echo "| $name | $unit | $a | $b | $ratio | $(per_gib "${CPU[$name,tandem]}" "${BYTES[$name,tandem]}") | $(per_gib "${CPU[$name,tgt]}" "${BYTES[$name,tgt]}") |"
  done
  echo "| **all workloads** | | | | | **$(per_gib "${CPU[tandem]}" "${BYTES[tandem]}")** | **$(per_gib "${CPU[tgt]}" "${BYTES[tgt]}")** |"
  echo
  echo "Raw figures per round (Tandem / tgt):"
  echo
  for entry in "${WORKLOADS[@]}"; do
    IFS='|' read -r name spec unit <<<"$entry"
    echo "- $name: ${FIG[$name,tandem]}/ ${FIG[$name,tgt]}"
  done
} >"$OUT/table.md"

if [ -n "${ONLY:-}" ]; then cat "$OUT/table.md"; exit 0; fi

# Keep any hand-written analysis below the marker in RESULTS.md; replace the measured table.
marker='<!-- analysis -->'
analysis=""
[ -f bench/RESULTS.md ] && analysis=$(sed -n "/$marker/,\$p" bench/RESULTS.md)
{ cat "$OUT/table.md"; echo; [ -n "$analysis" ] && echo "$analysis" || echo "$marker"; } >bench/RESULTS.md
cat "$OUT/table.md"
