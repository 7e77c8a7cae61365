"""The lazy discard policy: freed memory stays resident until cmma-flush.

A 2 GiB guest started with `-global s390-storage_attributes-tcg.discard=lazy`
writes 1.5 GiB into a tmpfs and deletes it.  QEMU's RSS must stay within 10 %
of its value for 5 s after the deletion, and query-cmma must show more than
1 GiB pending discard.  cmma-flush must then report more than 1 GiB released,
and RSS must fall by at least 90 % of 1.5 GiB.
"""

import time

import harness
from harness import MIB, diag

GIB = 1024 * MIB
GUEST_MIB = 2048
FILL_MIB = 1536
STAY = 5.0                  # seconds RSS must stay high
STAY_FRACTION = 0.1         # ... within this part of its value
DROP_FRACTION = 0.9
BOOT_TIMEOUT = 180
FILL_TIMEOUT = 300



def run(t):
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB,
                args=["-global", "s390-storage_attributes-tcg.discard=lazy"])
    g.start()
    t.attempt("guest boots to CMM-READY with discard=lazy", g.wait_ready, BOOT_TIMEOUT)
    q = g.query_cmma()
    t.ok(q["discard-policy"] == "lazy", "query-cmma reports the lazy policy",
         "discard-policy %r" % q["discard-policy"])

    rc, out = g.cmd("tmpfs_at /mnt/fill %d && fill_files /mnt/fill %d 6"
                    % (FILL_MIB + 64, FILL_MIB), timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest writes %d MiB into tmpfs" % FILL_MIB, "\n".join(out))
    before = g.rss()
    t.ok(before >= (FILL_MIB - 100) * MIB,
         "host RSS is high after the fill (>= %d MiB)" % (FILL_MIB - 100),
         "RSS %d MiB" % (before // MIB))

    sampler = harness.RssSampler(g.pid, 0.1).start()
    rc, out = g.cmd("rm -f /mnt/fill/z*", timeout=FILL_TIMEOUT)
    t_end = time.monotonic()
    t.require(rc == 0, "guest deletes the files", "\n".join(out))
    time.sleep(STAY)
    samples = sampler.stop()
    low = min(r for _, r in samples)
    diag("RSS %d MiB before the deletion, lowest %d MiB in the %.1f s after it"
         % (before // MIB, low // MIB, time.monotonic() - t_end))
    t.ok(low >= (1 - STAY_FRACTION) * before,
         "RSS stays within %d%% for %g s after the deletion" % (STAY_FRACTION * 100, STAY),
         "RSS %d MiB before, lowest %d MiB" % (before // MIB, low // MIB))

    q = g.query_cmma()
    diag("query-cmma: unused %d MiB, pending-discard %d MiB, discarded %d MiB, released %d MiB"
         % (q["unused"] // MIB, q["pending-discard"] // MIB, q["discarded"] // MIB,
            q["released"] // MIB))
    t.ok(q["pending-discard"] > GIB, "query-cmma pending-discard > 1 GiB",
         "pending-discard %d MiB" % (q["pending-discard"] // MIB))

    rss0 = g.rss()
    t0 = time.monotonic()
    res = g.qmp.execute("cmma-flush", timeout=60)
    took = time.monotonic() - t0
    time.sleep(0.3)
    rss1 = g.rss()
    released = res.get("released", 0) if isinstance(res, dict) else 0
    diag("cmma-flush took %.2f s, released %d MiB; RSS %d -> %d MiB"
         % (took, released // MIB, rss0 // MIB, rss1 // MIB))
    t.ok(released > GIB, "cmma-flush releases > 1 GiB", "returned %r" % (res,))
    t.ok(rss0 - rss1 >= DROP_FRACTION * FILL_MIB * MIB,
         "RSS falls by >= %d%% of %d MiB after cmma-flush" % (DROP_FRACTION * 100, FILL_MIB),
         "RSS %d -> %d MiB" % (rss0 // MIB, rss1 // MIB))
    q = g.query_cmma()
    t.ok(q["pending-discard"] < 64 * MIB, "little is pending after cmma-flush",
         "pending-discard %d MiB" % (q["pending-discard"] // MIB))

    harness.finish_guest(t, g)
