#!/usr/bin/python3
"""Benchmark: what CMMA costs a Linux guest, per discard policy, against upstream.

usage: cmma_overhead.py --cmm PATH --upstream PATH --images DIR --outdir DIR [--rounds N]

Configurations: upstream (unpatched), qemu-cmm with cmm=off, and qemu-cmm with
CMMA under each discard policy (eager, lazy, off).  For each: boot a 2 GiB
guest (time to the CMM-READY marker), then time an alloc/free-heavy workload in
the guest: WORK_ROUNDS times, fill WORK_MIB MiB of tmpfs and delete it.  The
configurations are interleaved and repeated --rounds times; medians are
reported with their ratio to upstream.  Writes OUTDIR/overhead.csv.
"""

import argparse
import csv
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guest", "linux"))

import harness  # noqa: E402

GUEST_MIB = 2048
WORK_MIB = 512
WORK_ROUNDS = 3
TABLE = "-global"
POLICY = "s390-storage_attributes-tcg.discard=%s"


def configs(cmm, upstream):
    return [
        ("upstream", upstream, []),
        ("cmm=off", cmm, ["-cpu", "qemu,cmm=off,cmmnt=off"]),
        ("eager", cmm, [TABLE, POLICY % "eager"]),
        ("lazy", cmm, [TABLE, POLICY % "lazy"]),
        ("discard=off", cmm, [TABLE, POLICY % "off"]),
    ]


def run_one(name, qemu, args, images, outdir):
    g = harness.Guest(qemu, images, "balloon", mem_mib=GUEST_MIB, args=args,
                      log=os.path.join(outdir, "overhead-%s.log" %
                                       name.replace("=", "-")))
    with g:
        boot = g.wait_ready(300)
        work = "for i in %s; do fill_tmpfs /mnt/w %d && drop_tmpfs /mnt/w || exit 1; done" % (
            " ".join(str(i) for i in range(WORK_ROUNDS)), WORK_MIB)
        t0 = time.monotonic()
        rc, out = g.cmd("( %s )" % work, timeout=600)
        elapsed = time.monotonic() - t0
        if rc:
            raise harness.HarnessError("workload failed in %s: %s" % (name, out))
        essa = None
        if name not in ("upstream", "cmm=off"):
            essa = sum(g.qmp.execute("query-cmma")["essa"])
    return boot, elapsed, essa


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmm", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)

    results = {}
    for r in range(a.rounds):
        for name, qemu, args in configs(a.cmm, a.upstream):
            boot, work, essa = run_one(name, qemu, args, a.images, a.outdir)
            print("overhead: round %d %-12s boot %.2f s, workload %.2f s%s" % (
                r + 1, name, boot, work, "" if essa is None else ", %d ESSA" % essa),
                file=sys.stderr, flush=True)
            results.setdefault(name, []).append((boot, work))

    base = {k: statistics.median(v[i] for v in results["upstream"])
            for i, k in enumerate(("boot", "work"))}
    rows = []
    print("%-14s %10s %7s %14s %7s" % ("config", "boot (s)", "ratio",
                                        "workload (s)", "ratio"))
    for name, _, _ in configs(a.cmm, a.upstream):
        boot = statistics.median(b for b, _ in results[name])
        work = statistics.median(w for _, w in results[name])
        rows.append((name, boot, boot / base["boot"], work, work / base["work"]))
        print("%-14s %10.2f %7.2f %14.2f %7.2f" % rows[-1])
    print("(medians of %d rounds; workload: %d x fill and free %d MiB of tmpfs)" % (
        a.rounds, WORK_ROUNDS, WORK_MIB))
    with open(os.path.join(a.outdir, "overhead.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config", "boot_s", "boot_ratio", "workload_s", "workload_ratio"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
