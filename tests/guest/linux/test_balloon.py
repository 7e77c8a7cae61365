"""virtio-balloon-ccw with a Linux guest: the guest gives memory back to the host.

A 2 GiB guest writes 1.5 GiB into a tmpfs and deletes it, so that the host has that
memory resident; ballooning the guest down to 512 MiB must make query-balloon reach
512 MiB and QEMU's RSS fall by at least 500 MiB.  The guest must still answer
afterwards, deflate back to 2 GiB, and QEMU must quit cleanly.
"""

import time

from harness import MIB

GUEST_MIB = 2048
FILL_MIB = 1536
TARGET_MIB = 512
MIN_DROP_MIB = 500
BALLOON_TIMEOUT = 120       # seconds, generous for TCG on a slow host


def wait_rss_drop(g, before, drop, timeout):
    """RSS after the balloon: as soon as it is `drop` below `before`, or at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rss = g.rss()
        if before - rss >= drop or time.monotonic() > deadline:
            return rss
        time.sleep(0.2)


def run(t):
    # The balloon alone: without CMMA the guest keeps freed memory resident,
    # so it is the balloon that must give it back.
    g = t.guest(args=["-cpu", "qemu,cmm=off,cmmnt=off",
                      "-device", "virtio-balloon-ccw,id=b0"], mem_mib=GUEST_MIB)
    g.start()
    t.attempt("guest boots to CMM-READY", g.wait_ready, 120)

    rc, out = g.cmd("load_module virtio_balloon && test -d /sys/module/virtio_balloon")
    t.require(rc == 0, "virtio_balloon loads in the guest (insmod)", "\n".join(out))

    actual = g.balloon_actual()
    t.ok(actual == GUEST_MIB * MIB, "query-balloon starts at %d MiB" % GUEST_MIB,
         "actual %d MiB" % (actual // MIB))

    rc, out = g.cmd("fill_tmpfs /mnt/fill %d && drop_tmpfs /mnt/fill" % FILL_MIB,
                    timeout=300)
    t.require(rc == 0, "guest fills %d MiB of tmpfs and deletes it" % FILL_MIB,
              "\n".join(out))
    before = g.rss()
    t.ok(before >= (FILL_MIB - 100) * MIB,
         "host RSS is high after the fill (>= %d MiB)" % (FILL_MIB - 100),
         "RSS %d MiB" % (before // MIB))

    t.attempt("query-balloon actual reaches %d MiB" % TARGET_MIB,
              g.balloon_to, TARGET_MIB * MIB, BALLOON_TIMEOUT)

    after = wait_rss_drop(g, before, MIN_DROP_MIB * MIB, 20)
    t.ok(before - after >= MIN_DROP_MIB * MIB,
         "host RSS drops by >= %d MiB" % MIN_DROP_MIB,
         "RSS before %d MiB, after %d MiB" % (before // MIB, after // MIB))

    rc, out = g.cmd("echo CMM-ALIVE; free -m")
    t.ok(rc == 0 and "CMM-ALIVE" in out, "guest still runs commands after the balloon",
         "rc %d, output %r" % (rc, out))

    t.attempt("query-balloon actual returns to %d MiB" % GUEST_MIB,
              g.balloon_to, GUEST_MIB * MIB, BALLOON_TIMEOUT)

    rc, out = g.cmd("echo CMM-ALIVE")
    t.ok(rc == 0 and "CMM-ALIVE" in out, "guest still runs commands after deflating",
         "rc %d, output %r" % (rc, out))

    g.close()
    t.ok(g.exit_status == 0, "QEMU quits cleanly over QMP",
         "exit status %s" % g.exit_status)
