#!/usr/bin/env bash
# Records Open vSwitch's answers for the cases gen-packets.py wrote:
#   scripts/ovs-fuzz/record-packets.sh DIR...
# For each case directory: runs test/oracles/ovs/ovs-trace.sh (real ovs-vswitchd, dummy datapath)
# and writes expected.txt (`--stable` outputs) and trace.log (full ofproto/trace text). A case whose
# flow file ovs-ofctl rejects is deleted (the flow-file verdicts are gen-flows.py's job); packet
# lines the trace parser refuses are removed and the case re-recorded, so every recorded packet
# has an answer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/../../test/oracles/ovs/ovs-trace.sh
for dir in "$@"; do
  dir=${dir%/}
  opts=()
  [ -f "$dir/ofctl-opts" ] && opts=(--ofctl-opt="$(cat "$dir/ofctl-opts")")
  for attempt in 1 2; do
    if ! timeout 60 "$oracle" "$dir/bridge.spec" "$dir/flows.txt" "$dir/packets.txt" --stable "${opts[@]}" \
        --trace-out "$dir/trace.log" > "$dir/expected.txt" 2> "$dir/stderr.txt"; then
      echo "rejected $(basename "$dir"): $(tail -n 2 "$dir/stderr.txt" | tr '\n' ' ')" >&2
      rm -rf "$dir"; continue 2
    fi
    rm -f "$dir/stderr.txt"
    grep -q '^  ERROR' "$dir/expected.txt" || break
    # drop the packet lines OVS could not trace ([N] is the Nth line: packets.txt has no comments)
    bad=$(grep -B1 '^  ERROR' "$dir/expected.txt" | sed -n 's/^\[\([0-9]*\)\].*/\1/p')
    for n in $(echo "$bad" | tr ' ' '\n' | sort -rn); do sed -i "${n}d" "$dir/packets.txt"; done
  done
  echo "recorded $(basename "$dir"): $(grep -c '^\[[0-9]' "$dir/expected.txt") packets"
done
