#!/usr/bin/python3
"""Run qemu-cmm's tests at every level and sum them up.

Each level is a command printing TAP ("ok N - name", "not ok N - name",
"ok N - name # SKIP why"); upstream's qtest suite is run through meson and
counted per test program.  A level that fails without reporting a failed test
(a build error, a crash) counts as one failure, so nothing is lost silently.
The last line is "N passed, N failed" (", N skipped" when any were).
"""

import argparse
import os
import re
import subprocess
import sys
import time

TAP = re.compile(r'^\s*(not ok|ok)\b\s*\d*\s*-?\s*(.*?)\s*(#\s*(SKIP|TODO)\b(.*))?$',
                 re.IGNORECASE)


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, level, status, name):
        if status == 'pass':
            self.passed += 1
        elif status == 'skip':
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(f'{level}: {name}')


def run_level(totals, level, cmd, logdir, env=None, cwd=None, parse='tap'):
    """Run one level, echo its result lines, count them."""
    log = os.path.join(logdir, level.replace('/', '_') + '.log')
    print(f'== {level}: {" ".join(cmd)}', flush=True)
    start = time.time()
    counted = {'pass': 0, 'fail': 0, 'skip': 0}
    with open(log, 'w') as logf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors='replace', env=env, cwd=cwd)
        for line in proc.stdout:
            logf.write(line)
            status = name = None
            if parse == 'tap':
                m = TAP.match(line)
                if m:
                    name = m.group(2) or '(unnamed)'
                    if m.group(4) and m.group(4).upper() == 'SKIP':
                        status = 'skip'
                    elif m.group(1).lower() == 'ok':
                        status = 'pass'
                    else:
                        status = 'fail'
            else:
                status, name = parse(line)
            if status:
                totals.add(level, status, name)
                counted[status] += 1
                mark = {'pass': 'ok  ', 'fail': 'FAIL', 'skip': 'skip'}[status]
                print(f'  {mark} {name}', flush=True)
        rc = proc.wait()
    if rc != 0 and counted['fail'] == 0:
        totals.add(level, 'fail', f'{level} exited with status {rc} (see {log})')
        print(f'  FAIL {level} exited with status {rc}', flush=True)
    if rc != 0:
        with open(log) as f:
            tail = f.readlines()[-25:]
        sys.stdout.write(''.join('  | ' + t for t in tail))
    print(f'   {level}: {counted["pass"]} passed, {counted["fail"]} failed, '
          f'{counted["skip"]} skipped in {time.time() - start:.0f} s (log: {log})',
          flush=True)


FUZZ_RESULT = re.compile(r'^fuzz: (\S+) (ok|FAILED)')
SANITIZER = re.compile(r'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ')


def fuzz_line(line):
    m = FUZZ_RESULT.match(line)
    if not m:
        return None, None
    return ('pass' if m.group(2) == 'ok' else 'fail'), m.group(1) + line[m.end():].rstrip()


def sanitizer_reports(totals, dirs, since):
    """Any ASan/LSan/UBSan report in a log written by this run fails it."""
    found = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isfile(path) or os.path.getmtime(path) < since:
                continue
            with open(path, errors='replace') as f:
                for line in f:
                    if SANITIZER.search(line):
                        found.append(f'{path}: {line.strip()}')
                        break
    for f in found:
        print(f'  | {f}')
        totals.add('sanitizer', 'fail', f)
    return bool(found)


MESON_RESULT = re.compile(r'^\s*\d+/\d+\s.*?(\S+)\s+(OK|FAIL|SKIP|TIMEOUT|ERROR|EXPECTEDFAIL|UNEXPECTEDPASS)\s')


