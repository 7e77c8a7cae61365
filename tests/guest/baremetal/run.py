#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot qemu-cmm bare-metal guest tests under TCG and report TAP.

    run.py --qemu PATH --dir BUILT_DIR [--timeout 30] [--qemu-args STR] [TEST...]

Each TEST (default: every t-*.elf in BUILT_DIR) is booted with

    qemu-system-s390x -M s390-ccw-virtio -accel tcg -nographic -no-reboot
                      -action panic=exit-failure -kernel TEST.elf ARGS

where ARGS come from BUILT_DIR/TEST.args (the "qemu-args:" line of the
test's source, extracted by the Makefile) and --qemu-args.  The guest's
"ok N - ..." / "not ok N - ..." lines are renumbered globally and prefixed
with the program name; a program that times out, exits non-zero, bails
out, prints no assertion or fewer than its plan gets an extra "not ok".
The console of each program is kept in BUILT_DIR/TEST.log.  Exit code 0
iff everything passed.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

BASE_ARGS = ['-M', 's390-ccw-virtio', '-accel', 'tcg', '-nographic',
             '-no-reboot', '-action', 'panic=exit-failure',
             # prints the disabled-wait PSW of a failing guest on stderr
             '-d', 'guest_errors']

# disabled-wait addresses of the runtime's failure stops (lowcore.h)
STOPS = {
    0xbad000: 'test failed',
    0xbad001: 'restart interruption',
    0xbad002: 'unexpected external interruption',
    0xbad003: 'machine-check interruption',
    0xbad004: 'I/O interruption',
    0xbad005: 'program interruption inside the program-interruption handler',
    0xbad006: 'unknown SVC',
    0xbad007: 'SCLP console unusable',
    0xbad008: 'runtime returned',
}
PSW_RE = re.compile(rb'PSW: 0x([0-9a-f]{16}) 0x([0-9a-f]{16})')

TAP_RE = re.compile(r'^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$')
PLAN_RE = re.compile(r'^1\.\.(\d+)\s*$')
TAIL_LINES = 20


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def line(self, good, desc):
        self.n += 1
        if not good:
            self.failed += 1
        print('%sok %d - %s' % ('' if good else 'not ', self.n, desc),
              flush=True)


def find_tests(built, names):
    if not names:
        return sorted(f[:-4] for f in os.listdir(built)
                      if f.startswith('t-') and f.endswith('.elf'))
    tests = []
    for n in names:
        n = os.path.basename(n)
        for suffix in ('.elf', '.c', '.S'):
            if n.endswith(suffix):
                n = n[:-len(suffix)]
        tests.append(n)
    return tests


class PeakRss:
    """QEMU's peak RSS (VmHWM, KiB), sampled until stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self):
        try:
            with open('/proc/%d/status' % self.pid) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        self.peak = max(self.peak, int(line.split()[1]))
        except OSError:
            pass

    def _run(self):
        while not self.done.wait(0.2):
            self._sample()

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def run_one(qemu, built, name, timeout, extra, tap, heavy=False):
    elf = os.path.join(built, name + '.elf')
    log = os.path.join(built, name + '.log')
    if not os.path.exists(elf):
        tap.line(False, '%s: %s not found (not built?)' % (name, elf))
        return
    args = []
    settings = {}
    argsfile = os.path.join(built, name + '.args')
    if os.path.exists(argsfile):
        with open(argsfile) as f:
            for line in f:
                if line.startswith('#run '):
                    key, value = line.split()[1:3]
                    settings[key] = int(value)
                else:
                    args += shlex.split(line)
    cmd = [qemu] + BASE_ARGS + ['-kernel', elf] + args + extra
    timeout = max(timeout, settings.get('timeout', 0))
    if settings.get('heavy') and not heavy:
        tap.line(True, '%s # SKIP heavy: run with --heavy (make check-sanitize)'
                 % name)
        return

    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    peak = PeakRss(proc.pid)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    elapsed = time.monotonic() - start
    peak_mib = peak.stop() // 1024

    with open(log, 'wb') as f:
        f.write(out)
        if err:
            f.write(b'\n--- qemu stderr ---\n' + err)

    problems = []
    asserts = 0
    plan = None
    bail = None
    for raw in out.decode('utf-8', 'replace').replace('\r', '').split('\n'):
        m = TAP_RE.match(raw)
        if m:
            asserts += 1
            tap.line(not m.group(1), '%s: %s' % (name, m.group(3).strip()))
            continue
        m = PLAN_RE.match(raw)
        if m:
            plan = int(m.group(1))
        elif raw.startswith('Bail out!') and bail is None:
            bail = raw

    if timed_out:
        problems.append('timed out after %ss' % timeout)
    elif proc.returncode != 0:
        problems.append('QEMU exited with code %d' % proc.returncode)
        m = PSW_RE.search(err)
        if m:
            addr = int(m.group(2), 16)
            problems.append('stopped with PSW %s %s (%s)' % (
                m.group(1).decode(), m.group(2).decode(),
                STOPS.get(addr, 'unknown stop')))
    if bail:
        problems.append(bail)
    if 'max-rss-mib' in settings:
        # a TAP line of its own: QEMU's memory stays bounded
        tap.line(peak_mib <= settings['max-rss-mib'],
                 '%s: QEMU\'s peak RSS %d MiB is within %d MiB'
                 % (name, peak_mib, settings['max-rss-mib']))
    if asserts == 0:
        problems.append('printed no assertion')
    elif plan is None and not timed_out and proc.returncode == 0:
        problems.append('printed no plan')
    elif plan is not None and plan != asserts:
        problems.append('plan 1..%d but %d assertions' % (plan, asserts))

    print('# %s: %d assertion(s), %.2fs, exit %s' %
          (name, asserts, elapsed,
           'timeout' if timed_out else proc.returncode), flush=True)
    if problems:
        tap.line(False, '%s: %s' % (name, '; '.join(problems)))
        tail = (out + (b'\n--- qemu stderr ---\n' + err if err else b''))
        lines = tail.decode('utf-8', 'replace').replace('\r', '').splitlines()
        sys.stderr.write('=== %s failed: %s\n' % (name, '; '.join(problems)))
        sys.stderr.write('=== command: %s\n' % ' '.join(map(shlex.quote, cmd)))
        sys.stderr.write('=== last lines of %s:\n' % log)
        for line in lines[-TAIL_LINES:]:
            sys.stderr.write('  | %s\n' % line)
        sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', required=True, help='qemu-system-s390x binary')
    ap.add_argument('--dir', required=True, help='directory with t-*.elf')
    ap.add_argument('--timeout', type=float, default=30,
                    help='seconds per program (default 30)')
    ap.add_argument('--qemu-args', default='',
                    help='extra QEMU arguments for every program')
    ap.add_argument('--heavy', action='store_true',
                    help='also run the programs marked heavy (minutes each)')
    ap.add_argument('tests', nargs='*', help='test names (default: all)')
    opts = ap.parse_args()

    if not os.access(opts.qemu, os.X_OK):
        sys.exit('run.py: %s is not executable' % opts.qemu)
    built = os.path.abspath(opts.dir)
    tests = find_tests(built, opts.tests)
    tap = Tap()
    if not tests:
        tap.line(False, 'no test programs in %s' % built)
    for name in tests:
        run_one(opts.qemu, built, name, opts.timeout,
                shlex.split(opts.qemu_args), tap,
                heavy=opts.heavy or name in opts.tests)
    print('1..%d' % tap.n)
    if tap.failed:
        print('# %d of %d failed' % (tap.failed, tap.n))
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
