#!/usr/bin/python3
"""The `make demo` stage of qemu-cmmd: three guests share a host budget and the
daemon moves memory between them while one of them bursts.

Three 768 MiB Debian s390x guests (balloon with cmma=on, 300 MiB of page cache
each) get a budget 250 MiB above what they cost idle.  g1 then writes 400 MiB to
a tmpfs it cannot give up; the daemon takes page cache from g2 and g3 instead
(g2: weight 64, floor 150M; g3: weight 192), and gives it back when the burst
is over.  cmmstat's table is printed as it goes.

usage: demo_cmmd.py --qemu PATH --images DIR [--log FILE]

Besides FILE (this narration), the guests log to FILE's name with -g1, -g2, -g3
and the daemon to demo-cmmd-daemon.log in the same directory.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)

import fleet  # noqa: E402
import harness  # noqa: E402
from harness import MIB  # noqa: E402

NAMES = ("g1", "g2", "g3")
GUEST_MIB = 768
DISK_MIB = 384
CACHE_MIB = 300
HEADROOM_MIB = 250
BURST_MIB = 400
G2_FLOOR_MIB = 150
BOOT_TIMEOUT = 180
BURST_TIMEOUT = 300
EVERY = 3.0             # seconds between two tables
SAMPLE = 0.5            # seconds between two status samples

_logf = None


class DemoError(Exception):
    pass


def say(text=""):
    print(text, flush=True)
    if _logf:
        _logf.write(text + "\n")
        _logf.flush()


def indent(text, pre="  "):
    return "\n".join(pre + l for l in text.rstrip("\n").splitlines())


def mib(n):
    return n // MIB


class Watch:
    """The daemon's status, sampled by the main thread, and cmmstat's table."""

    def __init__(self, d):
        self.d = d
        self.samples = []           # (monotonic time, status document)
        self.tables = 0
        self.shown = None           # the picture of the last table printed
        self.arm(time.monotonic(), "")

    def sample(self):
        try:
            st = self.d.status()
        except (harness.HarnessError, ValueError, OSError,
                subprocess.TimeoutExpired):
            return None
        self.samples.append((time.monotonic(), st))
        return st

    def last(self):
        return self.samples[-1][1] if self.samples else None

    def table(self, label):
        self.tables += 1
        self.shown = self.picture(self.last()) if self.samples else None
        say("\n[%s]" % label)
        say(indent(self.d.table()))

    @staticmethod
    def picture(st):
        """What a person reading the table would see change."""
        return (bool(st.get("squeezing")),) + tuple(
            (g.get("target"), g.get("target-status"), g.get("last-action"),
             g.get("footprint", 0) // (32 * MIB)) for g in st["guests"])

    def arm(self, t0, label, regular=0.0):
        """Start a series of tables, timed from t0 and labelled label: one
        every EVERY seconds for the first `regular` seconds, after that only
        when the picture changed (or every 4 * EVERY)."""
        self.t0 = t0
        self.label = label
        self.regular_until = t0 + regular
        self.next_table = time.monotonic() + EVERY
        self.last_table = time.monotonic()
        self.series = 0

    def follow(self, busy=None, seconds=None, until=None, max_tables=0):
        """Sample until busy() is false (a guest command running in a thread),
        or until(status) is true, or seconds have passed; meanwhile print
        tables, up to max_tables in the series."""
        start = time.monotonic()
        while True:
            st = self.sample()
            now = time.monotonic()
            if until and st and until(st):
                return True
            if busy is not None and not busy():
                return True
            if seconds is not None and now - start >= seconds:
                return until is None
            if st and self.series < max_tables and now >= self.next_table and \
                    (now < self.regular_until or self.picture(st) != self.shown or
                     now - self.last_table >= 4 * EVERY):
                self.table("t+%.0fs %s" % (now - self.t0, self.label))
                self.series += 1
                self.last_table = now
                self.next_table = now + EVERY
            time.sleep(max(0.0, SAMPLE - (time.monotonic() - now)))


def in_background(g, line, timeout):
    """Run one guest command in a thread (which does nothing else)."""
    res = {}

    def run():
        try:
            res["rc"], res["out"] = g.cmd(line, timeout=timeout)
        except harness.HarnessError as e:
            res["error"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, res


def check_result(what, res):
    if "error" in res:
        raise DemoError("%s: %s" % (what, res["error"]))
    if res.get("rc") != 0:
        raise DemoError("%s failed (exit status %s):\n%s"
                        % (what, res.get("rc"), indent("\n".join(res.get("out", [])))))


def decision_lines(text):
    """The daemon's decision lines in text, without their timestamp."""
    out = []
    for l in text.splitlines():
        if "decision" in l:
            out.append(re.sub(r"^.*?qemu-cmmd: ", "", l))
    return out


