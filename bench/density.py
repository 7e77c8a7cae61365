#!/usr/bin/python3
"""Density: how many guests fit in one host budget, per memory policy.

usage: density.py --cmm QEMU --upstream QEMU --images DIR --outdir DIR
                  [--budget MIB] [--start N] [--max N] [--compare N]

A memory cgroup whose limit is the budget holds every QEMU of a trial (the host
has no swap), so going over is a real OOM kill.  Each of N guests (1 GiB of RAM,
a disk read into 256 MiB of page cache) idles, then in turn holds a 384 MiB
burst (tmpfs, content checked) for a few seconds and frees it; bursts start
BURST_GAP seconds apart, so the sum of the bursts is far above the budget but
what is in use at one time fits.  Policies, same workload, same budget:

  none  unpatched upstream QEMU, no manager;
  mom   unpatched upstream, qemu-cmmd in its MOM mode (oVirt MOM's balloon
        rules: host pressure below 20% free, guest free target 20%, at most 5%
        of the balloon per tick, changes under 0.25% skipped, logical balloon);
  cmm   qemu-cmm (cmma=on balloons), qemu-cmmd in its cmm mode, watermarks
        at 70% and 80% of the budget (MOM acts at 80%);
  free  qemu-cmm without a manager and without a limit: the unconstrained
        reference for completion times.

Each policy starts one above the largest N the policy before it sustained
(they run weakest first) and goes up until it first loses a guest (a QEMU OOM-killed, a
guest OOM kill, or a burst that fails), or down until it loses none, within
--start..--max.  The table has one row per trial; the last lines give the
largest N each sustained and the ratios.  Completion times are compared with
one unconstrained run at --compare guests.  OUTDIR/density/ gets density.csv,
density.md, density.png (every QEMU's RSS, the cgroup usage and the budget
over time, for each policy's largest sustained N and its first loss) and the
logs.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "guest", "linux"))

import fleet  # noqa: E402
import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 1024
DISK_MIB = 320
CACHE_MIB = 256
BURST_MIB = 384
HOLD_S = 6
BURST_GAP = 12
TICK = "1s"


def log(text=""):
    print(text, flush=True)


class Cgroup:
    """A memory cgroup with a hard limit and no swap, v2 or v1."""

    def __init__(self, name, limit):
        v2root = "/sys/fs/cgroup"
        ctl = os.path.join(v2root, "cgroup.controllers")
        if os.path.exists(ctl) and "memory" in open(ctl).read().split():
            self.version = 2
            self.path = os.path.join(v2root, name)
        elif os.path.isdir(os.path.join(v2root, "memory")):
            self.version = 1
            self.path = os.path.join(v2root, "memory", name)
        else:
            raise SystemExit("density: no memory cgroup controller here")
        if os.path.isdir(self.path):
            self.remove()
        os.mkdir(self.path)
        if self.version == 2:
            self._write("memory.max", limit)
            self._write("memory.swap.max", 0, optional=True)
        else:
            self._write("memory.limit_in_bytes", limit)
            self._write("memory.memsw.limit_in_bytes", limit, optional=True)
        self.procs = os.path.join(self.path, "cgroup.procs")

    def _write(self, f, v, optional=False):
        try:
            with open(os.path.join(self.path, f), "w") as fh:
                fh.write("%d\n" % v)
        except OSError:
            if not optional:
                raise

    def usage(self):
        f = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        with open(os.path.join(self.path, f)) as fh:
            return int(fh.read())

    def oom_kills(self):
        f = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            with open(os.path.join(self.path, f)) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
        except OSError:
            pass
        return 0

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


class Trial:
    def __init__(self, policy, n, args, outdir):
        self.policy, self.n, self.args = policy, n, args
        self.dir = os.path.join(outdir, "%s-%d" % (policy, n))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.budget = args.budget * MIB
        self.samples = []           # (t, usage, {name: rss})
        self.done = {}              # name -> completion seconds, or None
        self.guest_ooms = 0
        self.qemu_killed = 0
        self.failed_bursts = 0

    def run(self):
        p, a = self.policy, self.args
        qemu = a.cmm if p in ("cmm", "free") else a.upstream
        balloon = fleet.CMM_BALLOON if p in ("cmm", "free") else \
            "virtio-balloon-ccw,deflate-on-oom=on"
        cg = None if p == "free" else Cgroup("qemu-cmm-density", self.budget)
        guests, daemon = {}, None
        try:
            for i in range(self.n):
                name = "d%02d" % i
                g = fleet.new_guest(
                    lambda **kw: harness.Guest(qemu, a.images,
                                               log=os.path.join(self.dir, name + ".log"),
                                               cgroup_procs=cg.procs if cg else None, **kw),
                    name, self.dir, mem_mib=GUEST_MIB, disk_mib=DISK_MIB,
                    balloon=balloon, drive_opts=",cache=none")
                g.start()
                guests[name] = g
            for g in guests.values():
                fleet.prepare(g, CACHE_MIB, timeout=300)
            if p in ("mom", "cmm"):
                conf = fleet.write_config(os.path.join(self.dir, "cmmd.conf"), {
                    # cmm acts at 80% of the budget, where MOM's pressure
                    # threshold (20% free) is: a burst of hundreds of MiB a
                    # second needs that room under a hard limit
                    "host": {"budget": "cgroup:%s" % cg.path, "policy": p, "tick": TICK,
                             "psi-threshold": "0", "low-watermark": "70%",
                             "high-watermark": "80%"},
                    "daemon": {"sockets": os.path.join(self.dir, "*.qmp"),
                               "control": os.path.join(self.dir, "cmmd.sock"),
                               "stats-interval": "1"},
                })
                # the daemon is qemu-cmm's, whatever QEMU the guests run
                daemon = fleet.Daemon(a.cmm, conf, os.path.join(self.dir, "cmmd.sock"),
                                      os.path.join(self.dir, "cmmd.log")).start()
                time.sleep(8)       # a few ticks with the guests' statistics
            self.workload(guests, cg)
        finally:
            if daemon:
                daemon.stop()
            for g in guests.values():
                if g.alive():
                    self.guest_ooms += max(0, fleet.oom_kills(g)) if _answers(g) else 0
                    self.guest_ooms += sum("oom-killer" in l for l in g.kernel_trouble())
                elif g.proc is not None and g.proc.returncode == -9:
                    self.qemu_killed += 1
                g.close(timeout=10)
            if cg:
                self.cgroup_ooms = cg.oom_kills()
                cg.remove()
        return self

    def workload(self, guests, cg):
        stop = threading.Event()
        t0 = time.monotonic()

        def sampler():
            while not stop.is_set():
                rss = {}
                for name, g in guests.items():
                    try:
                        rss[name] = harness.rss_of(g.pid) if g.alive() else 0
                    except (OSError, harness.HarnessError):
                        rss[name] = 0
                usage = cg.usage() if cg else sum(rss.values())
                self.samples.append((time.monotonic() - t0, usage, rss))
                stop.wait(0.5)
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        threads = []
        for i, (name, g) in enumerate(guests.items()):
            th_g = threading.Thread(target=self.burst, args=(name, g, t0 + i * BURST_GAP),
                                    daemon=True)
            th_g.start()
            threads.append(th_g)
        for th_g in threads:
            th_g.join()
        time.sleep(5)
        stop.set()
        th.join()

    def burst(self, name, g, at):
        time.sleep(max(0, at - time.monotonic()))
        t = time.monotonic()
        try:
            rc, out = g.cmd("burst_start %d" % BURST_MIB, timeout=600)
            if rc == 0:
                time.sleep(HOLD_S)
                rc, out = g.cmd("burst_end 64", timeout=600)
        except (harness.HarnessError, OSError):
            rc = -1                 # its QEMU was killed under it
        if rc == 0:
            self.done[name] = time.monotonic() - t - HOLD_S
        else:
            self.done[name] = None
            self.failed_bursts += 1

    def lost(self):
        return self.qemu_killed + self.guest_ooms + self.failed_bursts

    def row(self, ref):
        times = [v for v in self.done.values() if v is not None]
        med = statistics.median(times) if times else float("nan")
        mx = max(times) if times else float("nan")
        peak = max((u for _, u, _ in self.samples), default=0)
        dt = [self.samples[i + 1][0] - self.samples[i][0]
              for i in range(len(self.samples) - 1)]
        at = sum(d for d, (_, u, _) in zip(dt, self.samples) if u >= 0.99 * self.budget)
        over = sum(d for d, (_, u, _) in zip(dt, self.samples) if u >= 0.95 * self.budget)
        return {
            "policy": self.policy, "N": self.n,
            "qemu_oom_killed": self.qemu_killed, "guest_oom_kills": self.guest_ooms,
            "failed_bursts": self.failed_bursts,
            "median_s": round(med, 1), "max_s": round(mx, 1),
            "median_vs_free": round(med / ref, 2) if ref else "",
            "peak_mib": peak // MIB, "budget_mib": self.budget // MIB,
            "s_at_budget": round(at, 1), "s_over_95pct": round(over, 1),
        }


def _answers(g):
    try:
        g.cmd("true", timeout=20)
        return True
    except harness.HarnessError:
        return False


def write_rss_csv(tr):
    """One trial's samples: time, cgroup usage, every QEMU's RSS (MiB)."""
    data = os.path.join(tr.dir, "rss.csv")
    names = sorted(tr.samples[-1][2]) if tr.samples else []
    with open(data, "w") as f:
        f.write(",".join(["t", "total"] + names) + "\n")
        for t, u, rss in tr.samples:
            f.write(",".join(["%.1f" % t, str(u // MIB)] +
                             [str(rss.get(n, 0) // MIB) for n in names]) + "\n")
    return data


def plot(panels, outdir):
    """panels: (title, rss.csv path, budget MiB), one plot each, stacked."""
    gp = shutil.which("gnuplot")
    if not gp or not panels:
        log("density: no gnuplot or no trial, no plot")
        return None
    terms = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo" if "pngcairo" in terms else "png"
    png = os.path.join(outdir, "density.png")
    lines = ["set terminal %s size 1400,%d" % (term, 380 * len(panels)),
             'set output "%s"' % png, 'set datafile separator ","',
             "set multiplot layout %d,1" % len(panels), "set grid",
             'set ylabel "MiB"', 'set xlabel "seconds"', "set key outside right"]
    for title, data, budget in panels:
        with open(data) as f:
            names = f.readline().strip().split(",")[2:]
        plots = ['"%s" using 1:2 with lines lw 3 title "cgroup usage"' % data,
                 '%d with lines lw 2 dt 2 title "budget"' % budget]
        plots += ['"%s" using 1:%d with lines title "%s"' % (data, 3 + i, n)
                  for i, n in enumerate(names)]
        lines += ['set title "%s"' % title.replace('"', "'"), "plot " + ", ".join(plots)]
    lines.append("unset multiplot")
    subprocess.run([gp], input="\n".join(lines), text=True, check=True)
    return png


def panel_title(policy, n, lost):
    return ("%s, N=%d: the RSS of every QEMU and the cgroup usage (%s)"
            % (policy, n, "no guest lost" if not lost else "%d lost" % lost))


def report(rows, best, panels, outdir):
    """density.md and density.png from the rows; print the table."""
    md = ["| policy | N | QEMU OOM-killed | guest OOM kills | failed bursts | median s | "
          "max s | median vs free | peak MiB | budget MiB | s at budget | s over 95% |",
          "|" + "---|" * 12]
    md += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
    md += ["", "Largest N with no guest lost: " +
           ", ".join("%s %d" % (p, n) for p, n in best.items())]
    if best.get("cmm"):
        for p in ("mom", "none"):
            if p in best:
                md.append("cmm / %s: %s" % (p, "%.2fx" % (best["cmm"] / best[p])
                                             if best[p] else "no %s trial kept every guest" % p))
    png = plot(panels, outdir)
    if png:
        md += ["", "Plot: %s" % png]
    text = "\n".join(md)
    with open(os.path.join(outdir, "density.md"), "w") as f:
        f.write(text + "\n")
    log()
    log(text)


def report_only(outdir):
    """Rebuild density.md and the plot from density.csv and the trials' rss.csv."""
    with open(os.path.join(outdir, "density.csv")) as f:
        rows = list(csv.DictReader(f))
    best, panels = {}, []
    for r in rows:
        p, n = r["policy"], int(r["N"])
        lost = int(r["qemu_oom_killed"]) + int(r["guest_oom_kills"]) + int(r["failed_bursts"])
        if p != "free":
            best.setdefault(p, 0)
            if not lost:
                best[p] = max(best[p], n)
        data = os.path.join(outdir, "%s-%d" % (p, n), "rss.csv")
        if os.path.exists(data):
            panels.append((panel_title(p, n, lost), data, int(r["budget_mib"])))
    report(rows, best, panels, outdir)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmm")
    ap.add_argument("--upstream")
    ap.add_argument("--images")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--budget", type=int, default=2048, help="MiB (default 2048)")
    ap.add_argument("--start", type=int, default=2)
    ap.add_argument("--max", type=int, default=8)
    ap.add_argument("--compare", type=int, default=4,
                    help="the N of the unconstrained reference run")
    ap.add_argument("--policies", default="none,mom,cmm")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild density.md and the plot from an earlier run")
    args = ap.parse_args()
    outdir = os.path.abspath(os.path.join(args.outdir, "density"))
    os.makedirs(outdir, exist_ok=True)
    if args.report_only:
        report_only(outdir)
        return
    harness.exit_on_sigterm()

    log("density: budget %d MiB; guests of %d MiB, %d MiB page cache, a %d MiB burst "
        "held %d s, one every %d s" % (args.budget, GUEST_MIB, CACHE_MIB, BURST_MIB,
                                       HOLD_S, BURST_GAP))
    # the unconstrained reference at the compared N
    ref_trial = Trial("free", args.compare, args, outdir).run()
    ref_times = [v for v in ref_trial.done.values() if v is not None]
    ref = statistics.median(ref_times) if ref_times else None
    log("free (no limit, no manager), N=%d: median burst %.1f s" % (args.compare, ref or 0))
    rows, best, plotted = [ref_trial.row(ref)], {}, []
    start = args.start - 1
    for policy in args.policies.split(","):
        # each policy starts where the one before it stopped (they are listed
        # weakest first), goes up until it loses a guest, or down until not
        n = max(args.start, start + 1)
        tried, last_ok, first_lost = {}, None, None
        while args.start <= n <= args.max and n not in tried:
            tr = Trial(policy, n, args, outdir).run()
            tried[n] = tr
            r = tr.row(ref)
            rows.append(r)
            log("  %-5s N=%-2d lost %d (QEMU killed %d, guest OOM %d, failed %d); "
                "median %.1f s, peak %d of %d MiB, %.0f s at the budget"
                % (policy, n, tr.lost(), tr.qemu_killed, tr.guest_ooms, tr.failed_bursts,
                   r["median_s"], r["peak_mib"], r["budget_mib"], r["s_at_budget"]))
            if tr.lost():
                first_lost = tr
                if last_ok is not None:
                    break
                n -= 1
            else:
                last_ok = tr
                if first_lost is not None:
                    break
                n += 1
        best[policy] = last_ok.n if last_ok else args.start - 1
        start = best[policy]
        plotted += [t for t in (last_ok, first_lost) if t]
    with open(os.path.join(outdir, "density.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    panels = [(panel_title(t.policy, t.n, t.lost()), write_rss_csv(t), t.budget // MIB)
              for t in plotted]
    report(rows, best, panels, outdir)


if __name__ == "__main__":
    main()
