#!/usr/bin/python3
"""Balloon targets against upstream's balloon command, side by side.

Usage: balloon_target.py CMM_QEMU BASE_QEMU IMAGES [ROUNDS]

For a 2 GiB guest, the time until its host footprint is at most 512 MiB:
  (a) mostly free: it wrote and deleted 1.5 GiB;
  (b) busy: 1 GiB of page cache in use, 512 MiB written and deleted.
qemu-cmm uses `balloon-set-target kind=footprint` with cmma=on and the lazy
discard policy; upstream uses `balloon 512 MiB` (the footprint is then at most
512 MiB once the balloon holds 1.5 GiB).
  (c) inflate throughput: `balloon` 2048 -> 512 MiB with CMMA off in the guest
(cmm=off), so that only the coalesced discards differ.
Prints medians over ROUNDS (default 3) and ratios.
"""

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guest", "linux"))
import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 2048
TARGET = 512 * MIB


def guest(qemu, images, args, disk=None):
    extra = list(args)
    if disk:
        extra += ["-drive", "file=%s,format=raw,if=none,id=d0" % disk,
                  "-device", "virtio-blk-ccw,drive=d0"]
    g = harness.Guest(qemu, images, initrd="cmma", mem_mib=GUEST_MIB, args=extra,
                      log=os.path.join(tempfile.gettempdir(), "bench-balloon.log"))
    g.start()
    g.wait_ready(180)
    rc, out = g.cmd("load_module virtio_balloon && load_module virtio_blk && "
                    "mkdir -p /mnt/pat && pat_make /mnt/pat && tmpfs_at /mnt/f 1600")
    assert rc == 0, out
    return g


def fill_free(g, mib):
    rc, out = g.cmd("pat_stream /mnt/pat 1 %d > /mnt/f/x && rm /mnt/f/x" % mib, timeout=300)
    assert rc == 0, out


def reach(g, cmm):
    t0 = time.monotonic()
    if cmm:
        g.qmp.execute("balloon-set-target", kind="footprint", target=TARGET)
        g.qmp.wait_event("BALLOON_TARGET_REACHED", 120)
    else:
        g.balloon_to(TARGET, 120, poll=0.02)
    return time.monotonic() - t0


def scenario(qemu, images, cmm, busy):
    args = ["-device", "virtio-balloon-ccw" + (",cmma=on" if cmm else "")]
    if cmm:
        args += ["-global", "s390-storage_attributes-tcg.discard=lazy"]
    disk = None
    if busy:
        disk = tempfile.mktemp(prefix="bench-disk-")
        with open(disk, "wb") as f:
            f.truncate(1024 * MIB)
    g = guest(qemu, images, args, disk)
    try:
        if busy:
            rc, out = g.cmd("exec 3</dev/vda && dd if=/dev/vda of=/dev/null bs=1M",
                            timeout=300)
            assert rc == 0, out
            fill_free(g, 512)
        else:
            fill_free(g, 1536)
        took = reach(g, cmm)
        rss = g.rss()
    finally:
        g.close()
        if disk:
            os.unlink(disk)
    return took, rss


def inflate(qemu, images):
    g = guest(qemu, images, ["-cpu", "qemu,cmm=off,cmmnt=off",
                             "-device", "virtio-balloon-ccw"])
    try:
        took = g.balloon_to(TARGET, 120, poll=0.02)
    finally:
        g.close()
    return took


def main():
    cmm_q, base_q, images = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    rows = []
    for name, busy in (("(a) mostly free", False), ("(b) busy", True)):
        c = [scenario(cmm_q, images, True, busy) for _ in range(rounds)]
        b = [scenario(base_q, images, False, busy) for _ in range(rounds)]
        ct = statistics.median(x[0] for x in c)
        bt = statistics.median(x[0] for x in b)
        rows.append(("%s: s to footprint <= 512 MiB" % name, ct, bt))
        rows.append(("%s: QEMU RSS after (MiB)" % name,
                     statistics.median(x[1] for x in c) / MIB,
                     statistics.median(x[1] for x in b) / MIB))
    c = statistics.median(inflate(cmm_q, images) for _ in range(rounds))
    b = statistics.median(inflate(base_q, images) for _ in range(rounds))
    rows.append(("(c) balloon 2048->512 MiB, cmm=off (s)", c, b))
    rows.append(("(c) inflate throughput (GiB/s)", 1.5 / c, 1.5 / b))
    print("| metric | qemu-cmm | upstream | upstream/qemu-cmm |")
    print("|---|---|---|---|")
    for what, cv, bv in rows:
        print("| %s | %.2f | %.2f | %.2f |" % (what, cv, bv, bv / cv if cv else 0))


if __name__ == "__main__":
    main()