def seconds_over(samples, key):
    """How long the usage was above the watermark key, from the samples."""
    total = 0.0
    for (t, st), (t_next, _) in zip(samples, samples[1:]):
        if st["usage"] > st[key]:
            total += t_next - t
    return total


def boot(qemu, images, logbase, sockdir):
    guests = {}
    for name in NAMES:
        glog = "%s-%s.log" % (logbase, name)
        g = fleet.new_guest(
            lambda glog=glog, **kw: harness.Guest(qemu, images, log=glog, **kw),
            name, sockdir, mem_mib=GUEST_MIB, disk_mib=DISK_MIB)
        guests[name] = g
        g.start()
    # each guest's own thread runs its cmd; QEMU was started from this one
    errors = {}

    def prep(name, g):
        try:
            fleet.prepare(g, CACHE_MIB, timeout=BOOT_TIMEOUT)
        except harness.HarnessError as e:
            errors[name] = e
    ths = [threading.Thread(target=prep, args=(n, g), daemon=True)
           for n, g in guests.items()]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    return guests, errors


def demo(args, workdir, sockdir, logbase):
    t_start = time.monotonic()
    say("\nbooting three %d MiB guests g1 g2 g3 (virtio-balloon-ccw,cmma=on); each "
        "reads %d MiB of its disk into its page cache ..." % (GUEST_MIB, CACHE_MIB))
    guests, errors = boot(args.qemu, args.images, logbase, sockdir)
    try:
        if errors:
            raise DemoError("; ".join("%s: %s" % kv for kv in sorted(errors.items())))
        time.sleep(2)
        rss = {n: g.rss() for n, g in guests.items()}
        idle = sum(rss.values())
        say("  ready after %.0f s; what they cost the host idle (RSS of the QEMUs): %s "
            "= %d MiB" % (time.monotonic() - t_start,
                          " + ".join("%d" % mib(r) for r in rss.values()), mib(idle)))
        run_daemon(args, guests, workdir, sockdir, idle)
    finally:
        for g in guests.values():
            g.close()


def run_daemon(args, guests, workdir, sockdir, idle):
    budget = idle + HEADROOM_MIB * MIB
    control = os.path.join(workdir, "cmmd.sock")
    conf = fleet.write_config(os.path.join(workdir, "cmmd.conf"), {
        "host": {"budget": "%dM" % mib(budget), "tick": "1s"},
        "daemon": {"sockets": os.path.join(sockdir, "*.qmp"), "control": control},
        "guest g2": {"weight": 64, "floor": "%dM" % G2_FLOOR_MIB},
        "guest g3": {"weight": 192},
    })
    say("\nqemu-cmmd gets a budget %d MiB above that: g1 alone cannot burst by %d MiB "
        "unless g2 and g3 give up page cache. Its configuration (the rest is default: "
        "watermarks 90%%/95%% of the budget, 128 MiB/s per guest, weight 128):"
        % (HEADROOM_MIB, BURST_MIB))
    with open(conf) as f:
        say(indent(f.read(), "    "))
    dlog = os.path.join(os.path.dirname(os.path.abspath(args.log)), "demo-cmmd-daemon.log")
    if os.path.exists(dlog):
        os.unlink(dlog)
    d = fleet.Daemon(args.qemu, conf, control, dlog)
    d.start()
    try:
        show(d, guests, budget)
    finally:
        rc = d.stop()
    say("\nqemu-cmmd stopped (exit status %s); its log: %s" % (rc, os.path.relpath(dlog)))


