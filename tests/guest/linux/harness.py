"""Drive qemu-system-s390x with a Linux guest: console, QMP, host RSS, teardown.

The guest boots one of the initramfs images made by scripts/guest-image.sh; its
/init prints CMM-READY and then runs shell commands read from the console (see
tests/guest/linux/init/lib.sh).  Python 3 standard library only.
"""

import ctypes
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

MIB = 1024 * 1024


class HarnessError(Exception):
    pass


class Timeout(HarnessError):
    pass


class QMPError(HarnessError):
    def __init__(self, cmd, error):
        super().__init__("%s: %s: %s" % (cmd, error.get("class"), error.get("desc")))
        self.error = error


class Log:
    """Timestamped log shared by console and QMP traffic."""

    def __init__(self, path):
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.f = None
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.f = open(path, "w", encoding="utf-8", errors="replace")

    def write(self, tag, text):
        if not self.f:
            return
        with self.lock:
            self.f.write("%8.3f %-4s %s\n" % (time.monotonic() - self.t0, tag, text))
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()
            self.f = None


class QMP:
    """A QMP client on a unix socket; events are collected in the background."""

    def __init__(self, path, log, timeout=30, alive=lambda: True):
        self.log = log
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if not alive():
                    raise HarnessError("QEMU exited before its QMP socket appeared")
                if time.monotonic() > deadline:
                    raise Timeout("QMP socket %s did not appear" % path)
                time.sleep(0.05)
        self.rfile = self.sock.makefile("rb")
        self.cond = threading.Condition()
        self.events = []
        self.replies = {}
        self.next_id = 0
        self.closed = False
        greeting = self._read()
        if greeting is None or "QMP" not in greeting:
            raise HarnessError("no QMP greeting: %r" % (greeting,))
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.rfile.readline()
        if not line:
            return None
        self.log.write("qmp<", line.decode(errors="replace").rstrip())
        return json.loads(line)

    def _reader(self):
        try:
            while True:
                msg = self._read()
                if msg is None:
                    break
                with self.cond:
                    if "event" in msg:
                        self.events.append(msg)
                    elif "id" in msg:
                        self.replies[msg["id"]] = msg
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def execute(self, cmd, timeout=30, **args):
        """Run a command; return its "return" value or raise QMPError."""
        with self.cond:
            self.next_id += 1
            rid = "cmd%d" % self.next_id
        msg = {"execute": cmd, "id": rid}
        if args:
            msg["arguments"] = args
        data = json.dumps(msg)
        self.log.write("qmp>", data)
        self.sock.sendall(data.encode() + b"\n")
        deadline = time.monotonic() + timeout
        with self.cond:
            while rid not in self.replies:
                left = deadline - time.monotonic()
                if self.closed:
                    raise HarnessError("QMP closed while waiting for %s" % cmd)
                if left <= 0:
                    raise Timeout("no QMP reply to %s in %g s" % (cmd, timeout))
                self.cond.wait(left)
            reply = self.replies.pop(rid)
        if "error" in reply:
            raise QMPError(cmd, reply["error"])
        return reply.get("return")

    def wait_event(self, name, timeout, match=None):
        """Wait for (and consume) an event NAME whose data satisfies match(data)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, ev in enumerate(self.events):
                    if ev["event"] == name and (match is None or match(ev.get("data", {}))):
                        return self.events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("no QMP event %s in %g s" % (name, timeout))
                if self.closed:
                    raise HarnessError("QMP closed while waiting for event %s" % name)
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Guest:
    """One QEMU process with a Linux guest on its console.

    with Guest(qemu, images, "balloon", log=path, args=[...]) as g:
        g.wait_ready()
        rc, out = g.cmd("uname -r")
        g.qmp.execute("query-balloon")
    """

    def __init__(self, qemu, images, initrd="balloon", mem_mib=2048, args=(),
                 append="", log=None, smp=1, incoming=False, cgroup_procs=None):
        self.qemu = qemu
        self.images = images
        self.initrd = os.path.join(images, "initrd-%s.gz" % initrd)
        self.kernel = os.path.join(images, "vmlinuz")
        for f in (qemu, self.kernel, self.initrd):
            if not os.path.exists(f):
                raise HarnessError("missing %s" % f)
        self.mem_mib = mem_mib
        self.extra_args = list(args)
        self.append = append
        self.smp = smp
        self.log = Log(log)
        self.proc = None
        self.qmp = None
        self.lines = []            # console lines received so far
        self.cursor = 0            # first line not yet consumed by wait_line
        self.partial = b""
        self.cond = threading.Condition()
        self.eof = False
        self.seq = 0
        self.tmpdir = tempfile.mkdtemp(prefix="cmm-guest-")
        self.qmp_path = os.path.join(self.tmpdir, "qmp.sock")
        # incoming=True: a migration destination (started with -S) waiting on
        # the unix socket self.migrate_uri; its console is the guest's once the
        # migration is over.
        self.incoming = incoming
        self.migrate_path = os.path.join(self.tmpdir, "migrate.sock")
        self.migrate_uri = "unix:" + self.migrate_path
        self.start_time = None
        # a cgroup's cgroup.procs file: QEMU starts inside that cgroup, so
        # everything it allocates is charged there from the first page
        self.cgroup_procs = cgroup_procs

    # ---- process ---------------------------------------------------------------
    def command_line(self):
        append = "console=ttysclp0 panic=-1 " + self.append
        return [self.qemu, "-M", "s390-ccw-virtio", "-accel", "tcg",
                "-m", str(self.mem_mib), "-smp", str(self.smp),
                "-kernel", self.kernel, "-initrd", self.initrd,
                "-append", append.strip(), "-no-reboot",
                "-serial", "stdio", "-display", "none", "-monitor", "none",
                "-nodefaults",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path] + \
            (["-S", "-incoming", self.migrate_uri] if self.incoming else []) + \
            self.extra_args

    def start(self):
        argv = self.command_line()
        self.log.write("cmd", " ".join(argv))
        self.start_time = time.monotonic()
        procs = getattr(self, "cgroup_procs", None)   # subclasses may not set it

        def preexec():
            _die_with_parent()
            if procs:
                with open(procs, "w") as f:
                    f.write("0\n")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True,
                                     preexec_fn=preexec)
        self.pid = self.proc.pid
        threading.Thread(target=self._console_reader, daemon=True).start()
        threading.Thread(target=self._stderr_reader, daemon=True).start()
        try:
            self.qmp = QMP(self.qmp_path, self.log, alive=self.alive)
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _console_reader(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    if self.partial:
                        self._add_line(self.partial)
                        self.partial = b""
                    self.eof = True
                    self.cond.notify_all()
                    return
                buf = self.partial + data
                *whole, self.partial = buf.split(b"\n")
                for line in whole:
                    self._add_line(line)
                self.cond.notify_all()

    def _add_line(self, raw):
        line = raw.decode(errors="replace").replace("\r", "")
        self.lines.append(line)
        self.log.write("con", line)

    def _stderr_reader(self):
        for raw in self.proc.stderr:
            self.log.write("err", raw.decode(errors="replace").rstrip())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # ---- console ---------------------------------------------------------------
    def wait_line(self, regex, timeout):
        """Wait for a console line (after the last one matched) that matches regex.

        Returns the re.Match; lines up to and including it are consumed."""
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                while self.cursor < len(self.lines):
                    m = pat.search(self.lines[self.cursor])
                    self.cursor += 1
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("no console line matching %r in %g s" % (regex, timeout))
                if self.eof:
                    raise HarnessError("QEMU exited (rc %s) while waiting for %r"
                                       % (self.proc.poll(), regex))
                self.cond.wait(min(left, 1.0))

    def send(self, text):
        """Write text to the guest console (a newline is added)."""
        self.log.write("con>", text)
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_ready(self, timeout=120):
        """Wait for the CMM-READY marker; return seconds since QEMU started."""
        self.wait_line(r"^CMM-READY$", timeout)
        return time.monotonic() - self.start_time

    def cmd(self, shell, timeout=60):
        """Run a shell command line in the guest; return (exit status, output lines).

        Output may be interleaved with kernel messages on the console."""
        self.seq += 1
        tag = "CMM-RC-%d" % self.seq
        with self.cond:
            first = len(self.lines)
        self.send("%s; printf '\\n%s %%d\\n' $?" % (shell, tag))
        self.wait_line(r"%s (\d+)$" % re.escape(tag), timeout)
        with self.cond:
            out = self.lines[first:self.cursor - 1]
            rc = int(re.search(r"%s (\d+)$" % tag, self.lines[self.cursor - 1]).group(1))
        # drop the empty line printed before the marker, and an echo of the command
        if out and out[-1] == "":
            out = out[:-1]
        out = [l for l in out if tag not in l]
        return rc, out

    # ---- host side -------------------------------------------------------------
    def rss(self):
        """Resident set size of the QEMU process in bytes."""
        rss = rss_of(self.pid)
        self.log.write("rss", "%d MiB" % (rss // MIB))
        return rss

    def ram_rss(self):
        """Resident bytes of the guest's RAM mapping alone: QEMU's own memory
        (the TCG code buffer grows while the guest runs) left out."""
        rss = ram_rss_of(self.pid, self.mem_mib * MIB)
        self.log.write("rss", "guest RAM %d MiB" % (rss // MIB))
        return rss

    def note(self, text):
        """Write a line of the test's own into the log."""
        self.log.write("note", text)

    def hmp(self, line, timeout=30):
        """Run an HMP command through QMP; return its text output."""
        return self.qmp.execute("human-monitor-command", timeout=timeout,
                                **{"command-line": line})

    def query_cmma(self):
        return self.qmp.execute("query-cmma")

    def kernel_trouble(self):
        """Console lines so far that report a kernel oops, BUG, panic, warning or OOM kill."""
        pat = re.compile(r"Oops|BUG[: ]|Kernel panic|Call Trace|WARNING: CPU|"
                         r"general protection|Bad page|page allocation failure|oom-killer")
        with self.cond:
            return [l for l in self.lines if pat.search(l)]

    def balloon_actual(self):
        return self.qmp.execute("query-balloon")["actual"]

    def balloon_to(self, target_bytes, timeout, poll=0.1):
        """Ask the balloon for target_bytes; wait until actual reaches it.

        Returns the seconds it took; raises Timeout (with the last value) if not."""
        t0 = time.monotonic()
        self.qmp.execute("balloon", value=target_bytes)
        last = None
        while time.monotonic() - t0 < timeout:
            last = self.balloon_actual()
            if last == target_bytes:
                return time.monotonic() - t0
            time.sleep(poll)
        raise Timeout("balloon actual %s != %d after %g s" % (last, target_bytes, timeout))

    def close(self, timeout=15):
        """Quit via QMP; kill the process group if it does not exit in time."""
        if self.proc is None:
            self.log.close()
            return
        if self.proc.poll() is None and self.qmp is not None:
            try:
                self.qmp.execute("quit", timeout=5)
            except HarnessError:
                pass
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.log.write("note", "QEMU did not quit in %d s; killing it" % timeout)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.log.write("note", "QEMU exit status %s" % self.proc.returncode)
        if self.qmp:
            self.qmp.close()
        for f in (self.proc.stdin,):
            try:
                f.close()
            except OSError:
                pass
        for path in (self.qmp_path, self.migrate_path):
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(self.tmpdir)
        except OSError:
            pass
        self.log.close()
        self.exit_status = self.proc.returncode
        self.proc = None


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl    # looked up before any fork
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    """In the child before exec: get SIGKILL when the harness dies, however it dies.

    (Linux sends it when the thread that started QEMU ends: start guests from the
    main thread.)"""
    PR_SET_PDEATHSIG = 1
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def exit_on_sigterm():
    """Turn SIGTERM into SystemExit so that with-blocks and finally clauses quit QEMU."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def rss_of(pid):
    """VmRSS of a process in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise HarnessError("no VmRSS for pid %d" % pid)


