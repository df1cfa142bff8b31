#!/usr/bin/env bash
# Differential audit of vfab's flow loader against the real ovs-ofctl (OVS 3.1):
#   scripts/ovs-fuzz/run.sh SEED COUNT [OUTDIR]
# generates COUNT random flow files (gen-flows.py), judges them with the real OVS under the
# default protocol and -O OpenFlow11..15 (test/fixtures/ovs-corpus/judge.py) and with vfab's
# built loader (vfab-verdicts.mjs; `npm run build` first), and prints every disagreement.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seed=$1; count=$2; out=${3:-$(mktemp -d /tmp/ovs-fuzz.XXXXXX)}
python3 "$here/gen-flows.py" "$seed" "$count" "$out/cases"
for v in 10 11 12 13 14 15; do
  opt=(); [ "$v" = 10 ] || opt=(--ofctl-opt=-OOpenFlow$v)
  python3 "$root/test/fixtures/ovs-corpus/judge.py" "${opt[@]}" "$out"/cases/*.flows > "$out/ovs-$v.jsonl"
  node "$here/vfab-verdicts.mjs" --protocols=$v "$out"/cases/*.flows > "$out/vfab-$v.jsonl"
  echo "### OpenFlow $v"
  python3 "$here/compare.py" "$out/ovs-$v.jsonl" "$out/vfab-$v.jsonl" "$out/cases" 2>&1
done
echo "files in $out"
