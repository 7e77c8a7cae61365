#!/usr/bin/python3
"""The `make demo` stage of the virtio-tmem guest driver: a Linux guest swaps
to host memory.

A 384 MiB Debian s390x guest loads virtio_tmem, makes /dev/tmemswap0 its
swap, and runs a process holding 512 MiB of patterned memory.  The host's
`info tmem` shows the swapped pages in the tmem pool; the process then checks
every byte, and after swapoff `info tmem` shows the pool empty again.

usage: demo_tmem_swap.py --qemu PATH --images DIR [--log FILE]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

GUEST_MIB = 384
HOG_MIB = 512


def say(text=""):
    print(text, flush=True)


def show(g, shell):
    rc, out = g.cmd(shell, timeout=300)
    say("  guest$ " + shell)
    for l in out:
        say("    " + l)
    if rc:
        raise harness.HarnessError("'%s' failed with status %d" % (shell, rc))
    return out


def info_tmem(g, when):
    say("  (qemu) info tmem            # %s" % when)
    for l in g.hmp("info tmem").rstrip().splitlines():
        say("    " + l)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--log", default=None)
    args = ap.parse_args()

    say("== tmem swap: a %d MiB Linux guest swaps %d MiB of memory to host memory"
        % (GUEST_MIB, HOG_MIB))
    g = harness.Guest(args.qemu, args.images, "tmem", mem_mib=GUEST_MIB, log=args.log,
                      args=["-object", "tmem-pool,id=tp0,size=1G",
                            "-device", "virtio-tmem-ccw,pool=tp0,id=tmem0"])
    with g:
        g.wait_ready(300)
        show(g, "insmod $(find /lib/modules -name virtio_tmem.ko) && dmesg | grep tmemswap0")
        show(g, "mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0 && "
                "cat /proc/swaps")
        g.cmd("mkfifo /tmp/go; (memhog %d hold /tmp/go > /tmp/hog 2>&1 &)" % HOG_MIB)
        for _ in range(300):
            rc, out = g.cmd("cat /tmp/hog")
            if any("filled" in l for l in out):
                break
            time.sleep(1)
        show(g, "cat /tmp/hog; free -m")
        info_tmem(g, "the swapped pages are in the host's pool")
        show(g, "cd /sys/block/tmemswap0/tmem && grep . puts gets hits refused flushes")
        g.cmd("echo go > /tmp/go")
        for _ in range(300):
            rc, out = g.cmd("cat /tmp/hog")
            if any("memhog: ok" in l or "FAILED" in l for l in out):
                break
            time.sleep(1)
        say("  guest: " + out[-1])
        if not any("memhog: ok" in l for l in out):
            raise harness.HarnessError("the hog's memory did not check out")
        show(g, "swapoff /dev/tmemswap0 && cat /proc/swaps")
        info_tmem(g, "after swapoff: the pool is empty again")
    say("== tmem swap: done")


if __name__ == "__main__":
    try:
        main()
    except harness.HarnessError as e:
        print("demo: %s" % e, file=sys.stderr)
        sys.exit(1)
