#!/usr/bin/python3
"""The virtio-tmem demo: two tenants share one 8 MiB tmem pool.

    scripts/demo-tmem.py QEMU_BINARY BAREMETAL_OUT_DIR

Boots the bare-metal guest m-tmem-demo.elf (tests/guest/baremetal/
m-tmem-demo.c; built with `make -C tests/guest/baremetal O=DIR`, which
this script runs itself if the ELF is missing) with two virtio-tmem-ccw
devices of weight 1 and 3 on one tmem-pool, echoes its console, waits
(up to 120 s) for the guest's "done" marker in its mailbox at physical
0x30000 (read over QMP with pmemsave), then shows the host's view:
`info tmem`, `tmem-drop` of tenant0 (bytes freed), `info tmem` again,
and quits QEMU.  Exits non-zero if anything fails.  QEMU's stderr and
the QMP traffic go to BAREMETAL_OUT_DIR/m-tmem-demo.log.

Python 3 standard library only; the QEMU process, console and QMP
handling come from tests/guest/linux/harness.py.
"""

import os
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "guest", "linux"))
import harness  # noqa: E402

ELF = "m-tmem-demo.elf"
MBOX = 0x30000                  # see m-tmem-demo.c
MB_WORDS = 7                    # state, hits0, hits1, pers_ok, errors, puts, pers
ST_DONE = 0x7E3E0003
ST_FAILED = 0x7E3E00FF
TIMEOUT = 120

TMEM_ARGS = ["-object", "tmem-pool,id=tp0,size=8M",
             "-device", "virtio-tmem-ccw,pool=tp0,id=tenant0,weight=1",
             "-device", "virtio-tmem-ccw,pool=tp0,id=tenant1,weight=3"]


class BareMetalGuest(harness.Guest):
    """harness.Guest booting a bare-metal ELF instead of a Linux kernel.

    Guest.__init__ insists on a kernel and initrd, so the attributes the
    inherited methods (start, console reader, wait_line, hmp, close) use
    are set up here; the command line is the demo's own."""

    def __init__(self, qemu, elf, args=(), log=None):
        for f in (qemu, elf):
            if not os.path.exists(f):
                raise harness.HarnessError("missing %s" % f)
        self.qemu = qemu
        self.kernel = elf
        self.extra_args = list(args)
        self.log = harness.Log(log)
        self.proc = None
        self.qmp = None
        self.lines = []
        self.cursor = 0
        self.partial = b""
        self.cond = threading.Condition()
        self.eof = False
        self.seq = 0
        self.tmpdir = tempfile.mkdtemp(prefix="cmm-tmem-demo-")
        self.qmp_path = os.path.join(self.tmpdir, "qmp.sock")
        self.incoming = False
        self.migrate_path = os.path.join(self.tmpdir, "migrate.sock")
        self.start_time = None

    def command_line(self):
        return [self.qemu, "-M", "s390-ccw-virtio", "-accel", "tcg",
                "-m", "128M", "-nographic", "-no-reboot",
                "-action", "panic=exit-failure", "-kernel", self.kernel,
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path] + \
            self.extra_args

    def mailbox(self):
        """The guest's mailbox words (big-endian u64), read with pmemsave."""
        path = os.path.join(self.tmpdir, "mbox")
        self.qmp.execute("pmemsave", val=MBOX, size=8 * MB_WORDS,
                         filename=path)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        if len(data) != 8 * MB_WORDS:
            raise harness.HarnessError("pmemsave wrote %d bytes" % len(data))
        return struct.unpack(">%dQ" % MB_WORDS, data)


def heading(text):
    print("\n==== %s ====" % text, flush=True)


def echo_console(g, until):
    """Print console lines until until() is true (checked twice a second)."""
    while not until():
        try:
            m = g.wait_line(r"^", 0.5)
            print("  | " + m.string, flush=True)
        except harness.Timeout:
            pass


def show_info(g):
    for line in g.hmp("info tmem").rstrip("\n").split("\n"):
        print("  " + line.rstrip("\r"))


def client(g, device):
    for pool in g.qmp.execute("query-tmem"):
        for c in pool["clients"]:
            if c["device"] == device:
                return c
    raise harness.HarnessError("query-tmem: no client %s" % device)


