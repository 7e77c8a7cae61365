"""Several guests and qemu-cmmd: what the manager's test, demo and benchmark share.

A fleet guest is a harness.Guest booted from the cmmd initramfs with a balloon
(cmma=on, deflate-on-oom=on), a disk for page cache, -name NAME and a second
QMP socket DIR/NAME.qmp for the daemon.  Daemon runs qemu-cmmd on a config
written from a dict and reads its status through cmmstat --json.
Python 3 standard library only.
"""

import json
import os
import re
import signal
import subprocess
import time

import harness
from harness import MIB


def tools_dir(qemu):
    """Where the build puts qemu-cmmd and cmmstat, next to the emulator."""
    return os.path.join(os.path.dirname(os.path.abspath(qemu)), "tools", "cmmd")


CMM_BALLOON = "virtio-balloon-ccw,cmma=on,deflate-on-oom=on"


def guest_args(name, sockdir, disk, balloon=CMM_BALLOON, drive_opts="", qmp=True):
    return ["-name", name] + \
        (["-qmp", "unix:%s,server=on,wait=off" % os.path.join(sockdir, name + ".qmp")]
         if qmp else []) + \
           ["-device", balloon,
            "-drive", "file=%s,format=raw,if=none,id=d0%s" % (disk, drive_opts),
            "-device", "virtio-blk-ccw,drive=d0"]


def libvirt_args(name, sockdir, xml):
    """The QEMU arguments that the documented libvirt domain XML passes through
    <qemu:commandline>, with its socket moved to SOCKDIR/NAME.qmp."""
    import xml.etree.ElementTree as ET
    ns = {"qemu": "http://libvirt.org/schemas/domain/qemu/1.0"}
    root = ET.parse(xml).getroot()
    dom = root.find("name").text
    return [a.get("value").replace("/run/qemu-cmm/%s.qmp" % dom,
                                   os.path.join(sockdir, name + ".qmp"))
            for a in root.findall("qemu:commandline/qemu:arg", ns)]


def make_disk(path, mib):
    with open(path, "wb") as f:
        f.truncate(mib * MIB)
    return path


def new_guest(factory, name, sockdir, mem_mib=768, disk_mib=256, balloon=CMM_BALLOON,
              drive_opts="", extra=(), qmp=True, **kw):
    """Create (not start) a fleet guest; factory is t.guest or harness.Guest-like.

    qmp=False leaves the daemon's QMP socket to @extra."""
    disk = make_disk(os.path.join(sockdir, name + ".raw"), disk_mib)
    args = guest_args(name, sockdir, disk, balloon, drive_opts, qmp)
    return factory(initrd="cmmd", mem_mib=mem_mib, args=args + list(extra), **kw)


def prepare(g, cache_mib, timeout=180):
    """Boot to the shell, load the balloon driver, fill the page cache."""
    g.wait_ready(timeout)
    rc, out = g.cmd("load_module virtio_balloon && cache_fill %d" % cache_mib,
                    timeout=timeout)
    if rc != 0:
        raise harness.HarnessError("guest setup failed: %s" % "\n".join(out))


def oom_kills(g):
    rc, out = g.cmd("oom_kills")
    nums = [l.strip() for l in out if l.strip().isdigit()]
    return int(nums[-1]) if rc == 0 and nums else -1


def write_config(path, groups):
    """groups: {"host": {...}, "daemon": {...}, "guest g2": {...}} -> key file."""
    with open(path, "w") as f:
        for group, keys in groups.items():
            f.write("[%s]\n" % group)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")
    return path


class Daemon:
    """qemu-cmmd in the background, logging to a file."""

    DECISION = re.compile(r"decision(?: \(dry run\))?: guest=(\S+) action=(\S+) "
                          r"value=(\d+)M")

    def __init__(self, qemu, config, control, log, args=()):
        self.bin = os.path.join(tools_dir(qemu), "qemu-cmmd")
        self.stat = os.path.join(tools_dir(qemu), "cmmstat")
        self.config = config
        self.control = control
        self.logpath = log
        self.args = list(args)
        self.proc = None

    def start(self):
        self.logf = open(self.logpath, "a")
        self.logf.write("==== start %s\n" % time.strftime("%T"))
        self.logf.flush()
        self.proc = subprocess.Popen([self.bin, "--config", self.config] + self.args,
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=harness._die_with_parent)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.control):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise harness.HarnessError("qemu-cmmd did not start: see %s" % self.logpath)
            time.sleep(0.05)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self):
        """The daemon's status document, through cmmstat --json."""
        r = subprocess.run([self.stat, "--socket", self.control, "--json"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise harness.HarnessError("cmmstat: %s" % r.stderr.strip())
        return json.loads(r.stdout)

    def table(self):
        r = subprocess.run([self.stat, "--socket", self.control],
                           capture_output=True, text=True, timeout=10)
        return r.stdout if r.returncode == 0 else "cmmstat failed: " + r.stderr

    def guest(self, name, st=None):
        st = st or self.status()
        for g in st["guests"]:
            if g["name"] == name:
                return g
        return None

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def decisions(self):
        """(guest, action, value in MiB) for every decision logged so far."""
        return [(m.group(1), m.group(2), int(m.group(3)))
                for m in self.DECISION.finditer(self.log())]

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.logf.close()

    def stop(self, timeout=10):
        """SIGTERM; return the exit status."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def wait_for(fn, timeout, period=0.25):
    """Call fn until it returns something true; return that, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(period)
