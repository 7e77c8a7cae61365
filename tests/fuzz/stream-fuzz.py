#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Fuzz the migration sections qemu-cmm adds or fills, through QEMU itself.

    stream-fuzz.py --qemu PATH [--runs N] [--seconds S] [--workdir DIR]

A source QEMU (the cmm machine, -S) with a balloon holding a footprint
target (its "virtio-balloon-device/cmm" subsection), a tmem pool and device
("virtio-tmem") and the CMMA page-state table ("s390-storage_attributes")
saves its migration stream to a file.  Each run flips, overwrites or cuts
bytes in one of those sections and loads the result into a destination
QEMU.  Refusing the stream with an error, or taking it, is fine; a crash
(a signal), a sanitizer report or a hang is a finding.  Prints one TAP line
per section and the number of runs; exits 1 on a finding (the input is
kept in the work directory).
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

# the section names to find in the stream, and how many bytes after the
# name belong to the section (the balloon's subsection is 42 bytes of
# fields; damaging what follows would fuzz upstream's sections instead)
SECTIONS = [(b"s390-storage_attributes", 4096),
            (b"virtio-balloon-device/cmm", 64),
            (b"virtio-tmem", 4096)]
SANITIZER = re.compile(rb"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ")
DEVICES = ["-object", "tmem-pool,id=tp0,size=16M",
           "-device", "virtio-tmem-ccw,pool=tp0,id=t0,devno=fe.0.0005",
           "-device", "virtio-balloon-ccw,id=b0,cmma=on,devno=fe.0.0006"]
COMMON = ["-M", "s390-ccw-virtio", "-accel", "tcg", "-m", "64M", "-nodefaults",
          "-display", "none", "-S"]


def qmp_lines(*cmds):
    return "".join('{"execute": "%s"%s}\n' % (c, a) for c, a in cmds)


def save_stream(qemu, path):
    """Run a source and migrate it to @path; True on success."""
    qmp = qmp_lines(("qmp_capabilities", ""),
                    ("balloon-set-target",
                     ', "arguments": {"kind": "footprint", "target": 33554432,'
                     ' "rate": 1048576, "floor": 16777216}'),
                    ("migrate", ', "arguments": {"uri": "file:%s"}' % path))
    proc = subprocess.Popen([qemu] + COMMON + DEVICES + ["-qmp", "stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(qmp.encode())
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            # wait until migration reports completed
            proc.stdin.write(qmp_lines(("query-migrate", "")).encode())
            proc.stdin.flush()
            break
    time.sleep(1)
    proc.stdin.write(qmp_lines(("quit", "")).encode())
    proc.stdin.flush()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return b'"completed"' in out or os.path.getsize(path) > 1024


def mutate(data, start, span, rng):
    """Damage the bytes of a section whose name starts at @start."""
    end = min(len(data), start + 1 + rng.randrange(span))
    buf = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:                       # flip bits
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(start, end)
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1:                     # overwrite with extremes
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(start, end)
            buf[i:i + 8] = rng.choice([b"\xff" * 8, b"\x00" * 8,
                                       b"\x7f\xff\xff\xff\xff\xff\xff\xff",
                                       b"\x80" + b"\x00" * 7])
    elif kind == 2:                     # cut the stream inside the section
        del buf[rng.randrange(start, end):]
    else:                               # random bytes
        i = rng.randrange(start, end)
        buf[i:i + 16] = bytes(rng.randrange(256) for _ in range(16))
    return bytes(buf)


def no_leak_check():
    """The environment for a damaged stream's load: a refused stream ends
    QEMU with exit(1) from the loading coroutine, without freeing the
    monitor's or the loader's memory (upstream's design), so LeakSanitizer
    is off there; memory errors and undefined behaviour are still caught.
    The unmutated stream is loaded with leak checking on."""
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=0"
    return env


def load(qemu, path, timeout, stats=None, env=None):
    """Load a stream; returns None if fine, else what went wrong.

    QEMU is asked to quit only once the load is over (its status is no
    longer "inmigrate"): quitting in the middle of a load is another path,
    not the one this fuzzes."""
    proc = subprocess.Popen([qemu] + COMMON + DEVICES +
                            ["-incoming", "file:%s" % path, "-qmp", "stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env=env)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        proc.stdin.write(qmp_lines(("qmp_capabilities", "")).encode())
        proc.stdin.flush()
        while proc.poll() is None and time.monotonic() < deadline:
            proc.stdin.write(qmp_lines(("query-status", "")).encode())
            proc.stdin.flush()
            time.sleep(0.2)
            if any(b'"status"' in l and b'inmigrate' not in l
                   for l in lines[-3:]):
                proc.stdin.write(qmp_lines(("quit", "")).encode())
                proc.stdin.flush()
                break
    except BrokenPipeError:
        pass                            # it refused the stream and exited
    try:
        err = proc.stderr.read() if proc.wait(timeout=max(
            1, deadline - time.monotonic())) is not None else b""
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "hang (no exit within %d s)" % timeout
    if proc.returncode < 0:
        return "killed by signal %d" % -proc.returncode
    if SANITIZER.search(err):
        return "sanitizer report: " + SANITIZER.search(err).group(0).decode()
    if proc.returncode not in (0, 1):
        return "exit status %d" % proc.returncode
    if stats is not None:
        stats["refused" if proc.returncode else "taken"] += 1
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--runs", type=int, default=30, help="runs per section")
    ap.add_argument("--seconds", type=float, default=0,
                    help="run for this long instead (spread over sections)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="stream-fuzz-")
    os.makedirs(work, exist_ok=True)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    print("# seed %d, work directory %s" % (seed, work), flush=True)
    base = os.path.join(work, "stream")
    if os.path.exists(base):
        os.unlink(base)
    if not save_stream(args.qemu, base):
        print("not ok 1 - a migration stream to fuzz was saved")
        print("1..1")
        return 1
    with open(base, "rb") as f:
        data = f.read()
    failed = 0
    n = 1
    stats = {"taken": 0, "refused": 0}
    why = load(args.qemu, base, 20, stats)
    good = why is None and stats["taken"] == 1
    print("%sok 1 - the unmutated stream (%d bytes) loads%s"
          % ("" if good else "not ", len(data), "" if good else ": %s" % why))
    failed += not good
    deadline = time.monotonic() + args.seconds if args.seconds else None
    for name, span in SECTIONS:
        starts = [m.start() for m in re.finditer(re.escape(name), data)]
        n += 1
        if not starts:
            print("not ok %d - %s: section in the stream" % (n, name.decode()))
            failed += 1
            continue
        runs = finding = 0
        stats = {"taken": 0, "refused": 0}
        while True:
            if deadline:
                if time.monotonic() > deadline - (len(SECTIONS) + 1 - n) * \
                        args.seconds / len(SECTIONS):
                    break
            elif runs >= args.runs:
                break
            runs += 1
            path = os.path.join(work, "mutated")
            with open(path, "wb") as f:
                f.write(mutate(data, rng.choice(starts), len(name) + span,
                               rng))
            why = load(args.qemu, path, 20, stats, no_leak_check())
            if why:
                kept = os.path.join(work, "finding-%s-%d" % (
                    name.decode().replace("/", "_"), runs))
                shutil.copy(path, kept)
                print("# %s: %s (input %s)" % (name.decode(), why, kept))
                finding += 1
        print("%sok %d - %s: %d mutated streams (%d refused, %d taken), "
              "none crashed, hung or tripped a sanitizer"
              % ("not " if finding else "", n, name.decode(), runs,
                 stats["refused"], stats["taken"]), flush=True)
        failed += bool(finding)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
