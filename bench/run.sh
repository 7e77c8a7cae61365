#!/usr/bin/env bash
# make bench: qemu-cmm against unpatched upstream, side by side in one run.
# Usage: bench/run.sh QEMU_CMM_BINARY BASELINE_BINARY OUTDIR
# Prints tables (metric, qemu-cmm, upstream, ratio); OUTDIR gets the raw RSS samples
# (rss-*.csv), the table (results.csv), a plot (rss.png) and the guest logs.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 QEMU_CMM_BINARY BASELINE_BINARY OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
cmm=$1 base=$2 out=$3
for b in "$cmm" "$base"; do
    [ -x "$b" ] || { echo "bench: no executable $b" >&2; exit 1; }
done
"$here/scripts/deps.sh" bench
"$here/scripts/guest-image.sh" "$here/build/guest"
mkdir -p "$out"
/usr/bin/python3 "$here/bench/rss.py" --images "$here/build/guest" --outdir "$out" \
    --binary "qemu-cmm=$cmm" --binary "upstream=$base"
echo
"$here/bench/essa-cost.sh" "$cmm" "$out"
echo
/usr/bin/python3 "$here/bench/cmma_overhead.py" --cmm "$cmm" --upstream "$base" \
    --images "$here/build/guest" --outdir "$out" --rounds "${BENCH_ROUNDS:-3}"
echo
/usr/bin/python3 "$here/bench/balloon_target.py" "$cmm" "$base" "$here/build/guest" \
    "${BENCH_ROUNDS:-3}" | tee "$out/balloon-target.md"
echo
"$here/bench/tmem-store.sh" "$out"
echo
"$here/bench/tmem-guest.sh" "$cmm" "$out" "${BENCH_ROUNDS:-3}"
echo
# swap to host memory through the virtio-tmem guest driver (about 10 min)
/usr/bin/python3 "$here/bench/tmem_swap.py" --qemu "$cmm" --images "$here/build/guest" \
    --outdir "$out" --kernel "6.1"
echo
# density: how many 1 GiB guests one memory cgroup holds, per policy (about 20 min)
/usr/bin/python3 "$here/bench/density.py" --cmm "$cmm" --upstream "$base" \
    --images "$here/build/guest" --outdir "$out"
echo
# the CMMA discard policies side by side: overhead and return (about 25 min)
/usr/bin/python3 "$here/bench/cmma_policies.py" --cmm "$cmm" --upstream "$base" \
    --images "$here/build/guest" --outdir "$out" --rounds "${BENCH_ROUNDS:-3}"
echo
# holding a footprint target on idle 2, 8 and 16 GiB guests (about 5 min)
/usr/bin/python3 "$here/bench/cmma_scale.py" --qemu "$cmm" --images "$here/build/guest" \
    --outdir "$out"
