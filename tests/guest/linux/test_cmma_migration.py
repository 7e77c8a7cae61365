"""Live migration of a CMMA guest while it allocates and frees memory.

A 1 GiB source guest keeps a 64 MiB buffer of known content (md5sum recorded)
and runs a loop that writes and deletes 32 MiB tmpfs files without pause, so
pages keep changing between stable and unused during the migration.  The
source migrates over a unix socket to a destination QEMU started with
`-S -incoming`.  While the destination is still paused, its query-cmma page
counts must equal those of the stopped source (the states migrated, with
several hundred MiB unused).  After `cont` the guest must stop its loop on the
destination's console, find its buffer intact and run commands, and memory it
frees there must go back to the host.
"""

import time

import harness
from harness import MIB, diag

GUEST_MIB = 1024
BUF_MIB = 64
CHURN_MIB = 32
FILL_MIB = 384
MIN_UNUSED_MIB = 300
MIGRATE_TIMEOUT = 120
BOOT_TIMEOUT = 180
STATES = ("stable", "unused", "potentially-volatile", "volatile", "no-dat")
DIR = "/mnt/m"



def run(t):
    src = t.guest(initrd="cmma", mem_mib=GUEST_MIB)
    src.start()
    t.attempt("source guest boots to CMM-READY", src.wait_ready, BOOT_TIMEOUT)
    rc, out = src.cmd("tmpfs_at %s %d && pat_make %s && pat_stream %s 5 %d > %s/buf && "
                      "md5sum %s/buf" % (DIR, GUEST_MIB * 3 // 4, DIR, DIR, BUF_MIB, DIR, DIR),
                      timeout=120)
    buf_sum = out[-1].split()[0] if rc == 0 and out and "/buf" in out[-1] else None
    t.require(buf_sum, "source writes a %d MiB buffer and records its md5sum" % BUF_MIB,
              "\n".join(out))

    rc, out = src.cmd("churn_start %s %d" % (DIR, CHURN_MIB))
    t.require(rc == 0, "source starts the allocate/free loop", "\n".join(out))
    e0 = src.query_cmma()["essa"]
    time.sleep(2)
    e1 = src.query_cmma()["essa"]
    t.ok(e1[2] > e0[2] and e1[7] + e1[1] > e0[7] + e0[1],
         "the loop makes pages unused and stable again (ESSA counts grow)",
         "essa %r -> %r" % (e0, e1))

    dst = t.guest(initrd="cmma", mem_mib=GUEST_MIB, incoming=True)
    dst.start()
    # Start slowly and speed up only once the loop has freed pages while the
    # migration is active: at full speed a migration can end before the
    # guest's loop gets a time slice, and the check below would be luck.
    src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": 16 * MIB})
    t0 = time.monotonic()
    src.qmp.execute("migrate", uri=dst.migrate_uri)
    e2 = None
    while time.monotonic() < t0 + 60:
        status = src.qmp.execute("query-migrate").get("status")
        if status in ("completed", "failed", "cancelled"):
            break
        if status != "active":
            time.sleep(0.05)
            continue
        e = src.query_cmma()["essa"]
        if e2 is None:
            e2 = e
        elif e[2] > e2[2]:
            break
        time.sleep(0.2)
    e2 = e2 or src.query_cmma()["essa"]
    src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": 1024 * MIB})
    st = harness.wait_migration(src, MIGRATE_TIMEOUT)
    took = time.monotonic() - t0
    ram = st.get("ram", {})
    diag("migration: %s after %.1f s; %d MiB transferred, %d dirty syncs, downtime %s ms"
         % (st.get("status"), took, ram.get("transferred", 0) // MIB,
            ram.get("dirty-sync-count", 0), st.get("downtime")))
    t.require(st.get("status") == "completed",
              "migration completes within %d s" % MIGRATE_TIMEOUT,
              "query-migrate %r" % (st,))
    t.ok(src.qmp.execute("query-status")["status"] == "postmigrate",
         "source is in postmigrate")

    qs, qd = src.query_cmma(), dst.query_cmma()
    e3 = qs["essa"]
    diag("during the migration the source ran ESSA %d times (%d set-unused)"
         % (sum(e3) - sum(e2), e3[2] - e2[2]))
    t.ok(e3[2] > e2[2], "the loop freed pages during the migration",
         "essa %r -> %r" % (e2, e3))
    diag("source:      " + ", ".join("%s %d MiB" % (k, qs[k] // MIB) for k in STATES))
    diag("destination: " + ", ".join("%s %d MiB" % (k, qd[k] // MIB) for k in STATES))
    diffs = ["%s %d != %d" % (k, qd[k], qs[k]) for k in STATES if qd[k] != qs[k]]
    t.ok(not diffs, "destination's page states equal the stopped source's",
         "; ".join(diffs))
    t.ok(qd["unused"] > MIN_UNUSED_MIB * MIB,
         "destination has > %d MiB unused" % MIN_UNUSED_MIB,
         "unused %d MiB" % (qd["unused"] // MIB))

    dst.qmp.execute("cont")
    t.ok(dst.qmp.execute("query-status")["status"] == "running", "destination runs")
    rc, out = dst.cmd("churn_stop %s" % DIR, timeout=120)
    t.ok(rc == 0 and any("churn wrote" in l for l in out),
         "the loop stops on the destination's console", "\n".join(out))
    diag(" ".join(l for l in out if "churn wrote" in l))
    rc, out = dst.cmd("md5sum %s/buf" % DIR, timeout=120)
    got = out[-1].split()[0] if rc == 0 and out else None
    t.ok(got == buf_sum, "the buffer's md5sum is unchanged after the migration",
         "md5 %s, recorded %s" % (got, buf_sum))
    rc, out = dst.cmd("echo CMM-ALIVE; uname -r")
    t.ok(rc == 0 and "CMM-ALIVE" in out, "guest runs commands on the destination", repr(out))

    # releasing memory works on the destination once the migration is over
    rc, out = dst.cmd("fill_files %s %d 3" % (DIR, FILL_MIB), timeout=120)
    t.require(rc == 0, "destination guest writes %d MiB" % FILL_MIB, "\n".join(out))
    before = dst.rss()
    rc, out = dst.cmd("rm -f %s/z*" % DIR, timeout=60)
    t_end = time.monotonic()
    after = before
    while time.monotonic() < t_end + 2.0:
        after = min(after, dst.rss())
        time.sleep(0.1)
    diag("destination RSS %d MiB after the fill, %d MiB within 2 s of deleting it"
         % (before // MIB, after // MIB))
    t.ok(before - after >= 0.9 * FILL_MIB * MIB,
         "destination returns >= 90%% of %d MiB freed after the migration" % FILL_MIB,
         "RSS %d -> %d MiB" % (before // MIB, after // MIB))

    harness.finish_pair(t, src, dst)
