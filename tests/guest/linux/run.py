#!/usr/bin/python3
"""Run the Linux-guest tests and print TAP.

usage: run.py --qemu PATH --images DIR [--images-trixie DIR] [--logdir DIR] [--jobs N]
              [TEST...]

A test is a file test_NAME.py next to this one with a function run(t); TEST is NAME
(or test_NAME, or test_NAME.py).  Every assertion prints one TAP line; the plan line
comes last.  Exit status 0 iff all lines are ok.  Console and QMP traffic of each
test goes to LOGDIR/NAME.log.  --images holds the bookworm (6.1) guest kernel and
its initramfs images, --images-trixie (default: the sibling DIR-trixie) trixie's
6.12, both made by scripts/guest-image.sh; a test boots the latter with
t.guest(images=t.images_trixie, ...).

Tests run side by side on --jobs CPUs (default: the machine's, at most 2), each
in a thread of its own.  A TCG guest keeps one CPU busy, so a test declares
what it needs with a module-level CPUS (default 1): tests that run guests at
once, guests with several vCPUs, or anything whose checks depend on timing
(rate caps, stall detection) declare CPUS = 2 and then run alone.
"""

import argparse
import glob
import importlib.util
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)

import harness  # noqa: E402


class Abort(Exception):
    """Stops the current test after a failed required step."""


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.lock = threading.Lock()    # TestContext.concurrently

    def line(self, ok, name, diag=""):
        with self.lock:
            self.n += 1
            if not ok:
                self.failed += 1
            print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name), flush=True)
            if diag:
                for d in str(diag).splitlines():
                    print("# " + d, flush=True)


class TestContext:
    """What a test's run(t) gets."""

    def __init__(self, tap, name, args):
        self.tap = tap
        self.name = name
        self.qemu = args.qemu
        self.images = args.images
        self.images_trixie = args.images_trixie
        self.logdir = args.logdir
        self.nguests = 0
        self.guests = []

    def log_path(self):
        self.nguests += 1
        suffix = "" if self.nguests == 1 else "-%d" % self.nguests
        return os.path.join(self.logdir, "%s%s.log" % (self.name, suffix))

    def guest(self, images=None, **kw):
        """A harness.Guest logging to LOGDIR/NAME.log; closed when the test ends.

        images: the folder of kernel and initramfs (default self.images)."""
        kw.setdefault("log", self.log_path())
        g = harness.Guest(self.qemu, images or self.images, **kw)
        self.guests.append(g)
        return g

    def ok(self, cond, what, diag=""):
        self.tap.line(bool(cond), "%s: %s" % (self.name, what), "" if cond else diag)
        return bool(cond)

    def require(self, cond, what, diag=""):
        if not self.ok(cond, what, diag):
            raise Abort()

    def attempt(self, what, fn, *a, **kw):
        """Run fn; ok if it returns, not ok (and stop the test) if it raises."""
        try:
            val = fn(*a, **kw)
        except harness.HarnessError as e:
            self.ok(False, what, str(e))
            raise Abort()
        self.ok(True, what)
        return val

    def concurrently(self, *fns):
        """Run each fn() in a thread of its own, all at once, and wait for all.

        For independent guests whose checks assert nothing about timing (the
        machine has as many cores as two TCG guests use).  A failed require or
        an unexpected harness error ends only its own fn.  A guest must be
        started and closed in the thread that uses it: QEMU gets SIGKILL when
        the thread that started it ends."""
        def wrap(fn):
            try:
                fn()
            except Abort:
                pass
            except harness.HarnessError as e:
                self.ok(False, "unexpected %s" % type(e).__name__,
                        traceback.format_exc())
        threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def cleanup(self):
        for g in self.guests:
            g.close()


def find_tests(names):
    found = {os.path.basename(p)[5:-3]: p
             for p in sorted(glob.glob(os.path.join(HERE, "test_*.py")))}
    if not names:
        return sorted(found.items())
    out = []
    for n in names:
        n = os.path.basename(n)
        n = n[:-3] if n.endswith(".py") else n
        n = n[5:] if n.startswith("test_") else n
        if n not in found:
            sys.exit("run.py: no test %r (have: %s)" % (n, ", ".join(sorted(found))))
        out.append((n, found[n]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default=os.path.join(ROOT, "build/qemu/qemu-system-s390x"))
    ap.add_argument("--images", default=os.path.join(ROOT, "build/guest"))
    ap.add_argument("--images-trixie", help="default: IMAGES-trixie")
    ap.add_argument("--logdir", default=os.path.join(ROOT, "build/tests/linux"))
    ap.add_argument("--jobs", type=int,
                    default=int(os.environ.get("CMM_LINUX_JOBS", min(os.cpu_count() or 1, 2))))
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()
    args.qemu = os.path.abspath(args.qemu)
    args.images = os.path.abspath(args.images)
    args.images_trixie = os.path.abspath(args.images_trixie or args.images + "-trixie")
    os.makedirs(args.logdir, exist_ok=True)

    tap = Tap()
    pending = []
    for name, path in find_tests(args.tests):
        spec = importlib.util.spec_from_file_location("test_" + name, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # a test that does not even load: one not-ok line
            tap.line(False, "%s: unexpected %s" % (name, type(e).__name__),
                     "".join(traceback.format_exception(e)).rstrip())
            continue
        pending.append((name, mod, min(max(int(getattr(mod, "CPUS", 1)), 1), args.jobs)))

    def run_test(name, mod):
        t = TestContext(tap, name, args)
        t0 = time.monotonic()
        try:
            mod.run(t)
        except Abort:
            pass
        except Exception as e:  # a bug or an unexpected failure: one not-ok line
            tap.line(False, "%s: unexpected %s" % (name, type(e).__name__),
                     "".join(traceback.format_exception(e)).rstrip())
        finally:
            t.cleanup()
        print("# %s: done in %.0f s, log %s" % (name, time.monotonic() - t0,
                                                 os.path.relpath(os.path.join(
                                                     args.logdir, name + ".log"))),
              flush=True)

    # Greedy: start, in order, every pending test whose CPUs are free.
    done = threading.Condition()
    running = {}                # thread -> CPUs
    while pending or running:
        with done:
            for item in list(pending):
                name, mod, cpus = item
                if sum(running.values()) + cpus > args.jobs:
                    continue
                pending.remove(item)

                def body(name=name, mod=mod):
                    try:
                        run_test(name, mod)
                    finally:
                        with done:
                            del running[threading.current_thread()]
                            done.notify_all()
                th = threading.Thread(target=body, name=name)
                running[th] = cpus
                th.start()
            done.wait()
    print("1..%d" % tap.n, flush=True)
    return 0 if tap.failed == 0 and tap.n > 0 else 1


if __name__ == "__main__":
    harness.exit_on_sigterm()
    sys.exit(main())
