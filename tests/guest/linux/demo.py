#!/usr/bin/python3
"""The `make demo` walk-through: a Debian s390x guest gives memory back to the host,
first by itself through CMMA (ESSA emulated under TCG), then over the balloon.

usage: demo.py --qemu PATH --images DIR [--log FILE]
"""

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 2048
FILL_MIB = 1536
TARGET_MIB = 512


def say(text=""):
    print(text, flush=True)


def indent(lines):
    return "\n".join("    " + l for l in lines)


def target_report(g):
    """cmma=on: a footprint target met by reclaiming what the guest freed."""
    say("\ncmma=on: footprint target, reclaim first")
    g.balloon_to(GUEST_MIB * MIB, 300)
    g.qmp.execute("qom-set", path="/machine/s390-storage_attributes",
                  property="discard", value="lazy")
    say("  discard policy lazy: freed memory stays resident until reclaimed")
    rc, out = g.cmd("fill_tmpfs /mnt/t %d && drop_tmpfs /mnt/t" % FILL_MIB, timeout=300)
    if rc:
        sys.exit("demo: fill failed:\n" + indent(out))
    q = g.qmp.execute("query-balloon")
    ps = q["page-states"]
    say("  guest wrote and deleted %d MiB: footprint %d MiB, unused but resident "
        "%d MiB, RSS %d MiB" % (FILL_MIB, q["footprint"] // MIB,
                                ps["unused-resident"] // MIB, g.rss() // MIB))
    say("  QMP: balloon-set-target kind=footprint target=%d MiB ..." % TARGET_MIB)
    t0 = time.monotonic()
    g.qmp.execute("balloon-set-target", kind="footprint", target=TARGET_MIB * MIB)
    g.qmp.wait_event("BALLOON_TARGET_REACHED", 60)
    took = time.monotonic() - t0
    q = g.qmp.execute("query-balloon")
    say("  BALLOON_TARGET_REACHED after %.2f s: footprint %d MiB, balloon %d MiB, "
        "reclaimed %d MiB, RSS %d MiB"
        % (took, q["footprint"] // MIB, q["page-states"]["ballooned"] // MIB,
           q["target"]["reclaimed"] // MIB, g.rss() // MIB))
    say("  HMP info balloon:\n" + indent(g.hmp("info balloon").strip().splitlines()))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", default=os.path.join(ROOT, "build/qemu/qemu-system-s390x"))
    ap.add_argument("--images", default=os.path.join(ROOT, "build/guest"))
    ap.add_argument("--log", default=os.path.join(ROOT, "build/tests/linux/demo.log"))
    args = ap.parse_args()

    say("qemu-cmm demo: CMMA and virtio-balloon-ccw with a Debian s390x guest under TCG")
    say("  QEMU:  %s" % os.path.relpath(args.qemu))
    say("  log:   %s" % os.path.relpath(args.log))
    g = harness.Guest(args.qemu, args.images, "balloon", mem_mib=GUEST_MIB,
                      args=["-device", "virtio-balloon-ccw,id=b0,cmma=on"], log=args.log)
    with g:
        say("\nbooting a %d MiB guest ..." % GUEST_MIB)
        m = g.wait_line(r"(Linux version \S+ .*)", 120)
        say("  " + m.group(1)[:110])
        boot = g.wait_ready(120)
        say("  guest ready (CMM-READY) after %.1f s" % boot)
        rc, out = g.cmd("load_module virtio_balloon && echo virtio_balloon loaded")
        if rc:
            sys.exit("demo: virtio_balloon did not load:\n" + indent(out))
        say("  " + " ".join(out))
        rc, out = g.cmd("free -m")
        say("  guest free -m:\n" + indent(out))

        cmma = g.qmp.execute("query-cmma")
        say("  the guest detected CMMA: %d ESSA so far, %d MiB marked unused, "
            "discard policy %s" % (sum(cmma["essa"]), cmma["unused"] // MIB,
                                   cmma["discard-policy"]))

        say("\nfilling %d MiB of tmpfs in the guest with dd ..." % FILL_MIB)
        t0 = time.monotonic()
        rc, out = g.cmd("fill_tmpfs /mnt/fill %d" % FILL_MIB, timeout=300)
        if rc:
            sys.exit("demo: the fill failed:\n" + indent(out))
        rss_full = g.rss()
        say("  done in %.1f s; host RSS of QEMU: %d MiB" % (time.monotonic() - t0,
                                                           rss_full // MIB))
        say("\ndeleting it: the guest marks the pages unused, QEMU releases them")
        g.cmd("drop_tmpfs /mnt/fill")
        t0 = time.monotonic()
        trail = []
        for i in range(6):
            time.sleep(0.5)
            trail.append("%.1fs: %d MiB" % (time.monotonic() - t0, g.rss() // MIB))
        say("  host RSS " + ", ".join(trail))
        cmma = g.qmp.execute("query-cmma")
        say("  query-cmma: %d MiB unused, %d MiB released to the host so far" % (
            cmma["unused"] // MIB, cmma["released"] // MIB))
        rss0, act0 = g.rss(), g.balloon_actual()
        cmma_returned = rss_full - rss0
        say("  host RSS of QEMU: %d MiB, balloon actual: %d MiB" % (rss0 // MIB, act0 // MIB))

        say("\nQMP: balloon value=%d (%d MiB) ..." % (TARGET_MIB * MIB, TARGET_MIB))
        try:
            took = g.balloon_to(TARGET_MIB * MIB, 300)
        except harness.Timeout as e:
            sys.exit("demo: %s" % e)
        time.sleep(0.5)
        rss1, act1 = g.rss(), g.balloon_actual()
        say("  query-balloon reached %d MiB after %.1f s" % (act1 // MIB, took))
        rc, out = g.cmd("free -m")
        say("  guest free -m:\n" + indent(out))

        say("\nreport")
        say("  %-22s %10s %10s" % ("", "before", "after"))
        say("  %-22s %10d %10d" % ("host RSS of QEMU, MiB", rss0 // MIB, rss1 // MIB))
        say("  %-22s %10d %10d" % ("balloon actual, MiB", act0 // MIB, act1 // MIB))
        say("  %-22s %10s %9.1fs" % ("time to shrink", "", took))
        say("  returned by CMMA after the guest freed %d MiB: %d MiB (RSS %d -> %d MiB)"
            % (FILL_MIB, cmma_returned // MIB, rss_full // MIB, rss0 // MIB))
        say("  returned by the balloon: %d MiB" % ((rss0 - rss1) // MIB))
        target_report(g)
    ok = g.exit_status == 0
    say("\nQEMU quit over QMP%s" % ("" if ok else " (exit status %s)" % g.exit_status))
    return 0 if ok else 1


if __name__ == "__main__":
    harness.exit_on_sigterm()
    try:
        sys.exit(main())
    except harness.HarnessError as e:
        sys.exit("demo: %s" % e)
