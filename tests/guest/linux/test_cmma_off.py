"""A Linux guest that does not use CMMA: `cmma=off`, or a CPU model without cmm.

With `cmma=off` on the kernel command line the guest must not execute ESSA at
all, neither at boot nor when it fills and frees 1.5 GiB of tmpfs, and since no
page is marked unused QEMU's RSS must stay high after the deletion.  With
`-cpu qemu,cmm=off,cmmnt=off` the guest's detection ESSA is an operation
exception: the guest must boot without CMMA and query-cmma count no ESSA.
"""

import time

import harness
from harness import MIB, diag

GUEST_MIB = 2048
FILL_MIB = 1536
STAY_FRACTION = 0.1         # RSS may fall by at most this part of FILL_MIB
WATCH = 2.0                 # seconds after the deletion
BOOT_TIMEOUT = 180
FILL_TIMEOUT = 300



def no_essa(q):
    return len(q["essa"]) == 8 and not any(q["essa"])


def run(t):
    # ---- cmma=off on the kernel command line -----------------------------------------
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB, append="cmma=off")
    g.start()
    t.attempt("guest with cmma=off boots to CMM-READY", g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("cat /proc/cmdline")
    t.ok(rc == 0 and any("cmma=off" in l for l in out), "guest sees cmma=off",
         repr(out))
    q = g.query_cmma()
    diag("after boot: essa %s, unused %d MiB, released %d MiB"
         % (q["essa"], q["unused"] // MIB, q["released"] // MIB))
    t.ok(no_essa(q), "cmma=off: no ESSA at boot", "essa %r" % (q["essa"],))
    t.ok(q["stable"] == q["total"] and q["unused"] == 0 and q["no-dat"] == 0,
         "cmma=off: every page stays stable, none no-DAT",
         "stable %d, unused %d, no-dat %d of %d"
         % (q["stable"], q["unused"], q["no-dat"], q["total"]))

    rc, out = g.cmd("tmpfs_at /mnt/fill %d && fill_files /mnt/fill %d 6"
                    % (FILL_MIB + 64, FILL_MIB), timeout=FILL_TIMEOUT)
    t.require(rc == 0, "cmma=off: guest writes %d MiB into tmpfs" % FILL_MIB,
              "\n".join(out))
    before = g.rss()
    t.ok(before >= (FILL_MIB - 100) * MIB,
         "cmma=off: host RSS is high after the fill (>= %d MiB)" % (FILL_MIB - 100),
         "RSS %d MiB" % (before // MIB))
    sampler = harness.RssSampler(g.pid, 0.1).start()
    rc, out = g.cmd("rm -f /mnt/fill/z*", timeout=FILL_TIMEOUT)
    t_end = time.monotonic()
    time.sleep(WATCH + 0.2)
    samples = sampler.stop()
    t.require(rc == 0, "cmma=off: guest deletes the files", "\n".join(out))
    low = min(r for ts, r in samples)
    diag("RSS %d MiB before the deletion, lowest %d MiB within %g s after it"
         % (before // MIB, low // MIB, WATCH))
    t.ok(before - low <= STAY_FRACTION * FILL_MIB * MIB,
         "cmma=off: host RSS stays high after the deletion (falls < %d MiB)"
         % (STAY_FRACTION * FILL_MIB),
         "RSS %d MiB before, %d MiB lowest after" % (before // MIB, low // MIB))
    q = g.query_cmma()
    t.ok(no_essa(q), "cmma=off: no ESSA after the fill and the deletion",
         "essa %r" % (q["essa"],))
    t.ok(q["released"] == 0, "cmma=off: nothing released",
         "released %d MiB" % (q["released"] // MIB))
    trouble = g.kernel_trouble()
    t.ok(not trouble, "cmma=off: no kernel oops, BUG or warning", "\n".join(trouble[:10]))
    g.close()
    t.ok(g.exit_status == 0, "cmma=off: QEMU quits cleanly", "exit status %s" % g.exit_status)

    # ---- CPU model without cmm ---------------------------------------------------------
    g = t.guest(initrd="cmma", mem_mib=1024, args=["-cpu", "qemu,cmm=off,cmmnt=off"])
    g.start()
    t.attempt("guest with -cpu qemu,cmm=off,cmmnt=off boots to CMM-READY",
              g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("echo CMM-ALIVE")
    t.ok(rc == 0 and "CMM-ALIVE" in out, "cmm=off: guest runs commands", repr(out))
    q = g.query_cmma()
    diag("cmm=off after boot: essa %s, unused %d MiB" % (q["essa"], q["unused"] // MIB))
    t.ok(no_essa(q), "cmm=off: query-cmma counts no ESSA", "essa %r" % (q["essa"],))
    t.ok(q["unused"] == 0, "cmm=off: no page is unused", "unused %d" % q["unused"])
    g.close()
    t.ok(g.exit_status == 0, "cmm=off: QEMU quits cleanly", "exit status %s" % g.exit_status)