def ram_rss_of(pid, ram_bytes):
    """Rss of the mapping of pid that holds guest RAM: the smallest mapping of
    at least ram_bytes (QEMU maps RAM as one block)."""
    best = None
    size = rss = 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                size = hi - lo
            elif line.startswith("Rss:") and size >= ram_bytes:
                rss = int(line.split()[1]) * 1024
                if best is None or size < best[0]:
                    best = (size, rss)
    if best is None:
        raise HarnessError("no mapping of %d bytes in pid %d" % (ram_bytes, pid))
    return best[1]


class RssSampler:
    """Sample a process's RSS every `period` seconds in a background thread;
    with ram_bytes, the RSS of the guest RAM mapping of that size alone."""

    def __init__(self, pid, period=0.1, ram_bytes=None):
        self.pid = pid
        self.period = period
        self.ram_bytes = ram_bytes
        self.samples = []          # (monotonic time, rss bytes)
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            try:
                rss = (ram_rss_of(self.pid, self.ram_bytes) if self.ram_bytes
                       else rss_of(self.pid))
                self.samples.append((time.monotonic(), rss))
            except (OSError, HarnessError):
                break
            nxt += self.period
            self.stop_ev.wait(max(0.0, nxt - time.monotonic()))

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        return self.samples


def diag(text):
    """Print text as TAP diagnostics ("# ..." lines)."""
    for line in str(text).splitlines():
        print("# " + line, flush=True)


