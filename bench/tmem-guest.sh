#!/usr/bin/env bash
# Guest-visible virtio-tmem throughput under TCG, from a bare-metal guest
# (bench/b-tmem.c): PUT/GET with batch 1 and 64, persistent PUT/GET,
# FLUSH_PAGE, NEW_POOL/DESTROY_POOL pairs.  Each run checks a sample of
# the pages it gets back; a run that fails (wrong data, unexpected
# status, QEMU error) fails the script.
# Usage: bench/tmem-guest.sh QEMU_CMM_BINARY OUTDIR [REPEATS]
# Prints the median of REPEATS (default 3) runs per value and writes the
# table to OUTDIR/tmem-guest.txt (each run's console: OUTDIR/tmem-guest.N.log).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 QEMU_BINARY OUTDIR [REPEATS]" >&2; exit 2; }
qemu=$1 out=$2 reps=${3:-3}
[ -x "$qemu" ] || { echo "tmem-guest: $qemu is not executable" >&2; exit 1; }
mkdir -p "$out/bm"
out=$(cd "$out" && pwd)
make -s -C "$here/tests/guest/baremetal" O="$out/bm" EXTRA_DIR="$here/bench"
elf="$out/bm/b-tmem.elf"

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for i in $(seq "$reps"); do
    log="$out/tmem-guest.$i.log"
    rc=0
    timeout 120 "$qemu" -M s390-ccw-virtio -accel tcg -m 256M -nographic \
        -no-reboot -action panic=exit-failure -kernel "$elf" \
        -object tmem-pool,id=tp0,size=128M \
        -device virtio-tmem-ccw,pool=tp0,id=t0 >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || ! tr -d '\r' <"$log" | grep -qx 'bench: done'; then
        echo "tmem-guest: run $i failed (exit $rc), see $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    tr -d '\r' <"$log" | sed -n 's/^bench: //p' | grep -vx 'done' >>"$raw"
done

# median per name (the lower middle one for an even count), names in
# the order the benchmark printed them
awk -v r="$reps" '
    !($1 in n) { order[++names] = $1 }
    { n[$1]++; v[$1, n[$1]] = $2 }
    END {
        printf "%-22s %12s\n", "b-tmem (median of " r ")", "value"
        for (j = 1; j <= names; j++) {
            k = order[j]
            for (a = 2; a <= n[k]; a++) {       # insertion sort, numeric
                x = v[k, a]
                for (b = a - 1; b >= 1 && v[k, b] + 0 > x + 0; b--) {
                    v[k, b + 1] = v[k, b]
                }
                v[k, b + 1] = x
            }
            printf "%-22s %12s\n", k, v[k, int((n[k] + 1) / 2)]
        }
    }' "$raw" | tee "$out/tmem-guest.txt"
