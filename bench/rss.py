#!/usr/bin/python3
"""Benchmark: how fast freed guest memory returns to the host, qemu-cmm vs upstream.

usage: rss.py --binary LABEL=PATH [--binary LABEL=PATH ...] --images DIR --outdir DIR

For each binary, in turn: boot a 2 GiB guest with virtio-balloon-ccw (time to the
CMM-READY marker), fill 1.5 GiB of tmpfs with dd, delete it and sample QEMU's RSS
every 100 ms for 30 s from the delete; then balloon to 512 MiB and back to 2048 MiB,
timing each until query-balloon's actual reaches the value.

Writes OUTDIR/rss-LABEL.csv (raw samples), OUTDIR/results.csv (the table),
OUTDIR/rss.png (gnuplot, one line per binary) and prints the table.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "guest", "linux"))

import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 2048
FILL_MIB = 1536
LOW_MIB = 512
SAMPLE_PERIOD = 0.1
SAMPLE_SECONDS = 30.0
BALLOON_TIMEOUT = 600       # only a guard against a hang, never a pass/fail limit
RETURNED_AT = (1.0, 2.0, 30.0)


def log(text):
    print(text, file=sys.stderr, flush=True)


def rss_at(samples, t):
    """RSS of the first sample at or after t seconds (the last one if none)."""
    for ts, rss in samples:
        if ts >= t - 1e-9:
            return rss
    return samples[-1][1]


def run_one(label, qemu, images, outdir):
    res = {}
    g = harness.Guest(qemu, images, "balloon", mem_mib=GUEST_MIB,
                      args=["-device", "virtio-balloon-ccw,id=b0"],
                      log=os.path.join(outdir, "log-%s.txt" % label))
    with g:
        res["boot"] = g.wait_ready(180)
        rc, out = g.cmd("load_module virtio_balloon")
        if rc:
            raise harness.HarnessError("virtio_balloon did not load: %s" % out)
        rc, out = g.cmd("fill_tmpfs /mnt/fill %d" % FILL_MIB, timeout=600)
        if rc:
            raise harness.HarnessError("fill failed: %s" % out)
        res["rss_full"] = g.rss()

        sampler = harness.RssSampler(g.pid, SAMPLE_PERIOD)
        t0 = time.monotonic()
        sampler.start()
        rc, out = g.cmd("drop_tmpfs /mnt/fill", timeout=120)
        if rc:
            sampler.stop()
            raise harness.HarnessError("delete failed: %s" % out)
        time.sleep(max(0.0, SAMPLE_SECONDS + 2 * SAMPLE_PERIOD - (time.monotonic() - t0)))
        raw = sampler.stop()
        samples = [(ts - t0, rss) for ts, rss in raw if ts - t0 <= SAMPLE_SECONDS + 1e-6]
        base = samples[0][1]
        res["samples"] = samples
        res["rss_delete"] = base
        for t in RETURNED_AT:
            res["returned_%g" % t] = base - rss_at(samples, t)

        res["down"] = g.balloon_to(LOW_MIB * MIB, BALLOON_TIMEOUT)
        res["rss_low"] = g.rss()
        res["up"] = g.balloon_to(GUEST_MIB * MIB, BALLOON_TIMEOUT)
    if g.exit_status != 0:
        log("bench: %s exited with status %s" % (label, g.exit_status))

    with open(os.path.join(outdir, "rss-%s.csv" % label), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "rss_mib"])
        for t, rss in res["samples"]:
            w.writerow(["%.3f" % t, "%.1f" % (rss / MIB)])
    return res


def ratio(a, b):
    if b is None or a is None or abs(b) < 1e-9:
        return "-"
    return "%.2f" % (a / b)


def table(labels, results):
    rows = [("boot to CMM-READY (s)", "boot", 1, "%.2f")]
    rows.append(("RSS after fill (MiB)", "rss_delete", MIB, "%.0f"))
    for t in RETURNED_AT:
        rows.append(("RSS returned %gs after delete (MiB)" % t, "returned_%g" % t, MIB,
                     "%.0f"))
    rows += [("balloon 2048->512 MiB (s)", "down", 1, "%.2f"),
             ("RSS at 512 MiB (MiB)", "rss_low", MIB, "%.0f"),
             ("balloon 512->2048 MiB (s)", "up", 1, "%.2f")]
    out = []
    for name, key, scale, fmt in rows:
        vals = [results[l][key] / scale for l in labels]
        cells = [fmt % v for v in vals]
        cells = [c[1:] if c.startswith("-") and not c.strip("-0.") else c
                 for c in cells]                                  # no "-0"
        r = ratio(vals[0], vals[1]) if len(vals) == 2 else ""
        # RSS differences within 16 MiB are noise; a ratio of two such numbers says nothing
        if key.startswith("returned") and len(vals) == 2 and abs(vals[1]) < 16:
            r = "-"
        out.append([name] + cells + ([r] if len(vals) == 2 else []))
    return out


def plot(labels, outdir):
    gp = shutil.which("gnuplot")
    if not gp:
        log("bench: no gnuplot, skipping the plot (scripts/deps.sh bench)")
        return None
    terms = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo size 900,540" if "pngcairo" in terms else "png size 900,540"
    png = os.path.join(outdir, "rss.png")
    # dashed lines after the first, so that equal curves stay visible
    plots = ", ".join("'%s' using 1:2 with lines lw 2 dt %d title '%s'"
                      % (os.path.join(outdir, "rss-%s.csv" % l), 1 + 2 * (i > 0), l)
                      for i, l in enumerate(labels))
    script = "\n".join([
        "set terminal %s" % term,
        "set output '%s'" % png,
        "set datafile separator ','",
        "set key autotitle columnhead",
        "set title 'QEMU RSS after the guest deletes %d MiB of tmpfs (%d MiB guest, TCG)'"
        % (FILL_MIB, GUEST_MIB),
        "set xlabel 'seconds since delete'",
        "set ylabel 'QEMU RSS (MiB)'",
        "set yrange [0:*]",
        "set grid",
        "set key bottom right",
        "plot " + plots,
    ])
    subprocess.run([gp], input=script, text=True, check=True)
    return png


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append", required=True, metavar="LABEL=PATH")
    ap.add_argument("--images", default=os.path.join(ROOT, "build/guest"))
    ap.add_argument("--outdir", default=os.path.join(ROOT, "build/bench"))
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    binaries = []
    for b in args.binary:
        label, _, path = b.partition("=")
        if not path or not os.access(path, os.X_OK):
            sys.exit("bench: bad --binary %r (want LABEL=PATH to an executable)" % b)
        binaries.append((label, os.path.abspath(path)))
    labels = [l for l, _ in binaries]

    results = {}
    for label, path in binaries:
        log("bench: %s (%s)" % (label, os.path.relpath(path)))
        results[label] = run_one(label, path, args.images, args.outdir)

    head = ["metric"] + labels + (["ratio"] if len(labels) == 2 else [])
    rows = table(labels, results)
    with open(os.path.join(args.outdir, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                        for i, c in enumerate(r)))
    png = plot(labels, args.outdir)
    print("raw samples: %s" % ", ".join(os.path.relpath(os.path.join(
        args.outdir, "rss-%s.csv" % l)) for l in labels))
    if png:
        print("plot: %s" % os.path.relpath(png))
    return 0


if __name__ == "__main__":
    harness.exit_on_sigterm()
    try:
        sys.exit(main())
    except harness.HarnessError as e:
        sys.exit("bench: %s" % e)
