"""Memory stress with discard on: freed pages come back, no data is ever lost.

A 512 MiB guest with 2 vCPUs and a 1 ms discard delay
(`-global s390-storage_attributes-tcg.discard-delay-ms=1`), so that discards
race with the reuse of the pages: the first half of the rounds under the
eager policy, the second half under the adaptive one.  The guest makes a random 1 MiB pattern and
computes, from a pipe, the md5sums of SLOTS distinct contents built from it
(see init/cmma.sh).  Each round, two shell workers (one per vCPU) delete each
slot's file and write a new content into it at once, taking back pages whose
discard may be under way, then md5sum every file against the expected sums;
every second round ends by deleting all files.  The contents rotate over the
slots from round to round, so a page holding stale data of an earlier round,
another file's data or zeros changes a sum.

A last round runs with the lazy policy: the guest writes and checks all slots,
deletes half of them, the host runs cmma-flush (which must release that half),
and the other half must still be intact.  Then, while the host runs cmma-flush
in a loop, one worker writes the deleted half again and the other deletes and
rewrites the kept half slot by slot (taking back pending pages a flush may be
releasing); then everything is checked again.
"""

import threading
import time

from harness import MIB, diag

# run.py: a guest with several vCPUs, so this test runs alone
CPUS = 2

GUEST_MIB = 512
SMP = 2
SLOTS = 8
FILL_FRACTION = 0.7         # of MemAvailable after boot
ROUNDS = 6                  # eager, then adaptive rounds; plus one lazy round
ADAPTIVE_FROM = 3
DIR = "/mnt/s"
BOOT_TIMEOUT = 180
STEP_TIMEOUT = 300          # one write or verify pass of all slots



def bad_lines(out):
    return "\n".join([l for l in out if "BAD" in l][:10] or out[-10:])


