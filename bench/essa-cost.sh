#!/usr/bin/env bash
# Cost of one ESSA under TCG, per discard policy, from a bare-metal loop
# (bench/b-essa.c).  Upstream has no ESSA, so there is no baseline column.
# Usage: bench/essa-cost.sh QEMU_CMM_BINARY OUTDIR [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
qemu=$1 out=$2 reps=${3:-3}
mkdir -p "$out/bm"
make -s -C "$here/tests/guest/baremetal" O="$(cd "$out" && pwd)/bm" EXTRA_DIR="$here/bench"
elf="$out/bm/b-essa.elf"

run() {     # policy -> "name value" lines, median of $reps runs
    local policy=$1 i
    for i in $(seq "$reps"); do
        timeout 120 "$qemu" -M s390-ccw-virtio -accel tcg -m 256M -nographic \
            -no-reboot -kernel "$elf" \
            -global s390-storage_attributes-tcg.discard="$policy" 2>&1 |
            sed -n 's/^bench: //p' | tr -d '\r'
    done | sort -k1,1 -k2,2n | awk -v r="$reps" '
        { v[$1] = v[$1] " " $2; n[$1]++ }
        END { for (k in v) { split(substr(v[k], 2), a, " "); print k, a[int((n[k] + 1) / 2)] } }'
}

printf '%-28s %10s %10s %10s\n' "ns per ESSA (median of $reps)" eager lazy off
declare -A res
for p in eager lazy off; do
    while read -r name val; do res[$name,$p]=$val; done < <(run "$p")
done
for name in loop essa-extract essa-set-stable essa-unused+stable-nodat; do
    printf '%-28s %10s %10s %10s\n' "$name" "${res[$name,eager]:--}" \
        "${res[$name,lazy]:--}" "${res[$name,off]:--}"
done | tee "$out/essa-cost.txt"