def show(d, guests, budget):
    w = Watch(d)

    def all_in(st):
        gs = [d.guest(n, st) or {} for n in guests]
        return all(g.get("responsive") and "available" in g for g in gs)
    st = fleet.wait_for(lambda: (lambda s: s if s and all_in(s) else None)(w.sample()), 60,
                        period=SAMPLE)
    if not st:
        raise DemoError("the daemon did not get every guest's statistics in 60 s:\n"
                        + indent(d.table()))
    say("\nthe daemon found the guests by their QMP sockets and reads their balloon "
        "statistics. `cmmstat`:")
    say(indent(d.table()))
    say("""
  The first line is the host: budget, what the guests cost now (usage) and the
  low/high watermarks. Per guest, in MiB: RAM; LOGIC, RAM less the balloon;
  FOOTPR, guest RAM resident on the host; TARGET, the footprint target the daemon
  set (- while none); STATUS of that target; UNUSED, pages the guest freed that
  are still resident; DISCRD, given back to the host; BALLN, in the balloon; WT
  and FLOOR from the configuration; PRESS, ticks in which the guest showed memory
  pressure; then the daemon's last command to the guest and why.""")
    time.sleep(3)

    # ---- the burst ---------------------------------------------------------
    g1 = guests["g1"]
    high = st["high"]
    say("\ng1 writes %d MiB to a tmpfs (memory in use: without swap it cannot give it "
        "up) ..." % BURST_MIB)
    before = w.sample() or st
    first = len(w.samples) - 1
    mark = len(d.log())
    t0 = time.monotonic()
    th, res = in_background(g1, "burst_start %d" % BURST_MIB, BURST_TIMEOUT)
    w.arm(t0, "g1 bursting", regular=5 * EVERY + 1)
    w.follow(th.is_alive, max_tables=7)
    th.join()
    check_result("g1's burst", res)
    took = time.monotonic() - t0
    say("\ng1 holds its %d MiB burst (written in %.0f s)"
        % (BURST_MIB, took))
    w.label = "g1 holds its burst"

    def settled(s):
        return time.monotonic() - t0 >= 5 * EVERY + 1 and \
            s["usage"] <= s["high"] and not s.get("squeezing") and \
            all(g.get("target-status") != "active" for g in s["guests"])
    w.follow(seconds=45, until=settled, max_tables=7)
    time.sleep(1)
    after = w.sample() or w.last()
    if w.picture(after) != w.shown:
        w.table("t+%.0fs g1 holds its burst" % (time.monotonic() - t0))
    fp = lambda s, n: mib((d.guest(n, s) or {}).get("footprint", 0))  # noqa: E731
    say("  footprints before -> now: %s MiB"
        % ", ".join("%s %d -> %d" % (n, fp(before, n), fp(after, n)) for n in guests))
    g1_gave = mib((d.guest("g1", after) or {}).get("ballooned", 0))
    say("  g2 and g3 gave page cache to their balloons (BALLN) down to their targets%s; "
        "g1 keeps its burst%s"
        % (", g3 (weight 192) keeping more than g2 (weight 64)"
           if fp(after, "g3") > fp(after, "g2") else "",
           " and gave %d MiB of its own page cache" % g1_gave if g1_gave else ""))

    lines = decision_lines(d.log()[mark:])
    say("\nthe daemon's decisions during the burst (%d, from its log):" % len(lines))
    for l in lines[:24]:
        say("  " + l)
    if len(lines) > 24:
        say("  ... %d more in the log" % (len(lines) - 24))

    # ---- the burst is over --------------------------------------------------
    say("\ng1 checks its burst's content (every 16th MiB against the pattern) and frees it; the usage "
        "falls under the low watermark and the daemon raises the others' targets again "
        "(their balloons deflate as they need the room) ...")
    t1 = time.monotonic()
    th, res = in_background(g1, "burst_end", BURST_TIMEOUT)
    w.arm(t1, "", 0)
    w.follow(th.is_alive)
    th.join()
    check_result("g1's burst_end", res)
    say("  content intact, freed after %.0f s" % (time.monotonic() - t1))
    t2 = time.monotonic()
    w.arm(t2, "after the burst", regular=2 * EVERY + 1)
    w.follow(seconds=3 * EVERY + 1.5, max_tables=3)

    # ---- the end ------------------------------------------------------------
    kills = {n: fleet.oom_kills(g) for n, g in guests.items()}
    say("\nOOM kills in the guests: %s"
        % ", ".join("%s %s" % (n, "?" if k < 0 else k) for n, k in kills.items()))
    samples = w.samples
    peak = max(s["usage"] for _, s in samples)
    over = seconds_over(samples, "high")
    low_g2 = min((d.guest("g2", s) or {}).get("actual") or GUEST_MIB * MIB
                 for _, s in samples[first:])
    say("summary: peak usage %d MiB against a budget of %d MiB (high watermark %d MiB), "
        "%.0f s over the high watermark; g2's logical size never below %d MiB "
        "(floor %d MiB)" % (mib(peak), mib(budget), mib(high), over, mib(low_g2),
                             G2_FLOOR_MIB))
    if any(k != 0 for k in kills.values()):
        raise DemoError("a guest's OOM killer struck (or was not readable): %r" % kills)


