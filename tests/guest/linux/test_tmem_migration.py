"""Live migration of a Linux guest whose swap lives in a persistent tmem pool.

A 384 MiB guest (Debian 6.1) swaps to /dev/tmemswap0 (persistent mode) while
a process holds 640 MiB of patterned memory, so about 256 MiB or more sit in
the host's pool.  The guest migrates to a second QEMU; the destination must
hold the same persistent pages, and the process, resumed there, must find
every byte intact.  The same guest configuration with a process that fits in
RAM (nothing swapped) migrates as well, and both downtimes are reported: the
pool's pages are sent during precopy, so the downtime should not grow with
them.
"""

import time

import harness
from harness import MIB, diag

GUEST_MIB = 384
BOOT_TIMEOUT = 180
HOG_TIMEOUT = 600
MIGRATE_TIMEOUT = 300
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
    src = t.guest(initrd="tmem", mem_mib=GUEST_MIB, args=ARGS)
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
                                                  "downtime-limit": 300})
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
    dst.cmd("echo go > /tmp/go")
    out = wait_for(dst, "/tmp/hog", "exit ", HOG_TIMEOUT)
    t.ok(any("memhog: ok" in l for l in out),
         "%s: on the destination every byte of the hog checks out" % label, "\n".join(out))
    rc, out = dst.cmd("swapoff /dev/tmemswap0 && echo swapoff-ok")
    t.ok(rc == 0, "%s: swapoff on the destination" % label, "\n".join(out))
    harness.finish_pair(t, src, dst)
    return st.get("downtime"), swapped


def run(t):
    down_swap, swapped = one(t, "swapped", 640, 256)
    down_none, _ = one(t, "no swap", 160, 0)
    diag("downtime: %s ms with %d MiB in the persistent pool, %s ms without"
         % (down_swap, swapped // MIB, down_none))