def session(g, failures):
    """The demo proper, on a started guest; failures collects soft failures."""
    heading("guest console")
    deadline = time.monotonic() + TIMEOUT
    state = [0]

    def done():
        if time.monotonic() > deadline:
            raise harness.Timeout("no marker at 0x%x after %d s"
                                  % (MBOX, TIMEOUT))
        state[0] = g.mailbox()[0]
        return state[0] in (ST_DONE, ST_FAILED)

    echo_console(g, done)
    # the marker is written after the last line: show what is left
    time.sleep(0.2)
    echo_console(g, lambda: g.cursor >= len(g.lines))
    if state[0] == ST_FAILED:
        raise harness.HarnessError("the guest reports a failed setup")
    _, hits0, hits1, pers_ok, errors, puts, pers = g.mailbox()
    print("  mailbox: tenant0 %d/%d hits, tenant1 %d/%d hits, "
          "persistent %d/%d intact, %d errors"
          % (hits0, puts, hits1, puts, pers_ok, pers, errors))
    if errors:
        failures.append("the guest saw %d errors" % errors)
    if pers_ok != pers:
        failures.append("persistent pages lost")
    if not hits1 > hits0 > 0:
        failures.append("expected 0 < tenant0 hits < tenant1 hits")

    heading("host: info tmem")
    show_info(g)
    before = client(g, "tenant0")
    # the guest's tenant 0 (the first device found) must be tenant0:
    # only it has persistent pages
    if before["persistent-pages"] != pers or \
            client(g, "tenant1")["persistent-pages"] != 0:
        failures.append("guest tenant 0 is not device tenant0")

    heading("host: tmem-drop device=tenant0")
    freed = g.qmp.execute("tmem-drop", device="tenant0")["bytes"]
    print("  freed %d bytes (%.1f MiB) of tenant0's ephemeral pages"
          % (freed, freed / harness.MIB))
    after = client(g, "tenant0")
    if not freed or before["ephemeral-pages"] == 0:
        failures.append("tmem-drop freed nothing")
    if after["ephemeral-pages"] != 0:
        failures.append("tenant0 still holds %d ephemeral pages"
                        % after["ephemeral-pages"])
    if after["persistent-pages"] != before["persistent-pages"]:
        failures.append("tmem-drop changed persistent pages")

    heading("host: info tmem after the drop")
    show_info(g)


def run(qemu, outdir):
    elf = os.path.join(outdir, ELF)
    if not os.path.exists(elf):
        print("demo: %s missing, building the bare-metal programs" % elf,
              flush=True)
        subprocess.run(["make", "-s", "-C",
                        os.path.join(ROOT, "tests", "guest", "baremetal"),
                        "O=" + os.path.abspath(outdir)], check=True)
    log = os.path.join(outdir, "m-tmem-demo.log")
    failures = []

    heading("booting the guest: two tenants, weights 1 and 3, "
            "one 8 MiB tmem pool")
    print("  " + " ".join(TMEM_ARGS), flush=True)
    g = BareMetalGuest(qemu, elf, TMEM_ARGS, log=log)
    try:
        with g:
            session(g, failures)
    except harness.HarnessError:
        # whatever the guest printed that was not shown yet
        with g.cond:
            g.cond.wait_for(lambda: g.eof, 2)
        for line in g.lines[g.cursor:]:
            print("  | " + line)
        print("  (log: %s)" % log, flush=True)
        raise
    status = g.exit_status
    heading("result")
    if status != 0:
        failures.append("QEMU exit status %s" % status)
    for f in failures:
        print("  FAIL: " + f)
    if failures:
        print("  (log: %s)" % log)
        return 1
    print("  demo OK; QEMU quit (log: %s)" % log)
    return 0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: %s QEMU_BINARY BAREMETAL_OUT_DIR" % sys.argv[0])
    qemu, outdir = sys.argv[1], sys.argv[2]
    if not os.access(qemu, os.X_OK):
        sys.exit("demo: %s is not executable" % qemu)
    harness.exit_on_sigterm()
    try:
        return run(qemu, outdir)
    except (harness.HarnessError, subprocess.CalledProcessError,
            OSError) as e:
        print("demo: FAILED: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
