"""Linux's own CMM-1 driver gives memory back through DIAG 0x10.

Debian's s390x kernels build in the z/VM CMM driver (CONFIG_CMM=y): writing N
to /proc/sys/vm/cmm_pages makes it allocate N pages and release each with
DIAG 0x10; writing 0 frees them in the guest again.  cmm_timed_pages does the
same for pages that the driver returns on its own, cmm_timeout pages every so
many seconds.  On the qemu-cmm machine type (the default) DIAG 0x10 releases
the pages, so QEMU's RSS falls by about N pages (docs/devel/cmma-essa.rst,
"DIAG 0x10"; that s390-ccw-virtio-10.0 keeps upstream's specification
exception is the bare-metal test t-diag10-upstream).

The guest boots with cmma=off so that freed memory stays resident and the
only way back to the host is DIAG 0x10.
"""

import time

from harness import MIB, diag
import harness

GUEST_MIB = 1024
WARM_SPARE_MIB = 48         # free memory left out of the warm-up fill
CMM_MIB = 400               # given back with cmm_pages
TIMED_MIB = 200             # ... and with cmm_timed_pages
WANT = 0.85                 # RSS must fall by at least this part
PAGES_PER_MIB = MIB // 4096
BOOT_TIMEOUT = 180


def warm(g, t, what):
    """Fill all but WARM_SPARE_MIB of the guest's free memory with tmpfs, and
    delete it: whichever free pages the CMM driver takes next, the host holds
    them (pages it released before and nobody touched since would not count)."""
    rc, out = g.cmd("n=$(awk '/^MemFree:/ { print int($2 / 1024) - %d }' /proc/meminfo)"
                    " && echo WARM=$n && fill_tmpfs /mnt/warm $n && drop_tmpfs /mnt/warm"
                    % WARM_SPARE_MIB, timeout=300)
    t.require(rc == 0, "%s: guest fills and frees its free memory" % what,
              "\n".join(out))


def proc_value(g, name):
    rc, out = g.cmd("cat /proc/sys/vm/%s" % name)
    try:
        return int(out[-1].split()[0]) if rc == 0 and out else None
    except ValueError:
        return None


def wait_value(g, name, want, timeout):
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        v = proc_value(g, name)
        if v == want:
            return v
        time.sleep(0.5)
    return v


def want_fall(mib, before):
    """What releasing mib MiB must take off the resident guest RAM: the
    driver may take free pages that are not resident (released before and
    not touched since), at most as many as the RAM not resident."""
    return WANT * mib * MIB - (GUEST_MIB * MIB - before)


def settle_rss(g, seconds=1.5):
    time.sleep(seconds)
    return g.ram_rss()


def verify_pattern(g, t, what):
    """Write 4 x 60 MiB of distinct content into tmpfs and check each."""
    rc, out = g.cmd("tmpfs_at /mnt/p 300 && pat_make /mnt/p && "
                    "pat_expect /mnt/p 4 60 0 1 && bad=0 && "
                    "for c in 0 1 2 3; do pat_stream /mnt/p $c 60 > /mnt/p/f$c && "
                    "s=$(md5sum < /mnt/p/f$c) && "
                    "[ \"${s%% *}\" = \"$(cat /mnt/p/expect.$c)\" ] || bad=$((bad+1)); "
                    "done; rm -f /mnt/p/f*; echo BAD=$bad; [ $bad = 0 ]", timeout=300)
    t.ok(rc == 0, "%s: the guest writes and verifies 240 MiB of patterns" % what,
         "\n".join(out[-5:]))


def run(t):
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB, append="cmma=off")
    g.start()
    t.attempt("guest boots to CMM-READY", g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("ls /proc/sys/vm/cmm_pages /proc/sys/vm/cmm_timed_pages "
                    "/proc/sys/vm/cmm_timeout")
    t.require(rc == 0, "the kernel has the CMM driver (/proc/sys/vm/cmm_*)",
              "\n".join(out))

    # ---- cmm_pages -----------------------------------------------------------
    warm(g, t, "cmm_pages")
    q0 = g.query_cmma()
    before = settle_rss(g)
    n = CMM_MIB * PAGES_PER_MIB
    g.cmd("echo %d > /proc/sys/vm/cmm_pages" % n)
    got = wait_value(g, "cmm_pages", n, 120)
    t.ok(got == n, "echo %d > cmm_pages: the driver holds %d pages" % (n, n),
         "cmm_pages reads %s" % got)
    after = settle_rss(g)
    q1 = g.query_cmma()
    released = q1["diag10-released"] - q0["diag10-released"]
    diag("cmm_pages %d: RSS %d MiB -> %d MiB; DIAG 0x10 %d calls, %d MiB released"
         % (n, before // MIB, after // MIB, q1["diag10"] - q0["diag10"],
            released // MIB))
    t.ok(before - after >= want_fall(CMM_MIB, before),
         "the resident guest RAM on the host falls by about %d MiB (at least %d%%)" % (CMM_MIB, WANT * 100),
         "fell by %d MiB, %d MiB of guest RAM was not resident"
         % ((before - after) // MIB, GUEST_MIB - before // MIB))
    t.ok(q1["diag10"] - q0["diag10"] >= n and released >= WANT * CMM_MIB * MIB,
         "query-cmma counts the DIAG 0x10 calls and the bytes they released",
         "%d calls, %d MiB" % (q1["diag10"] - q0["diag10"], released // MIB))
    t.ok(q1["released"] == q0["released"],
         "nothing was released as unused (the guest runs cmma=off)",
         "released %d -> %d" % (q0["released"], q1["released"]))

    g.cmd("echo 0 > /proc/sys/vm/cmm_pages")
    got = wait_value(g, "cmm_pages", 0, 120)
    t.ok(got == 0, "echo 0 > cmm_pages: the driver gives every page back",
         "cmm_pages reads %s" % got)
    verify_pattern(g, t, "after cmm_pages 0")

    # ---- cmm_timed_pages -----------------------------------------------------
    warm(g, t, "cmm_timed_pages")
    before = settle_rss(g)
    n = TIMED_MIB * PAGES_PER_MIB
    # a long timeout first, so the pages stay out while the RSS is read
    g.cmd("echo '%d 3600' > /proc/sys/vm/cmm_timeout" % n)
    g.cmd("echo %d > /proc/sys/vm/cmm_timed_pages" % n)
    got = wait_value(g, "cmm_timed_pages", n, 120)
    t.ok(got == n, "echo %d > cmm_timed_pages: the driver holds them" % n,
         "cmm_timed_pages reads %s" % got)
    after = settle_rss(g)
    diag("cmm_timed_pages %d: RSS %d MiB -> %d MiB"
         % (n, before // MIB, after // MIB))
    t.ok(before - after >= want_fall(TIMED_MIB, before),
         "timed pages: the resident guest RAM falls by about %d MiB" % TIMED_MIB,
         "fell by %d MiB, %d MiB of guest RAM was not resident"
         % ((before - after) // MIB, GUEST_MIB - before // MIB))
    g.cmd("echo '%d 1' > /proc/sys/vm/cmm_timeout" % n)
    got = wait_value(g, "cmm_timed_pages", 0, 60)
    t.ok(got == 0, "cmm_timeout '%d 1': the driver returns the timed pages" % n,
         "cmm_timed_pages reads %s" % got)
    verify_pattern(g, t, "after the timeout")
    harness.finish_guest(t, g)
