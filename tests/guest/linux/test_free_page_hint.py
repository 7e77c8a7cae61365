"""virtio-balloon-ccw with free-page hinting under TCG: no abort, and it migrates.

Free-page hinting needs an iothread; its bottom half notified the guest
from that iothread without the BQL, and virtio-ccw's adapter interrupt
injection asserts it: QEMU aborted as soon as the guest driver set up the
hint queue (patches/virtio-balloon-hint-bql.patch).  Hinting is used
during migration, so the guest is also migrated and must run on.
"""

import harness

GUEST_MIB = 1024
MIGRATE_TIMEOUT = 300
ARGS = ["-cpu", "qemu,cmm=off,cmmnt=off", "-object", "iothread,id=io0",
        "-device", "virtio-balloon-ccw,id=b0,free-page-hint=on,iothread=io0"]


def run(t):
    src = t.guest(mem_mib=GUEST_MIB, args=ARGS)
    src.start()
    t.attempt("guest boots to CMM-READY", src.wait_ready, 180)
    rc, out = src.cmd("load_module virtio_balloon && test -d /sys/module/virtio_balloon")
    t.require(rc == 0, "virtio_balloon loads with free-page hinting", "\n".join(out))
    rc, out = src.cmd("fill_tmpfs /mnt/fill 256 && drop_tmpfs /mnt/fill", timeout=120)
    t.ok(rc == 0 and src.alive(), "QEMU and the guest still run after the hint queue is set up",
         "\n".join(out))

    dst = t.guest(mem_mib=GUEST_MIB, args=ARGS, incoming=True)
    dst.start()
    src.qmp.execute("migrate", uri=dst.migrate_uri)
    st = harness.wait_migration(src, MIGRATE_TIMEOUT)
    t.require(st.get("status") == "completed", "migration with free-page hinting completes",
              repr(st))
    dst.qmp.execute("cont")
    src.close()
    harness.finish_guest(t, dst)
