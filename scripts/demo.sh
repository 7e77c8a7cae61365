#!/usr/bin/env bash
# The qemu-cmm demo (make demo): boot a Debian s390x guest with virtio-balloon-ccw,
# fill its memory, shrink it to 512 MiB over QMP and report what the host got back;
# then qemu-cmmd keeps three guests in a budget while one bursts; then a Linux guest
# swaps to host memory through virtio-tmem; then two
# bare-metal guests' tenants share a tmem pool.
# Usage: scripts/demo.sh [QEMU_BINARY]        (default build/qemu/qemu-system-s390x)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
qemu=${1:-$here/build/qemu/qemu-system-s390x}
[ -x "$qemu" ] || { echo "demo: no $qemu; build first (make)" >&2; exit 1; }
"$here/scripts/guest-image.sh" "$here/build/guest"
/usr/bin/python3 "$here/tests/guest/linux/demo.py" --qemu "$qemu" \
    --images "$here/build/guest" --log "$here/build/tests/linux/demo.log"
# qemu-cmmd: three guests share a budget, one bursts (cmmstat shows the daemon)
echo
/usr/bin/python3 "$here/tests/guest/linux/demo_cmmd.py" --qemu "$qemu" \
    --images "$here/build/guest" --log "$here/build/tests/linux/demo-cmmd.log"
# tmem: a Linux guest swaps to host memory through our virtio_tmem driver
echo
/usr/bin/python3 "$here/tests/guest/linux/demo_tmem_swap.py" --qemu "$qemu" \
    --images "$here/build/guest" --log "$here/build/tests/linux/demo-tmem-swap.log"
# tmem: two bare-metal tenants share one pool, by weight
echo
make -s -C "$here/tests/guest/baremetal" O="$here/build/tests/baremetal"
exec /usr/bin/python3 "$here/scripts/demo-tmem.py" "$qemu" \
    "$here/build/tests/baremetal"
