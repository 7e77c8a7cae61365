"""Live migration of a Linux guest whose swap lives in a persistent tmem pool.

A 384 MiB guest (Debian 6.1) swaps to /dev/tmemswap0 (persistent mode) while
a process holds 640 MiB of patterned memory, so about 256 MiB or more sit in
the host's pool.  The guest migrates to a second QEMU; the destination must
hold the same persistent pages, and the process, resumed there, must find
every byte intact.  The same guest with a process that fills RAM but not
swap migrates as well.  The pool's pages go during precopy: the source's
trace must show (almost) none sent after the guest stopped, and the test
reports both downtimes and the part of each that RAM and the tmem device
took (vmstate_downtime_save).
"""

import os
import tempfile
import time

import harness
from harness import MIB, diag

GUEST_MIB = 384
BOOT_TIMEOUT = 180
HOG_TIMEOUT = 600
MIGRATE_TIMEOUT = 300
# Tight enough that RAM converges far below it in both runs, so the two
# downtimes compare what is left for the stopped guest, not QEMU's budget.
DOWNTIME_LIMIT_MS = 50
ARGS = ["-object", "tmem-pool,id=tp0,size=1G",
        "-device", "virtio-tmem-ccw,pool=tp0,id=tmem0,persistent=on"]


def client(g):
    for pool in g.qmp.execute("query-tmem"):
        for c in pool["clients"]:
            if c["device"] == "tmem0":
                return c
    return {}


def wait_for(g, path, word, timeout):
    deadline = time.monotonic() + timeout
    out = []
    while time.monotonic() < deadline:
        rc, out = g.cmd("cat %s" % path, timeout=60)
        if any(word in l for l in out) or any(l.startswith("exit ") for l in out):
            break
        time.sleep(2)
    return out


def one(t, label, hog_mib, min_swapped_mib):
    fd, trace = tempfile.mkstemp(prefix="tmem-mig-", suffix=".trace")
    os.close(fd)
    src = t.guest(initrd="tmem", mem_mib=GUEST_MIB,
                  args=ARGS + ["-trace", "virtio_tmem_mig_complete",
                               "-trace", "vmstate_downtime_save", "-D", trace])
    src.start()
    t.attempt("%s: source boots" % label, src.wait_ready, BOOT_TIMEOUT)
    rc, out = src.cmd("insmod $(find /lib/modules -name virtio_tmem.ko) && "
                      "mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0 && "
                      "mkfifo /tmp/go && (memhog %d hold /tmp/go 23 > /tmp/hog 2>&1; "
                      "echo \"exit $?\" >> /tmp/hog) & :" % hog_mib)
    t.require(rc == 0, "%s: swap on /dev/tmemswap0 and a %d MiB hog start" % (label, hog_mib),
              "\n".join(out))
    out = wait_for(src, "/tmp/hog", "filled", HOG_TIMEOUT)
    t.require(any("filled" in l for l in out), "%s: the hog fills its memory" % label,
              "\n".join(out))
    time.sleep(2)
    cs = client(src)
    swapped = cs.get("persistent-pages", 0) * 4096
    diag("%s: %d MiB in the persistent pool before migration" % (label, swapped // MIB))
    t.ok(swapped >= min_swapped_mib * MIB,
         "%s: at least %d MiB are swapped out to the pool" % (label, min_swapped_mib),
         "%d MiB" % (swapped // MIB))

    dst = t.guest(initrd="tmem", mem_mib=GUEST_MIB, args=ARGS, incoming=True)
    dst.start()
    src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": 4096 * MIB,
                                                  "downtime-limit": DOWNTIME_LIMIT_MS})
    t0 = time.monotonic()
    src.qmp.execute("migrate", uri=dst.migrate_uri)
    st = harness.wait_migration(src, MIGRATE_TIMEOUT)
    took = time.monotonic() - t0
    ram = st.get("ram", {})
    diag("%s: migration %s in %.1f s, downtime %s ms, RAM %d MiB sent, %d dirty syncs"
         % (label, st.get("status"), took, st.get("downtime"),
            ram.get("transferred", 0) // MIB, ram.get("dirty-sync-count", 0)))
    t.require(st.get("status") == "completed", "%s: migration completes" % label,
              repr(st))
    cd = client(dst)
    t.ok(cd.get("persistent-pages") == client(src).get("persistent-pages"),
         "%s: the destination holds the same persistent pages" % label,
         "source %r destination %r" % (client(src).get("persistent-pages"),
                                       cd.get("persistent-pages")))
    dst.qmp.execute("cont")
    t.ok(dst.qmp.execute("query-status")["status"] == "running",
         "%s: the destination runs" % label)
    dst.cmd("echo go > /tmp/go")
    out = wait_for(dst, "/tmp/hog", "exit ", HOG_TIMEOUT)
    t.ok(any("memhog: ok" in l for l in out),
         "%s: on the destination every byte of the hog checks out" % label, "\n".join(out))
    rc, out = dst.cmd("swapoff /dev/tmemswap0 && echo swapoff-ok")
    t.ok(rc == 0, "%s: swapoff on the destination" % label, "\n".join(out))
    harness.finish_pair(t, src, dst)

    # the pool went during precopy: the hog was idle, so (almost) nothing
    # of it is left for the stopped guest
    us, late = harness.migration_trace(trace)
    os.unlink(trace)
    total = cs.get("persistent-pages", 0)
    t.ok(late is not None and late <= total // 100,
         "%s: at most 1%% of the %d persistent pages are sent after the guest stops"
         % (label, total), "sent then: %r" % late)
    tmem_us = sum(v for k, v in us.items() if "virtio-tmem" in k)
    diag("%s: of the stopped guest's state, RAM took %d us, the tmem device and "
         "pages %d us" % (label, us.get("ram", 0), tmem_us))
    return st.get("downtime"), swapped


def run(t):
    down_swap, swapped = one(t, "swapped", 640, 256)
    # the same guest with RAM as full, but nothing in the pool
    down_none, _ = one(t, "no swap", 280, 0)
    diag("downtime: %s ms with %d MiB in the persistent pool, %s ms without"
         % (down_swap, swapped // MIB, down_none))
