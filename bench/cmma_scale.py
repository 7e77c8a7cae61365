#!/usr/bin/python3
"""Benchmark: what holding a footprint target costs an idle guest, by guest size.

usage: cmma_scale.py --qemu PATH --images DIR --outdir DIR [--sizes 2,8,16]
                     [--seconds N]

For each guest size (GiB): boot a Linux guest with virtio-balloon-ccw
cmma=on, load virtio_balloon, let it settle, and measure QEMU's CPU time
(utime + stime from /proc/PID/stat) over --seconds while the guest idles:
first without a target, then holding a footprint target 64 MiB above the
footprint it has.  Reports percent of one core for both and the difference
(goal: under 1% of a core at 16 GiB).  Writes OUTDIR/scale.csv, scale.md
and scale.png.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guest", "linux"))

import harness  # noqa: E402
from harness import MIB  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def log(text):
    print("cmma-scale: " + text, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def busy(g, seconds):
    """Percent of one core QEMU used over @seconds."""
    c0, t0 = cpu_seconds(g.pid), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(g.pid) - c0) / (time.monotonic() - t0)


def run_one(qemu, images, outdir, gib, seconds):
    g = harness.Guest(qemu, images, "balloon", mem_mib=gib * 1024,
                      args=["-device", "virtio-balloon-ccw,id=b0,cmma=on"],
                      log=os.path.join(outdir, "scale-%d.log" % gib))
    with g:
        g.wait_ready(600)
        rc, out = g.cmd("load_module virtio_balloon")
        if rc:
            raise harness.HarnessError("virtio_balloon: %s" % out)
        time.sleep(10)                      # boot's releases settle
        free = busy(g, seconds)
        fp = g.qmp.execute("query-balloon")["footprint"]
        g.qmp.events.clear()
        g.qmp.execute("balloon-set-target", kind="footprint", target=fp + 64 * MIB)
        g.qmp.wait_event("BALLOON_TARGET_REACHED", 120)
        time.sleep(2)
        held = busy(g, seconds)
        q = g.qmp.execute("query-balloon")
    return {"gib": gib, "free": free, "held": held, "fp": fp // MIB,
            "status": q.get("target", {}).get("status")}


def plot(rows, outdir):
    gp = shutil.which("gnuplot")
    if not gp:
        return None
    data = os.path.join(outdir, "scale.csv")
    png = os.path.join(outdir, "scale.png")
    terms = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo" if "pngcairo" in terms else "png"
    script = "\n".join([
        "set terminal %s size 800,500" % term, 'set output "%s"' % png,
        'set datafile separator ","', "set grid", "set key left top",
        'set xlabel "guest RAM, GiB"', 'set ylabel "QEMU CPU, % of one core"',
        'set title "idle guest: without a target and holding a footprint target"',
        'plot "%s" every ::1 using 1:2 with linespoints lw 2 title "no target", '
        '"%s" every ::1 using 1:3 with linespoints lw 2 title "footprint target held"'
        % (data, data)])
    subprocess.run([gp], input=script, text=True, check=True)
    return png


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--sizes", default="2,8,16")
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rows = []
    for gib in (int(x) for x in a.sizes.split(",")):
        r = run_one(a.qemu, a.images, a.outdir, gib, a.seconds)
        log("%d GiB: %.2f%% without a target, %.2f%% holding one (%s)"
            % (gib, r["free"], r["held"], r["status"]))
        rows.append(r)
    with open(os.path.join(a.outdir, "scale.csv"), "w") as f:
        f.write("gib,no_target_pct,target_pct,footprint_mib\n")
        for r in rows:
            f.write("%d,%.3f,%.3f,%d\n" % (r["gib"], r["free"], r["held"], r["fp"]))
    png = plot(rows, a.outdir)
    lines = ["## Holding a footprint target on an idle guest (%g s each)" % a.seconds, "",
             "| guest GiB | footprint MiB | CPU no target % | CPU target held % "
             "| difference, % of a core | target status |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %d | %d | %.2f | %.2f | %+.2f | %s |" % (
            r["gib"], r["fp"], r["free"], r["held"], r["held"] - r["free"], r["status"]))
    lines += ["", "goal: under 1% of a core above no target at 16 GiB"]
    if png:
        lines.append("plot: %s" % png)
    text = "\n".join(lines)
    with open(os.path.join(a.outdir, "scale.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