def main():
    global _logf
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default=os.path.join(ROOT, "build/qemu/qemu-system-s390x"))
    ap.add_argument("--images", default=os.path.join(ROOT, "build/guest"))
    ap.add_argument("--log", default=os.path.join(ROOT, "build/tests/linux/demo-cmmd.log"))
    args = ap.parse_args()

    tools = fleet.tools_dir(args.qemu)
    missing = [os.path.join(tools, b) for b in ("qemu-cmmd", "cmmstat")
               if not os.access(os.path.join(tools, b), os.X_OK)]
    if missing:
        print("demo: %s not built; `make` builds them next to the emulator "
              "(scripts/build.sh build ... tools/cmmd/qemu-cmmd tools/cmmd/cmmstat)"
              % " and ".join(missing), file=sys.stderr)
        return 1

    logdir = os.path.dirname(os.path.abspath(args.log))
    workdir = os.path.join(logdir, "demo-cmmd-work")
    sockdir = os.path.join(workdir, "qmp")
    os.makedirs(sockdir, exist_ok=True)
    for d in (workdir, sockdir):
        for f in os.listdir(d):
            p = os.path.join(d, f)
            if not os.path.isdir(p):
                os.unlink(p)
    logbase = os.path.splitext(os.path.abspath(args.log))[0]
    _logf = open(args.log, "w")

    t0 = time.monotonic()
    say("qemu-cmmd demo: three guests share a host memory budget; one bursts")
    say("  daemon: %s" % os.path.relpath(os.path.join(tools, "qemu-cmmd")))
    say("  logs:   %s, %s-g1.log ..." % (os.path.relpath(args.log),
                                        os.path.relpath(logbase)))
    try:
        demo(args, workdir, sockdir, logbase)
    except DemoError as e:
        say("demo: %s" % e)
        return 1
    say("\nguests shut down; the stage took %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    harness.exit_on_sigterm()
    try:
        sys.exit(main())
    except harness.HarnessError as e:
        sys.exit("demo: %s" % e)