def meson_line(line):
    m = MESON_RESULT.match(line)
    if not m:
        return None, None
    return {'OK': 'pass', 'SKIP': 'skip', 'EXPECTEDFAIL': 'pass'}.get(m.group(2), 'fail'), m.group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--build', default='build', help='the build/ directory')
    ap.add_argument('--levels', default='repo,unit,qtest,upstream-qtest,baremetal,fuzz,linux',
                    help='comma-separated levels to run')
    ap.add_argument('--qemu-build', default=None,
                    help='the QEMU build to test (default BUILD/qemu; the '
                    'sanitizer leg names BUILD/asan)')
    ap.add_argument('--linux-tests', default='',
                    help='comma-separated Linux tests (default: all)')
    ap.add_argument('--fuzz-seconds', type=int, default=3,
                    help='seconds each fuzz target runs')
    ap.add_argument('--heavy', action='store_true',
                    help='also the bare-metal programs marked heavy')
    args = ap.parse_args()

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(args.build)
    qemu_build = os.path.abspath(args.qemu_build or os.path.join(build, 'qemu'))
    qemu = os.path.join(qemu_build, 'qemu-system-s390x')
    logdir = os.path.join(build, 'tests', 'logs')
    os.makedirs(logdir, exist_ok=True)
    levels = args.levels.split(',')
    totals = Totals()
    env = dict(os.environ, QTEST_QEMU_BINARY=qemu,
               CMM_BAREMETAL_DIR=os.path.join(build, 'tests', 'baremetal'))
    qemu_img = os.path.join(qemu_build, 'qemu-img')
    if os.path.exists(qemu_img):
        env['QTEST_QEMU_IMG'] = qemu_img       # for snapshot tests, as meson sets it
    upstream = os.path.join(build, 'baseline', 'qemu-system-s390x')
    if os.path.exists(upstream):
        env['CMM_QEMU_UPSTREAM'] = upstream    # for migration compatibility tests
    py = '/usr/bin/python3'
    t0 = time.time()

    if 'repo' in levels:
        run_level(totals, 'repo', [os.path.join(top, 'scripts', 'check-repo.sh'), top,
                                   os.path.join(build, 'upstream', 'qemu')], logdir)
    ours = lambda d, suffix: sorted(f[:-2] for f in os.listdir(os.path.join(top, 'tests', d))
                                    if f.endswith(suffix + '.c'))
    if 'unit' in levels:
        for t in ours('unit', ''):
            run_level(totals, f'unit/{t}',
                      [os.path.join(qemu_build, 'tests', 'unit', t), '--tap', '-k'], logdir)
    if 'qtest' in levels:
        for t in ours('qtest', '-test'):
            run_level(totals, f'qtest/{t}',
                      [os.path.join(qemu_build, 'tests', 'qtest', t), '--tap', '-k'],
                      logdir, env=env)
    if 'upstream-qtest' in levels:
        # Upstream's s390x qtests, as a guard that our patches break nothing; ours
        # are run above, one line per test case, so they are left out here.
        listed = subprocess.run(['meson', 'test', '--list', '--suite', 'qtest-s390x'],
                                cwd=qemu_build, capture_output=True, text=True)
        mine = set(ours('qtest', '-test'))
        names = [n.strip().split(' / ')[-1] for n in listed.stdout.splitlines() if n.strip()]
        names = [n for n in names if n.split('/')[-1] not in mine]
        run_level(totals, 'upstream-qtest',
                  ['meson', 'test', '--no-rebuild', '--print-errorlogs',
                   '--suite', 'qtest-s390x'] + names,
                  logdir, cwd=qemu_build, parse=meson_line)
    if 'baremetal' in levels:
        run_level(totals, 'baremetal',
                  [py, os.path.join(top, 'tests', 'guest', 'baremetal', 'run.py'),
                   '--qemu', qemu, '--dir', os.path.join(build, 'tests', 'baremetal')] +
                  (['--heavy'] if args.heavy else []),
                  logdir)
    if 'fuzz' in levels:
        # a short time-boxed run of every fuzz target: a finding fails it
        run_level(totals, 'fuzz',
                  ['make', '-s', '-C', os.path.join(top, 'tests', 'fuzz'), 'run',
                   f'SECONDS={args.fuzz_seconds}', f'SRC={build}/src',
                   f'QBUILD={build}/qemu', f'O={build}/fuzz'],
                  logdir, parse=fuzz_line)
    if 'stream-fuzz' in levels:
        # mutated migration streams of our sections into this build's QEMU
        run_level(totals, 'stream-fuzz',
                  [py, os.path.join(top, 'tests', 'fuzz', 'stream-fuzz.py'),
                   '--qemu', qemu, '--runs', '40',
                   '--workdir', os.path.join(build, 'tests', 'stream-fuzz')],
                  logdir, env=env)
    if 'linux' in levels:
        run_level(totals, 'linux',
                  [py, os.path.join(top, 'tests', 'guest', 'linux', 'run.py'),
                   '--qemu', qemu, '--images', os.path.join(build, 'guest'),
                   '--images-trixie', os.path.join(build, 'guest-trixie'),
                   '--logdir', os.path.join(build, 'tests', 'linux')] +
                  [t for t in args.linux_tests.split(',') if t],
                  logdir, env=env)
    if sanitizer_reports(totals, [logdir, os.path.join(build, 'tests', 'linux'),
                                  os.path.join(build, 'tests', 'baremetal')], t0):
        print('  FAIL sanitizer reports (see above)')

    print(f'== all levels in {time.time() - t0:.0f} s')
    for f in totals.failures:
        print(f'failed: {f}')
    summary = f'{totals.passed} passed, {totals.failed} failed'
    if totals.skipped:
        summary += f', {totals.skipped} skipped'
    print(summary)
    return 1 if totals.failed or totals.passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
