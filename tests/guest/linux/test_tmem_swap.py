"""Swap to host memory through the virtio-tmem guest driver, on both kernels.

For Debian's 6.1 (bookworm) and 6.12 (trixie) guest kernels, one 384 MiB
guest with two tmem devices (tmem0 offers persistent pools, tmem1 does not)
and a 1 GiB virtio-blk swap disk on the host's tmpfs:

- module load: /dev/tmemswap0 appears for tmem0 with its sysfs counters, and
  tmem1's probe is refused with a message (the host offers no persistent pool);
- persistent: a process holding 448 MiB of patterned memory (more than RAM)
  swaps to /dev/tmemswap0; the host's query-tmem shows the persistent pages;
  every byte checks out; after swapoff the pages are back in the pool's free
  space; rmmod is refused while the swap is active;
- persistent under a cap smaller than the demand and then frozen: PUTs are
  refused and QEMU runs on; the guest thrashes as with a full swap disk, and
  after the thaw it goes on: the hog ends (done, or OOM-killed: the kernel's
  choice) and never reads corrupt memory;
- device reset: unbinding and binding the driver resets the device (the
  host's pool for it empties, the handle's generation changes) and the new
  device swaps again;
- ephemeral over the virtio-blk disk: tmem-drop and cap changes while a hog
  fills its memory and swaps, then one drop, then a rewrite and a check of
  every byte: every byte checks out, the dropped pages came from the disk
  and, with the pool left alone, the check's reads from the pool;
- module unload: rmmod succeeds once no swap is active.
"""

import os
import tempfile
import time

import harness
from harness import MIB, diag

# run.py: two guests (6.1 and 6.12) run at once, so this test runs alone
CPUS = 2

GUEST_MIB = 384
HOG_MIB = 448
POOL = "1G"
BOOT_TIMEOUT = 180
HOG_TIMEOUT = 600
REFUSE_S = 8
TRUST = ("Oops", "BUG", "Kernel panic", "Call Trace", "WARNING: CPU",
         "general protection", "Bad page")


def tmem_client(g, dev):
    for pool in g.qmp.execute("query-tmem"):
        for c in pool["clients"]:
            if c["device"] == dev:
                return pool, c
    return None, None


def sysfs(g, name, dev="tmemswap0"):
    rc, out = g.cmd("cat /sys/block/%s/tmem/%s" % (dev, name))
    try:
        return int(out[-1], 0) if rc == 0 else None
    except ValueError:
        return out[-1]


def start_hog(g, mib, rounds, seed, log):
    """Run memhog in the background; its output goes to LOG."""
    rc, out = g.cmd("(memhog %d %s %d > %s 2>&1; echo \"exit $?\" >> %s) & :"
                    % (mib, rounds, seed, log, log))
    return rc == 0


def wait_hog(g, log, timeout):
    """Wait for memhog's last line; return (exit status or None, lines)."""
    deadline = time.monotonic() + timeout
    out = []
    while time.monotonic() < deadline:
        try:
            # a guest that thrashes answers slowly: that is not a hang yet
            rc, out = g.cmd("cat %s" % log, timeout=max(1, deadline - time.monotonic()))
        except harness.Timeout:
            break
        for line in out:
            if line.startswith("exit "):
                return int(line.split()[1]), out
        time.sleep(2)
    return None, out


def run_kernel(t, label, images):
    disk = tempfile.NamedTemporaryFile(prefix="tmem-swap-", dir="/dev/shm", delete=False)
    disk.truncate(1024 * MIB)
    disk.close()
    try:
        run_guest(t, label, images, disk.name)
    finally:
        os.unlink(disk.name)


