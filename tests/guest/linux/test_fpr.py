"""Free-page reporting on virtio-balloon-ccw under TCG returns freed memory.

Regression test for a stall (docs/devel/fpr-stall.rst): with the
default ioeventfd=on, none of 1.5 GiB freed came back.  The cause is in
the guest: Debian's 6.1 virtio-ccw driver waits for the reporting queue on
the adapter indicator bit of the absent free-page-hint queue (fixed in
Linux 6.15 by commit 2ccd42b959aa), so its reporting worker only goes on
when a report completes before its kick returns.  qemu-cmm handles the
balloon's queues in the vCPU when KVM is not used
(patches/virtio-balloon-ccw-tcg-sync.patch).  CMMA is off so that
free-page reporting is the only way back to the host."""

import time

import harness
from harness import MIB, diag

# run.py: checks stall protection against time, so this test runs alone
CPUS = 2

GUEST_MIB = 2048
FILL_MIB = 1536
WANT_MIB = 1300             # most of it: the guest keeps some pages back
WAIT = 30.0                 # seconds after the deletion
ROUNDS = 2                  # a second round shows the worker is still alive


def run(t):
    g = t.guest(args=["-cpu", "qemu,cmm=off,cmmnt=off",
                      "-device", "virtio-balloon-ccw,id=b0,free-page-reporting=on"],
                mem_mib=GUEST_MIB)
    g.start()
    t.attempt("guest boots to CMM-READY", g.wait_ready, 180)
    rc, out = g.cmd("load_module virtio_balloon && test -d /sys/module/virtio_balloon")
    t.require(rc == 0, "virtio_balloon loads", "\n".join(out))

    for r in range(ROUNDS):
        # Judge from the RSS before the fill: reporting starts while the fill
        # is being deleted, so the RSS right after it is already past its peak.
        before = g.rss()
        rc, out = g.cmd("fill_tmpfs /mnt/fill %d && drop_tmpfs /mnt/fill" % FILL_MIB,
                        timeout=300)
        t.require(rc == 0, "round %d: guest fills and frees %d MiB" % (r + 1, FILL_MIB),
                  "\n".join(out))
        high = g.rss()
        t0 = time.monotonic()
        low = high
        peak = before + FILL_MIB * MIB
        while time.monotonic() - t0 < WAIT and peak - low < WANT_MIB * MIB:
            time.sleep(0.5)
            low = min(low, g.rss())
        diag("round %d: RSS %d MiB before the fill, %d MiB after it, %d MiB after %.1f s"
             % (r + 1, before // MIB, high // MIB, low // MIB, time.monotonic() - t0))
        t.ok(peak - low >= WANT_MIB * MIB,
             "round %d: free-page reporting returns >= %d MiB within %d s"
             % (r + 1, WANT_MIB, WAIT),
             "returned %d MiB of the fill" % ((peak - low) // MIB))
    harness.finish_guest(t, g)
