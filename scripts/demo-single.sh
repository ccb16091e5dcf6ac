#!/usr/bin/env bash
# Single-node variant of scripts/demo.sh. Builds Tandem and starts one node on loopback serving a 1 GiB demo device
# (data in ./tandem-data). Prints the iSCSI URL and iscsiadm lines. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Tandem.Cli -c Release -nologo -clp:ErrorsOnly
exec dotnet src/Tandem.Cli/bin/Release/net10.0/tandem.dll demo "$@"