def run_guest(t, label, images, disk):
    args = ["-object", "tmem-pool,id=tp0,size=%s" % POOL,
            "-device", "virtio-tmem-ccw,pool=tp0,id=tmem0,persistent=on,devno=fe.0.0010",
            "-device", "virtio-tmem-ccw,pool=tp0,id=tmem1,persistent=off,devno=fe.0.0011",
            "-drive", "if=none,id=d0,format=raw,cache=unsafe,file=%s" % disk,
            "-device", "virtio-blk-ccw,drive=d0,devno=fe.0.0020"]
    g = t.guest(images=images, initrd="tmem", mem_mib=GUEST_MIB, args=args,
                log=os.path.join(t.logdir, "tmem_swap-%s.log" % label))
    g.start()
    t.attempt("%s: guest boots to CMM-READY" % label, g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("uname -r; load_module virtio_blk && ls /dev/vda")
    diag("%s: kernel %s" % (label, out[0] if out else "?"))
    t.require(rc == 0, "%s: virtio_blk loads and /dev/vda exists" % label, "\n".join(out))

    # ---- load ------------------------------------------------------------------
    rc, out = g.cmd("insmod $(find /lib/modules -name virtio_tmem.ko) mode=persistent && "
                    "ls /dev/tmemswap* && dmesg | grep virtio_tmem")
    text = "\n".join(out)
    t.require(rc == 0 and "/dev/tmemswap0" in text,
              "%s: insmod virtio_tmem mode=persistent creates /dev/tmemswap0" % label, text)
    t.ok("/dev/tmemswap1" not in text and "offers no persistent pools" in text,
         "%s: the device without persistent pools is refused with a message" % label, text)
    size, cap = sysfs(g, "size_pages"), sysfs(g, "cap_pages")
    t.ok(sysfs(g, "mode") == "persistent" and size and size == cap,
         "%s: sysfs shows mode persistent and the size with the host's cap" % label,
         "size %r cap %r" % (size, cap))

    # ---- persistent swap ---------------------------------------------------------
    rc, out = g.cmd("mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0 && "
                    "mkfifo /tmp/go && "
                    "(memhog %d hold /tmp/go 7 > /tmp/hog1 2>&1; echo \"exit $?\" >> /tmp/hog1) & :"
                    % HOG_MIB)
    t.require(rc == 0, "%s: mkswap, swapon and a %d MiB hog start" % (label, HOG_MIB),
              "\n".join(out))
    deadline = time.monotonic() + HOG_TIMEOUT
    filled = False
    while time.monotonic() < deadline and not filled:
        rc, out = g.cmd("cat /tmp/hog1")
        filled = any("filled" in l for l in out)
        if any(l.startswith("exit") for l in out):
            break
        time.sleep(2)
    t.require(filled, "%s: the hog fills %d MiB in a %d MiB guest" % (label, HOG_MIB, GUEST_MIB),
              "\n".join(out))
    _, c = tmem_client(g, "tmem0")
    pers = c["persistent-pages"] * 4096 if c else 0
    rc, out = g.cmd("grep -E 'SwapTotal|SwapFree' /proc/meminfo")
    diag("%s: host holds %d MiB of persistent pages; %s" % (label, pers // MIB, "; ".join(out)))
    t.ok(pers >= (HOG_MIB - GUEST_MIB) * MIB // 2,
         "%s: query-tmem shows the swapped pages in the persistent pool" % label,
         "persistent %d MiB" % (pers // MIB))
    rc, out = g.cmd("rmmod virtio_tmem")
    t.ok(rc != 0 and os.path.basename("/dev/tmemswap0") in "".join(g.cmd("ls /dev")[1]),
         "%s: rmmod is refused while swap is active" % label, "\n".join(out))
    g.cmd("echo go > /tmp/go")
    st, out = wait_hog(g, "/tmp/hog1", HOG_TIMEOUT)
    t.ok(st == 0 and any("memhog: ok" in l for l in out),
         "%s: every byte of the hog's memory checks out after swapping" % label,
         "\n".join(out))
    hits, puts = sysfs(g, "hits"), sysfs(g, "puts")
    t.ok(puts and hits and sysfs(g, "errors") == 0 and sysfs(g, "lost") == 0,
         "%s: sysfs counts puts and hits, and no errors" % label,
         "puts %r hits %r" % (puts, hits))
    rc, out = g.cmd("swapoff /dev/tmemswap0")
    t.ok(rc == 0, "%s: swapoff" % label, "\n".join(out))
    pool, c = None, None
    for _ in range(20):
        pool, c = tmem_client(g, "tmem0")
        if c and c["persistent-pages"] <= 1 and pool["used"] <= 64 * 4132:
            break
        time.sleep(0.5)
    t.ok(c and c["persistent-pages"] <= 1 and pool["used"] <= 64 * 4132,
         "%s: after swapoff the pages are back in the pool's free space (the swap header stays)"
         % label, "client %r pool used %r" % (c, pool and pool["used"]))

    # ---- persistent, cap smaller than demand, then frozen --------------------------
    # While the host refuses, a guest that needs the swap thrashes like one
    # with a full swap disk: the swap code keeps the refused pages and tries
    # them again.  What must hold: nothing is lost or corrupted, QEMU stays
    # sound, and the guest recovers once the host takes pages again.
    g.qmp.execute("tmem-set-client", device="tmem0", cap=64 * MIB)
    # the swap code reports every failed write; a serial console under TCG
    # is too slow for that many lines
    g.cmd("dmesg -n 1; swapon -d /dev/tmemswap0")
    start_hog(g, HOG_MIB, 1, 11, "/tmp/hog2")
    time.sleep(REFUSE_S)
    g.qmp.execute("tmem-freeze", device="tmem0")
    time.sleep(REFUSE_S)
    pool, c = tmem_client(g, "tmem0")
    refused_host = c["puts-refused"] if c else 0
    t.ok(refused_host > 0 and c["persistent-pages"] * 4132 <= 64 * MIB,
         "%s: PUTs over the 64 MiB cap and while frozen are refused" % label,
         "client %r" % (c,))
    t.ok(g.alive() and g.qmp.execute("query-status")["status"] == "running",
         "%s: QEMU runs on while the guest's writes are refused" % label)
    g.qmp.execute("tmem-thaw", device="tmem0")
    g.qmp.execute("tmem-set-client", device="tmem0", cap=0)
    t_thaw = time.monotonic()
    st, out = wait_hog(g, "/tmp/hog2", HOG_TIMEOUT)
    rc, oom = g.cmd("dmesg | grep -ciE 'killed process'", timeout=120)
    refused = sysfs(g, "refused")
    diag("%s: refused while capped/frozen: %d (host), %s (guest); hog %s %.0f s after the "
         "thaw; OOM kills: %s" % (label, refused_host, refused,
                                  "exit %s" % st if st is not None else "still running",
                                  time.monotonic() - t_thaw, oom))
    t.ok(st is not None and not any("FAILED" in l for l in out),
         "%s: the guest goes on: after the thaw the hog ends (done or OOM-killed) and "
         "never reads corrupt memory"
         % label, "\n".join(out))
    t.ok(refused and refused >= refused_host, "%s: the driver counts the refused writes"
         % label, "guest %r host %r" % (refused, refused_host))
    rc, out = g.cmd("swapoff /dev/tmemswap0")
    t.ok(rc == 0, "%s: swapoff after the refusals" % label, "\n".join(out))

    # ---- device reset --------------------------------------------------------------
    pool_before = sysfs(g, "pool")
    rc, out = g.cmd("d=$(basename $(readlink -f /sys/block/tmemswap0/device)); "
                    "echo $d > /sys/bus/virtio/drivers/virtio_tmem/unbind && "
                    "ls /dev/tmemswap0 2>/dev/null; echo $d > /sys/bus/virtio/drivers/virtio_tmem/bind; "
                    "ls /dev/tmemswap0")
    _, c = tmem_client(g, "tmem0")
    pool_after = sysfs(g, "pool")
    t.ok(rc == 0 and c and c["persistent-pages"] == 0 and pool_after != pool_before,
         "%s: unbind resets the device (pages dropped) and bind makes a new pool" % label,
         "%s\npool %r -> %r, client %r" % ("\n".join(out), pool_before, pool_after, c))
    rc, out = g.cmd("mkswap /dev/tmemswap0 >/dev/null && swapon /dev/tmemswap0 && "
                    "memhog 400 0 17 | tail -1 && swapoff /dev/tmemswap0")
    t.ok(rc == 0 and any("memhog: ok" in l for l in out),
         "%s: the reset device swaps again (a 400 MiB hog checks out)" % label, "\n".join(out))
    rc, out = g.cmd("rmmod virtio_tmem && ! ls /dev/tmemswap0 2>/dev/null")
    t.ok(rc == 0, "%s: rmmod succeeds when no swap is active" % label, "\n".join(out))

    # ---- ephemeral, write-through over virtio-blk ----------------------------------
    rc, out = g.cmd("insmod $(find /lib/modules -name virtio_tmem.ko) mode=ephemeral lower=/dev/vda"
                    " && cat /sys/block/tmemswap0/tmem/mode /sys/block/tmemswap0/tmem/lower"
                    " && mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0")
    t.require(rc == 0 and "ephemeral" in out,
              "%s: insmod mode=ephemeral lower=/dev/vda, mkswap and swapon" % label,
              "\n".join(out))
    # While the hog fills its memory (and swaps), drops and cap changes come
    # every 3 s; once it is full, one last drop: the pages then in the pool
    # must come from the disk when the hog rewrites them.  After that the
    # host leaves the pool alone, so what the rewrite swaps out is read back
    # from the pool by the final check.
    start_hog(g, HOG_MIB, 1, 19, "/tmp/hog4")
    changes = 0
    deadline = time.monotonic() + HOG_TIMEOUT
    st, out, filled = None, [], None
    while time.monotonic() < deadline:
        rc, out = g.cmd("cat /tmp/hog4")
        if filled is None and any("filled" in l for l in out):
            g.qmp.execute("tmem-set-client", device="tmem0", cap=0)
            g.qmp.execute("tmem-drop", device="tmem0")
            changes += 1
            filled = (sysfs(g, "hits"), sysfs(g, "lower_reads"))
        if out and out[-1].startswith("exit "):
            st, out = wait_hog(g, "/tmp/hog4", 60)
            break
        if filled is None:
            changes += 1
            if changes % 3 == 0:
                g.qmp.execute("tmem-drop", device="tmem0")
            else:
                g.qmp.execute("tmem-set-client", device="tmem0",
                              cap=(32 if changes % 3 == 1 else 0) * MIB)
        time.sleep(3)
    g.qmp.execute("tmem-set-client", device="tmem0", cap=0)
    hits, lreads, lwrites = sysfs(g, "hits"), sysfs(g, "lower_reads"), sysfs(g, "lower_writes")
    diag("%s: ephemeral: %d drops/cap changes, pool hits %s, disk reads %s, disk writes %s "
         "(at the last drop: hits %s, disk reads %s)"
         % (label, changes, hits, lreads, lwrites, *(filled or (None, None))))
    t.ok(st == 0 and any("memhog: ok" in l for l in out),
         "%s: ephemeral: every byte checks out after %d drops and cap changes"
         % (label, changes), "\n".join(out))
    t.ok(filled and lreads and lwrites and lreads > filled[1],
         "%s: after the last drop, the dropped pages came from the disk" % label,
         "disk reads %r (at the drop %r), writes %r" % (lreads, filled, lwrites))
    t.ok(filled and hits and hits > filled[0],
         "%s: with the pool left alone, reads came from the pool" % label,
         "hits %r (at the drop %r)" % (hits, filled))
    rc, out = g.cmd("swapoff /dev/tmemswap0 && rmmod virtio_tmem")
    t.ok(rc == 0, "%s: swapoff and rmmod in ephemeral mode" % label, "\n".join(out))

    trouble = [l for l in g.lines if any(k in l for k in TRUST)]
    t.ok(not trouble, "%s: no kernel oops, BUG or warning" % label, "\n".join(trouble[:10]))
    g.close()
    t.ok(g.exit_status == 0, "%s: QEMU quits cleanly" % label,
         "exit status %s" % g.exit_status)


def run(t):
    # the two kernels' guests are independent: one core each
    t.concurrently(lambda: run_kernel(t, "6.1", t.images),
                   lambda: run_kernel(t, "6.12", t.images_trixie))
