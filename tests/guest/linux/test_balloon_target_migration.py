"""A footprint target survives a live migration in the middle of being reached.

A 2 GiB guest (`virtio-balloon-ccw,cmma=on`, lazy discard policy) keeps a
256 MiB buffer and frees 1.5 GiB it wrote.  A 512 MiB footprint target with a
128 MiB/s cap is set; once it has made some progress the guest migrates to a
destination QEMU.  The migration must complete, the destination must report
the same target (kind, size, rate) and go on to reach it, by reclaim (the
balloon stays near 0 pages), with the buffer intact.
"""

import time

import harness
from harness import MIB, diag

GUEST_MIB = 2048
BOOT_TIMEOUT = 180
FILL_TIMEOUT = 300
MIGRATE_TIMEOUT = 300
TARGET = 512 * MIB
RATE = 128 * MIB
ARGS = ["-device", "virtio-balloon-ccw,cmma=on",
        "-global", "s390-storage_attributes-tcg.discard=lazy"]


def run(t):
    src = t.guest(initrd="cmma", mem_mib=GUEST_MIB, args=ARGS)
    src.start()
    t.attempt("source guest boots", src.wait_ready, BOOT_TIMEOUT)
    rc, out = src.cmd("load_module virtio_balloon && mkdir -p /mnt/pat && pat_make /mnt/pat"
                      " && tmpfs_at /mnt/f 1900 && pat_stream /mnt/pat 5 256 > /mnt/f/buf"
                      " && md5sum /mnt/f/buf", timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest keeps a 256 MiB buffer", "\n".join(out))
    buf_sum = out[-1].split()[0]
    rc, out = src.cmd("pat_stream /mnt/pat 1 1536 > /mnt/f/x && rm -f /mnt/f/x",
                      timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest writes and deletes 1.5 GiB", "\n".join(out))
    q = src.qmp.execute("query-balloon")
    diag("source before the target: footprint %d MiB" % (q["footprint"] // MIB))

    src.qmp.execute("balloon-set-target", kind="footprint", target=TARGET, rate=RATE)
    time.sleep(2)
    q = src.qmp.execute("query-balloon")
    diag("source after 2 s: footprint %d MiB, reclaimed %d MiB"
         % (q["footprint"] // MIB, q["target"]["reclaimed"] // MIB))
    t.ok(q["target"]["reclaimed"] > 0 and q["footprint"] > TARGET,
         "the target is under way but not reached when the migration starts",
         "footprint %d MiB, reclaimed %d MiB" % (q["footprint"] // MIB,
                                                 q["target"]["reclaimed"] // MIB))

    dst = t.guest(initrd="cmma", mem_mib=GUEST_MIB, args=ARGS, incoming=True)
    dst.start()
    src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": 1024 * MIB})
    t0 = time.monotonic()
    src.qmp.execute("migrate", uri=dst.migrate_uri)
    st = harness.wait_migration(src, MIGRATE_TIMEOUT)
    diag("migration %s in %.1f s" % (st.get("status"), time.monotonic() - t0))
    t.require(st.get("status") == "completed", "the migration completes",
              "query-migrate %r" % (st,))

    qd = dst.qmp.execute("query-balloon")
    tg = qd.get("target", {})
    t.ok(tg.get("kind") == "footprint" and tg.get("target") == TARGET and
         tg.get("rate") == RATE,
         "the destination has the same target (footprint, 512 MiB, 128 MiB/s)",
         "target %r" % (tg,))
    dst.qmp.execute("cont")
    t1 = time.monotonic()
    try:
        dst.qmp.wait_event("BALLOON_TARGET_REACHED", 90)
        took = time.monotonic() - t1
    except harness.Timeout:
        took = None
    qd = dst.qmp.execute("query-balloon")
    ps = qd["page-states"]
    diag("destination: reached in %s s; footprint %d MiB, ballooned %d MiB, "
         "reclaimed %d MiB" % ("%.1f" % took if took is not None else "-",
                               qd["footprint"] // MIB, ps["ballooned"] // MIB,
                               qd["target"]["reclaimed"] // MIB))
    t.ok(took is not None and qd["footprint"] <= TARGET,
         "the destination goes on to reach the target",
         "footprint %d MiB" % (qd["footprint"] // MIB))
    t.ok(ps["ballooned"] <= 16 * MIB, "... by reclaim, the balloon near 0 pages",
         "ballooned %d MiB" % (ps["ballooned"] // MIB))
    rc, out = dst.cmd("md5sum /mnt/f/buf", timeout=120)
    got = out[-1].split()[0] if rc == 0 and out else None
    t.ok(got == buf_sum, "the buffer is intact on the destination",
         "md5 %s, recorded %s" % (got, buf_sum))

    harness.finish_pair(t, src, dst)
