#!/usr/bin/env bash
# bench/failover-campaign.sh [trials]: the randomized failover fault campaign over real node
# processes in the network lab (tests/Tandem.Interop.Tests/FailoverCampaignTests.cs) with many
# trials (default 100; CI runs 3). Needs root (network namespaces) and iproute2.
#   TANDEM_CAMPAIGN_SEED=S     campaign seed (default random; trial k uses S+k)
#   TANDEM_CAMPAIGN_MINUTES=M  start no trial after M minutes (the counts say how many ran)
# The summary goes into the "Failover fault campaign" section of bench/RESULTS.md (between its
# markers; the other sections are kept); node logs of failed trials stay in bench/out/campaign/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-100}
OUT=$PWD/bench/out/campaign
rm -rf "$OUT" && mkdir -p "$OUT/logs"

command -v ip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; }
dotnet build tests/Tandem.Interop.Tests -c Release -nologo -clp:ErrorsOnly >/dev/null

started=$(date -u +%Y-%m-%dT%H:%MZ)
status=0
TANDEM_CAMPAIGN_CONFIGURATIONS=all TANDEM_CAMPAIGN_TRIALS=$TRIALS TANDEM_CAMPAIGN_SUMMARY="$OUT/summary.md" TANDEM_CAMPAIGN_LOGS="$OUT/logs" \
  dotnet test tests/Tandem.Interop.Tests -c Release --no-build -nologo \
    --filter "FullyQualifiedName~FailoverCampaignTests" --logger "console;verbosity=detailed" >"$OUT/test.log" 2>&1 || status=$?
if [ ! -s "$OUT/summary.md" ]; then
  echo "the campaign produced no summary (exit $status); see $OUT/test.log" >&2
  tail -50 "$OUT/test.log" >&2
  exit 1
fi

section=$(cat <<TEXT
<!-- failover-campaign:begin -->
## Failover fault campaign (bench/failover-campaign.sh)

Started $started at commit $(git rev-parse --short HEAD) on $(nproc) cores; test exit code $status.
Each trial: a fresh network lab and replica set (every node with \`--link-timeout 2 --witness-lease 4\`),
4 KiB writes through a session on every data node into its own region, 3-6 random faults 1-6 s apart,
then everything healed and restarted, convergence awaited (120 s), and checked: every acknowledged write
reads back through every node (after a heartbeat split brain, resolved with \`mark-synchronized\` on the
trial's keeper: the keeper's writes and the other node's up to the total cut), \`verify\` identical,
image hashes equal; under node majority also no stale read and no two nodes serving across a cut sync
link past the detection grace (link timeout + heartbeat + 0.75 s). What each column counts:
\`tests/Tandem.Interop.Tests/FailoverCampaignTests.cs\`.

$(cat "$OUT/summary.md")
<!-- failover-campaign:end -->
TEXT
)
. bench/lib/results-section.sh
replace_results_section failover-campaign "$section"
echo "$section"
exit $status