def finish_guest(t, g):
    """The closing checks of a test: the guest still answers, its console
    shows no oops, BUG or warning, and QEMU quits cleanly over QMP."""
    rc, out = g.cmd("echo CMM-ALIVE")
    t.ok(rc == 0 and "CMM-ALIVE" in out, "guest still runs commands", repr(out))
    trouble = g.kernel_trouble()
    t.ok(not trouble, "no kernel oops, BUG or warning on the console", "\n".join(trouble[:10]))
    g.close()
    t.ok(g.exit_status == 0, "QEMU quits cleanly over QMP", "exit status %s" % g.exit_status)


def finish_pair(t, src, dst):
    """The closing checks of a migration test: no oops, BUG or warning on
    either console, and both QEMUs quit cleanly over QMP."""
    trouble = src.kernel_trouble() + dst.kernel_trouble()
    t.ok(not trouble, "no kernel oops, BUG or warning on either console",
         "\n".join(trouble[:10]))
    src.close()
    dst.close()
    t.ok(src.exit_status == 0 and dst.exit_status == 0, "both QEMUs quit cleanly",
         "exit status source %s, destination %s" % (src.exit_status, dst.exit_status))


def migration_trace(path):
    """Read a migration source's trace (-trace virtio_tmem_mig_complete
    -trace vmstate_downtime_save -D PATH).  Returns (us, late): the
    microseconds each part of the stopped guest's state took, by idstr, and
    the persistent tmem pages sent after the guest stopped (None if the
    device sent none)."""
    us, late = {}, None
    with open(path) as f:
        for line in f:
            m = re.search(r"virtio_tmem_mig_complete .* pages=(\d+) ", line)
            if m:
                late = int(m.group(1))
            m = re.search(r"vmstate_downtime_save .*idstr=(\S+) .*downtime=(\d+)", line)
            if m:
                us[m.group(1)] = us.get(m.group(1), 0) + int(m.group(2))
    return us, late


def wait_migration(src, timeout):
    """Poll query-migrate until it ends; return its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        st = src.qmp.execute("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            return st
        if time.monotonic() > deadline:
            return st
        time.sleep(0.2)