def run(t):
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB, smp=SMP,
                args=["-global", "s390-storage_attributes-tcg.discard-delay-ms=1",
                      "-global", "s390-storage_attributes-tcg.discard=eager"])
    g.start()
    t.attempt("%d MiB guest with %d vCPUs boots (discard-delay-ms=1)" % (GUEST_MIB, SMP),
              g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("grep MemAvailable /proc/meminfo")
    avail_kib = int(out[-1].split()[1]) if rc == 0 and out and "MemAvailable" in out[-1] else 0
    t.require(avail_kib > 0, "guest reports MemAvailable", repr(out))
    mib = int(avail_kib / 1024 * FILL_FRACTION / SLOTS)
    fill = mib * SLOTS
    diag("MemAvailable %d MiB; %d slots of %d MiB = %d MiB per round"
         % (avail_kib // 1024, SLOTS, mib, fill))

    t0 = time.monotonic()
    rc, out = g.cmd("tmpfs_at %s %d && pat_make %s && par2 pat_expect %s %d %d && "
                    "md5sum %s/pat" % (DIR, GUEST_MIB * 9 // 10, DIR, DIR, SLOTS, mib, DIR),
                    timeout=STEP_TIMEOUT)
    pat_sum = out[-1].split()[0] if rc == 0 and out else None
    t.require(rc == 0 and pat_sum, "guest makes the pattern and the expected md5sums",
              "\n".join(out))
    diag("pattern and expected sums took %.1f s" % (time.monotonic() - t0))

    q0 = g.query_cmma()
    verified = 0
    t_stress = time.monotonic()
    released = {}
    for r in range(ROUNDS):
        if r == ADAPTIVE_FROM:
            q1 = g.query_cmma()
            released["eager"] = q1["released"] - q0["released"]
            q0 = q1
            g.qmp.execute("qom-set", path="/machine/s390-storage_attributes",
                          property="discard", value="adaptive")
        t0 = time.monotonic()
        rc, out = g.cmd("par2 slot_write %s %d %d %d" % (DIR, SLOTS, mib, r),
                        timeout=STEP_TIMEOUT)
        t.require(rc == 0, "round %d: guest writes %d MiB" % (r, fill), "\n".join(out))
        t1 = time.monotonic()
        rss = g.rss()
        rc, out = g.cmd("par2 slot_verify %s %d %d" % (DIR, SLOTS, r), timeout=STEP_TIMEOUT)
        t2 = time.monotonic()
        full_free = r % 2 == 1
        if rc == 0 and full_free:
            rc2, out2 = g.cmd("par2 slot_drop %s %d" % (DIR, SLOTS))
            rc, out = rc2, out + out2
        t.ok(rc == 0, "round %d: %d files (%d MiB) verified%s"
             % (r, SLOTS, fill, ", then all deleted" if full_free else ""), bad_lines(out))
        if rc == 0:
            verified += fill
        diag("round %d: write %.1f s, verify %.1f s, RSS %d MiB"
             % (r, t1 - t0, t2 - t1, rss // MIB))
    q1 = g.query_cmma()
    released["adaptive"] = q1["released"] - q0["released"]
    diag("%d MiB verified in %.1f s; released %d MiB in the eager rounds, %d MiB in the "
         "adaptive ones (%d MiB refaulted in all)"
         % (verified, time.monotonic() - t_stress, released["eager"] // MIB,
            released["adaptive"] // MIB, q1["refaulted"] // MIB))
    # each policy's rounds end once with all files deleted
    for policy in ("eager", "adaptive"):
        t.ok(released[policy] >= fill * MIB,
             "discards happened during the %s rounds (released >= %d MiB)" % (policy, fill),
             "released %d MiB" % (released[policy] // MIB))

    # ---- lazy round with cmma-flush ------------------------------------------------------
    lr = ROUNDS
    g.qmp.execute("qom-set", path="/machine/s390-storage_attributes",
                  property="discard", value="lazy")
    t.ok(g.query_cmma()["discard-policy"] == "lazy", "policy switched to lazy with qom-set")
    t0 = time.monotonic()
    rc, out = g.cmd("par2 slot_write %s %d %d %d && par2 slot_verify %s %d %d"
                    % (DIR, SLOTS, mib, lr, DIR, SLOTS, lr), timeout=2 * STEP_TIMEOUT)
    t.ok(rc == 0, "lazy round: %d MiB written and verified" % fill, bad_lines(out))
    if rc == 0:
        verified += fill
    rc, out = g.cmd("slot_drop %s %d 1 2" % (DIR, SLOTS))
    t.require(rc == 0, "lazy round: odd slots deleted", "\n".join(out))
    time.sleep(0.2)
    pend = g.query_cmma()["pending-discard"]
    res = g.qmp.execute("cmma-flush", timeout=60)
    diag("lazy round: %d MiB pending after deleting half, cmma-flush released %d MiB"
         % (pend // MIB, res["released"] // MIB))
    t.ok(res["released"] >= fill // 2 * MIB * 0.9,
         "lazy round: cmma-flush releases the deleted half (>= %d MiB)" % (fill // 2 * 0.9),
         "released %d MiB, pending before %d MiB" % (res["released"] // MIB, pend // MIB))

    # the even slots, split over two workers: 0, 4, ... and 2, 6, ...
    rc, out = g.cmd("slot_verify {0} {1} {2} 0 4 & p=$!; slot_verify {0} {1} {2} 2 4; a=$?; "
                    "wait $p; b=$?; [ $a -eq 0 ] && [ $b -eq 0 ]".format(DIR, SLOTS, lr),
                    timeout=STEP_TIMEOUT)
    t.ok(rc == 0, "lazy round: the kept half is intact after cmma-flush", bad_lines(out))
    if rc == 0:
        verified += fill // 2

    # All slots get a new content while the host keeps flushing: one vCPU
    # writes the odd slots into released pages, the other deletes and
    # rewrites the even slots one by one, taking back pending pages that a
    # flush may be releasing at that moment.
    stop = threading.Event()
    flushes = []

    def flusher():
        while not stop.is_set():
            try:
                flushes.append(g.qmp.execute("cmma-flush", timeout=60)["released"])
            except Exception as e:     # reported below
                flushes.append(e)
                return
            stop.wait(0.02)

    th = threading.Thread(target=flusher, daemon=True)
    th.start()
    try:
        rc, out = g.cmd("par2 slot_write %s %d %d %d" % (DIR, SLOTS, mib, lr + 1),
                        timeout=STEP_TIMEOUT)
    finally:
        stop.set()
        th.join()
    errors = [f for f in flushes if isinstance(f, Exception)]
    during = sum(f for f in flushes if not isinstance(f, Exception))
    diag("lazy round: %d cmma-flush calls while rewriting, %d MiB released by them"
         % (len(flushes), during // MIB))
    t.ok(not errors, "lazy round: cmma-flush in a loop works", repr(errors[:1]))
    t.require(rc == 0, "lazy round: all slots written again while flushing", "\n".join(out))
    rc, out = g.cmd("par2 slot_verify %s %d %d" % (DIR, SLOTS, lr + 1), timeout=STEP_TIMEOUT)
    t.ok(rc == 0, "lazy round: all %d files verified after the flushes" % SLOTS,
         bad_lines(out))
    if rc == 0:
        verified += fill
    rc, out = g.cmd("par2 slot_drop %s %d && md5sum %s/pat" % (DIR, SLOTS, DIR))
    res = g.qmp.execute("cmma-flush", timeout=60)
    diag("lazy round took %.1f s; final cmma-flush released %d MiB"
         % (time.monotonic() - t0, res["released"] // MIB))
    t.ok(rc == 0 and out and out[-1].split()[0] == pat_sum,
         "the pattern file is unchanged", "\n".join(out))

    diag("stress total: %d rounds (%d eager, %d adaptive, 1 lazy), %d MiB verified, %.1f s"
         % (ROUNDS + 1, ADAPTIVE_FROM, ROUNDS - ADAPTIVE_FROM, verified,
            time.monotonic() - t_stress))
    trouble = g.kernel_trouble()
    t.ok(not trouble, "no kernel oops, BUG, warning or OOM kill on the console",
         "\n".join(trouble[:10]))
    g.close()
    t.ok(g.exit_status == 0, "QEMU quits cleanly over QMP", "exit status %s" % g.exit_status)
