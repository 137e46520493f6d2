#!/usr/bin/env bash
# Measures what Sluice costs a request on this machine: builds sluice and
# the bench command, then runs every measurement in one go (about five
# minutes on two cores). Arguments go to the bench, for example:
#
#   bench/run.sh -passes 5 -dur 3s        # longer, steadier figures
#   bench/run.sh -modes shared -ledger 0   # unpinned only, no ledger
#
# It needs Go and taskset (util-linux, in every Debian), and two or more
# CPUs for the pinned figures. Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { echo "bench/run.sh: taskset is required (apt-get install util-linux)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/sluice" .
go build -o "$bin/bench" ./bench
modes=pinned,shared
if [[ $(nproc) -lt 2 ]]; then
  echo "bench/run.sh: one CPU: pinned figures skipped" >&2
  modes=shared
fi
"$bin/bench" run -sluice "$bin/sluice" -modes "$modes" "$@"
