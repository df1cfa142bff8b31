#!/usr/bin/env bash
# Random-packet forwarding differential against the real OVS 3.1 (dummy datapath):
#   scripts/ovs-fuzz/run-packets.sh SEED COUNT [OUTDIR] [PACKETS]
# generates COUNT random flow tables with packets (gen-packets.py), records OVS's ofproto/trace
# answers (record-packets.sh) and prints every section where vfab differs (compare-packets.ts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seed=$1; count=$2; out=${3:-$(mktemp -d /tmp/ovs-packets.XXXXXX)}; npk=${4:-16}
python3 "$here/gen-packets.py" "$seed" "$count" "$out" "$npk"
"$here/record-packets.sh" "$out"/pk-* >/dev/null
cd "$root" && npx vite-node scripts/ovs-fuzz/compare-packets.ts "$out"/pk-*
echo "cases in $out"
