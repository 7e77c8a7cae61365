#!/usr/bin/python3
"""Benchmark: the CMMA discard policies side by side (issue 13).

usage: cmma_policies.py --cmm PATH --upstream PATH --images DIR --outdir DIR
                        [--rounds N] [--configs a,b,...] [--adaptive-delays MS,...]

Configurations: upstream (unpatched), qemu-cmm with cmm=off, and qemu-cmm
with CMMA under the eager, adaptive and lazy policies (plus adaptive with
other discard-delay-ms values, --adaptive-delays, for the trade-off curve).
Each round boots a 2 GiB guest per configuration and times, in the guest:
  alloc/free   3 x fill and free 512 MiB of tmpfs
  small        4000 short processes (fork, exec, exit), then 20 x fill and
               free 8 MiB of tmpfs: small, frequent allocations
then fills 1.5 GiB of tmpfs, deletes it, lets the guest idle and samples the
RSS of the guest's RAM every 100 ms for 10 s: the seconds until 95% of the
1.5 GiB is back with the host.  Medians over the rounds, with ratios to
cmm=off and to upstream.  Writes OUTDIR/policies.csv, policies.md,
policies-rss.png (RSS after the delete) and policies-tradeoff.png (overhead
against seconds to return 95%).
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guest", "linux"))

import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 2048
WORK_MIB = 512
WORK_ROUNDS = 3
RETURN_MIB = 1536
SAMPLE_PERIOD = 0.1
SAMPLE_SECONDS = 10.0
TABLE = "s390-storage_attributes-tcg"

ALLOC_FREE = "for i in %s; do fill_tmpfs /mnt/w %d && drop_tmpfs /mnt/w || exit 1; done" % (
    " ".join(str(i) for i in range(WORK_ROUNDS)), WORK_MIB)
SMALL = ("i=0; while [ $i -lt 4000 ]; do /bin/true; i=$((i+1)); done; "
         "for j in $(seq 20); do fill_tmpfs /mnt/s 8 && drop_tmpfs /mnt/s || exit 1; done")


def log(text):
    print("cmma-policies: " + text, file=sys.stderr, flush=True)


def configs(cmm, upstream, delays):
    out = [("upstream", upstream, []),
           ("cmm=off", cmm, ["-cpu", "qemu,cmm=off,cmmnt=off"]),
           ("eager", cmm, ["-global", "%s.discard=eager" % TABLE]),
           ("adaptive", cmm, ["-global", "%s.discard=adaptive" % TABLE]),
           ("lazy", cmm, ["-global", "%s.discard=lazy" % TABLE])]
    for d in delays:
        out.append(("adaptive-%dms" % d, cmm,
                    ["-global", "%s.discard=adaptive" % TABLE,
                     "-global", "%s.discard-delay-ms=%d" % (TABLE, d)]))
    return out


def timed(g, cmd):
    t0 = time.monotonic()
    rc, out = g.cmd("( %s )" % cmd, timeout=900)
    took = time.monotonic() - t0
    if rc:
        raise harness.HarnessError("workload failed: %s" % out)
    return took


def run_one(name, qemu, args, images, outdir, rnd):
    res = {}
    g = harness.Guest(qemu, images, "balloon", mem_mib=GUEST_MIB, args=args,
                      log=os.path.join(outdir, "policies-%s-%d.log" % (name.replace("=", "-"),
                                                                        rnd)))
    with g:
        g.wait_ready(300)
        res["alloc"] = timed(g, ALLOC_FREE)
        res["small"] = timed(g, SMALL)
        rc, out = g.cmd("fill_tmpfs /mnt/r %d" % RETURN_MIB, timeout=600)
        if rc:
            raise harness.HarnessError("fill failed: %s" % out)
        time.sleep(1)
        before = g.ram_rss()
        sampler = harness.RssSampler(g.pid, SAMPLE_PERIOD, ram_bytes=GUEST_MIB * MIB)
        t0 = time.monotonic()
        sampler.start()
        rc, out = g.cmd("drop_tmpfs /mnt/r", timeout=120)
        time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - t0)))
        raw = sampler.stop()
        samples = [(ts - t0, rss) for ts, rss in raw]
        res["samples"] = samples
        res["t95"] = None
        for ts, rss in samples:
            if before - rss >= 0.95 * RETURN_MIB * MIB:
                res["t95"] = ts
                break
        res["back"] = (before - samples[-1][1]) / MIB
        if name not in ("upstream", "cmm=off"):
            info = g.qmp.execute("query-cmma")
            res["refaulted"] = info.get("refaulted", 0) / MIB
        else:
            res["refaulted"] = 0
    return res


def plot_rss(outdir, results, names):
    gp = shutil.which("gnuplot")
    if not gp:
        log("no gnuplot, no plots")
        return []
    terms = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo" if "pngcairo" in terms else "png"
    data = os.path.join(outdir, "policies-rss.csv")
    with open(data, "w") as f:
        for i, n in enumerate(names):
            if i:
                f.write("\n\n")
            for ts, rss in results[n][-1]["samples"]:
                f.write("%.2f,%d\n" % (ts, rss // MIB))
    png = os.path.join(outdir, "policies-rss.png")
    lines = ["set terminal %s size 1000,600" % term, 'set output "%s"' % png,
             'set datafile separator ","', "set grid", 'set xlabel "seconds after the delete"',
             'set ylabel "guest RAM resident on the host, MiB"',
             'set title "2 GiB guest deletes 1.5 GiB of tmpfs and idles (last round)"',
             "plot " + ", ".join('"%s" index %d using 1:2 with lines lw 2 title "%s"'
                                 % (data, i, n) for i, n in enumerate(names))]
    subprocess.run([gp], input="\n".join(lines), text=True, check=True)
    pngs = [png]

    pts = os.path.join(outdir, "policies-tradeoff.csv")
    with open(pts, "w") as f:
        for n in names:
            if n in ("upstream", "cmm=off"):
                continue
            t95 = med(results[n], "t95")
            over = med(results[n], "alloc") / med(results["cmm=off"], "alloc")
            f.write("%s,%.3f,%.3f\n" % (n, t95 if t95 is not None else SAMPLE_SECONDS, over))
    png = os.path.join(outdir, "policies-tradeoff.png")
    lines = ["set terminal %s size 900,600" % term, 'set output "%s"' % png,
             'set datafile separator ","', "set grid",
             'set xlabel "seconds to return 95%% of 1.5 GiB (%g = never)"' % SAMPLE_SECONDS,
             'set ylabel "alloc/free time / cmm=off"',
             "set arrow from graph 0, first 1.05 to graph 1, first 1.05 nohead dt 2",
             "set arrow from 2, graph 0 to 2, graph 1 nohead dt 2",
             'plot "%s" using 2:3:1 with labels point pt 7 offset char 1,1 notitle' % pts]
    subprocess.run([gp], input="\n".join(lines), text=True, check=True)
    return pngs + [png]


def med(rs, key):
    vals = [r[key] for r in rs if r[key] is not None]
    if len(vals) < len(rs):
        return None        # never returned in some round: no time
    return statistics.median(vals)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmm", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--configs", default="")
    ap.add_argument("--adaptive-delays", default="")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    delays = [int(d) for d in a.adaptive_delays.split(",") if d]
    cfgs = configs(a.cmm, a.upstream, delays)
    if a.configs:
        want = a.configs.split(",") + ["cmm=off"]
        cfgs = [c for c in cfgs if c[0] in want]
    names = [c[0] for c in cfgs]

    results = {}
    for rnd in range(a.rounds):
        for name, qemu, args in cfgs:
            r = run_one(name, qemu, args, a.images, a.outdir, rnd)
            log("round %d %-14s alloc/free %.2f s, small %.2f s, 95%% back %s, "
                "refaulted %d MiB" % (rnd + 1, name, r["alloc"], r["small"],
                                      "%.1f s" % r["t95"] if r["t95"] is not None else "never",
                                      r["refaulted"]))
            results.setdefault(name, []).append(r)

    off = {k: med(results["cmm=off"], k) for k in ("alloc", "small")}
    up = {k: med(results["upstream"], k) for k in ("alloc", "small")} \
        if "upstream" in results else None
    rows = ["| policy | alloc/free s | vs cmm=off | vs upstream | small s | vs cmm=off "
            "| vs upstream | 95% of 1.5 GiB back | back after 10 s MiB | refaulted MiB |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    with open(os.path.join(a.outdir, "policies.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["policy", "alloc_s", "alloc_vs_off", "small_s", "small_vs_off",
                    "t95_s", "back_mib", "refaulted_mib"])
        for n in names:
            rs = results[n]
            al, sm, t95 = med(rs, "alloc"), med(rs, "small"), med(rs, "t95")
            back, rf = med(rs, "back"), med(rs, "refaulted")
            w.writerow([n, "%.2f" % al, "%.3f" % (al / off["alloc"]), "%.2f" % sm,
                        "%.3f" % (sm / off["small"]),
                        "" if t95 is None else "%.2f" % t95, "%.0f" % back, "%.0f" % rf])
            rows.append("| %s | %.2f | %.3f | %s | %.2f | %.3f | %s | %s | %.0f | %.0f |" % (
                n, al, al / off["alloc"], "%.3f" % (al / up["alloc"]) if up else "-",
                sm, sm / off["small"], "%.3f" % (sm / up["small"]) if up else "-",
                "never" if t95 is None else "%.1f s" % t95, back, rf))
    pngs = plot_rss(a.outdir, results, names)
    text = "\n".join(["## CMMA discard policies (2 GiB guest, medians of %d rounds)" % a.rounds,
                      "", *rows, "",
                      "goals: alloc/free <= 1.05x cmm=off, small <= 1.03x, "
                      "95% back within 2 s"] + ["plot: %s" % p for p in pngs])
    with open(os.path.join(a.outdir, "policies.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
