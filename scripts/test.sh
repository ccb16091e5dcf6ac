#!/usr/bin/env bash
# Runs every Tandem test: unit tests per layer and interop tests with real iSCSI clients.
# Installs what it needs on a fresh Debian machine (the libiscsi and qemu clients) first.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v iscsi-test-cu >/dev/null || need+=(libiscsi-bin)
command -v qemu-img >/dev/null || need+=(qemu-utils)
[ -e /usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so ] || need+=(qemu-block-extra)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing test clients: ${need[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

echo "== building"
dotnet build Tandem.slnx -c Release -nologo -clp:ErrorsOnly

echo "== testing"
# Detailed console output shows each interop test's own report (e.g. how many
# iscsi-test-cu tests ran, passed and were skipped).
dotnet test Tandem.slnx -c Release --no-build -nologo \
  --logger "console;verbosity=detailed" "$@"
