"""virtio-balloon-ccw with cmma=on: page-state reporting and balloon targets.

A 2 GiB guest with `-device virtio-balloon-ccw,cmma=on`, the lazy discard
policy (freed memory stays resident until something reclaims it) and a 1 GiB
disk whose reads fill the page cache.

1. Stall: before virtio_balloon is loaded, a logical target stalls with reason
   driver-not-ready; once it is loaded the target is reached.
2. Mostly free: after the guest wrote and deleted 1.5 GiB, query-balloon shows
   it as unused-resident (and an event says so); a 512 MiB footprint target is
   reached by reclaim alone (the balloon stays near 0 pages) and host RSS drops
   below 512 MiB.
3. Busy: with 1 GiB of page cache in use and 512 MiB freed, a 768 MiB footprint
   target is met by reclaiming first and inflating the remainder; when the guest
   then allocates 256 MiB more, the target is still held.
4. Rate cap: a footprint target with a 128 MiB/s cap never shifts faster than
   the cap over any second, and is still reached.
"""

import os
import time

import harness
from harness import MIB, diag

# run.py: checks a rate cap against time, so this test runs alone
CPUS = 2

GIB = 1024 * MIB
GUEST_MIB = 2048
DISK_MIB = 1024
BOOT_TIMEOUT = 180
FILL_TIMEOUT = 300
STALL_MS = 2000
RATE = 128 * MIB


def balloon_args(disk):
    return ["-device", "virtio-balloon-ccw,cmma=on,target-stall-ms=%d" % STALL_MS,
            "-global", "s390-storage_attributes-tcg.discard=lazy",
            "-drive", "file=%s,format=raw,if=none,id=d0" % disk,
            "-device", "virtio-blk-ccw,drive=d0"]


def make_disk(t, g):
    path = os.path.join(g.tmpdir, "disk.raw")
    with open(path, "wb") as f:
        f.truncate(DISK_MIB * MIB)
    return path


def info(g):
    return g.qmp.execute("query-balloon")


def fmt(q):
    ps = q.get("page-states", {})
    return ("footprint %d MiB, actual %d MiB, stable %d, unused-resident %d, "
            "discarded %d, reported %d, ballooned %d MiB"
            % (q.get("footprint", -1) // MIB, q["actual"] // MIB,
               ps.get("stable", -1) // MIB, ps.get("unused-resident", -1) // MIB,
               ps.get("discarded", -1) // MIB, ps.get("reported", -1) // MIB,
               ps.get("ballooned", -1) // MIB))


def fill_free(g, mib, content):
    """Write MIB MiB of non-zero content into a tmpfs and delete it."""
    return g.cmd("tmpfs_at /mnt/f %d && pat_stream /mnt/pat %d %d > /mnt/f/x && "
                 "rm -f /mnt/f/x" % (mib + 64, content, mib), timeout=FILL_TIMEOUT)


def wait_until(fn, timeout, period=0.25):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(period)


def set_footprint(g, target, timeout):
    """Set a footprint target; return the seconds until it was reached, or None."""
    g.qmp.events.clear()
    t0 = time.monotonic()
    g.qmp.execute("balloon-set-target", kind="footprint", target=target)
    try:
        g.qmp.wait_event("BALLOON_TARGET_REACHED", timeout)
    except harness.Timeout:
        return None
    return time.monotonic() - t0


def stall(t, g):
    g.qmp.execute("balloon-set-target", kind="logical", target=GIB)
    try:
        ev = g.qmp.wait_event("BALLOON_TARGET_STALLED", STALL_MS / 1000 + 10)
    except harness.Timeout as e:
        ev = None
        diag(str(e))
    t.ok(ev and ev["data"]["reason"] == "driver-not-ready",
         "without virtio_balloon a logical target stalls: driver-not-ready",
         "event %r" % (ev,))
    q = info(g)
    t.ok(q.get("target", {}).get("status") == "stalled",
         "query-balloon shows the target stalled", fmt(q))
    rc, out = g.cmd("load_module virtio_balloon")
    t.require(rc == 0, "guest loads virtio_balloon", "\n".join(out))
    try:
        ev = g.qmp.wait_event("BALLOON_TARGET_REACHED", 60)
    except harness.Timeout as e:
        ev = None
        diag(str(e))
    q = info(g)
    t.ok(ev and q["actual"] == GIB,
         "once the driver runs the target is reached (actual 1 GiB)", fmt(q))
    g.balloon_to(GUEST_MIB * MIB, 60)


def mostly_free(t, g):
    rc, out = fill_free(g, 1536, 1)
    t.require(rc == 0, "guest writes and deletes 1.5 GiB", "\n".join(out))
    q = info(g)
    diag("after the fill: " + fmt(q))
    ps = q["page-states"]
    t.ok(ps["unused-resident"] >= 1400 * MIB,
         "query-balloon: >= 1400 MiB unused but resident", fmt(q))
    t.ok(q["footprint"] >= 1500 * MIB, "query-balloon: footprint >= 1500 MiB", fmt(q))
    try:
        ev = g.qmp.wait_event("BALLOON_PAGE_STATES", 5,
                              lambda d: d["page-states"]["unused-resident"] >= 1400 * MIB)
    except harness.Timeout as e:
        ev = None
        diag(str(e))
    t.ok(ev, "a BALLOON_PAGE_STATES event reports the unused memory")

    took = set_footprint(g, 512 * MIB, 30)
    q = info(g)
    rss = g.rss()
    diag("footprint target 512 MiB: reached in %s s; %s; RSS %d MiB"
         % ("%.2f" % took if took is not None else "-", fmt(q), rss // MIB))
    t.ok(took is not None and q["footprint"] <= 512 * MIB,
         "a 512 MiB footprint target is reached", fmt(q))
    t.ok(q["page-states"]["ballooned"] <= 16 * MIB,
         "... with the balloon near 0 pages (reclaim alone)", fmt(q))
    t.ok(q["target"]["reclaimed"] >= GIB, "... having reclaimed >= 1 GiB",
         "reclaimed %d MiB" % (q["target"]["reclaimed"] // MIB))
    t.ok(rss < 512 * MIB, "host RSS drops below 512 MiB", "RSS %d MiB" % (rss // MIB))


def busy(t, g):
    g.balloon_to(GUEST_MIB * MIB, 60)      # the balloon command ends the target
    t.ok("target" not in info(g), "the balloon command ends the set target")
    # The open descriptor keeps the block device's page cache after dd.
    rc, out = g.cmd("exec 3</dev/vda && dd if=/dev/vda of=/dev/null bs=1M && "
                    "grep -E '^(Buffers|Cached)' /proc/meminfo", timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest reads the 1 GiB disk into its page cache", "\n".join(out))
    rc, out = fill_free(g, 512, 2)
    t.require(rc == 0, "guest writes and deletes 512 MiB", "\n".join(out))
    q = info(g)
    diag("busy guest: " + fmt(q))
    t.ok(q["footprint"] >= 1400 * MIB, "busy guest: footprint >= 1400 MiB", fmt(q))

    target = 768 * MIB
    took = set_footprint(g, target, 60)
    q = info(g)
    diag("footprint target 768 MiB: reached in %s s; %s; reclaimed %d MiB"
         % ("%.2f" % took if took is not None else "-", fmt(q),
            q["target"]["reclaimed"] // MIB))
    t.ok(took is not None and q["footprint"] <= target,
         "busy guest: a 768 MiB footprint target is reached", fmt(q))
    t.ok(q["target"]["reclaimed"] >= 400 * MIB,
         "... reclaiming the freed memory first (>= 400 MiB)",
         "reclaimed %d MiB" % (q["target"]["reclaimed"] // MIB))
    t.ok(q["page-states"]["ballooned"] >= 128 * MIB,
         "... and inflating the remainder (balloon >= 128 MiB)", fmt(q))

    held_before = q["page-states"]["ballooned"]
    rc, out = g.cmd("tmpfs_at /mnt/keep 320 && pat_stream /mnt/pat 3 256 > /mnt/keep/x",
                    timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest then allocates 256 MiB more", "\n".join(out))
    tol = max(4 * MIB, GUEST_MIB * MIB // 256)
    q = wait_until(lambda: (lambda q: q if q["footprint"] <= target + tol else None)(info(g)),
                   30)
    q = q or info(g)
    diag("after 256 MiB more: " + fmt(q))
    t.ok(q["footprint"] <= target + tol,
         "the footprint target is still held (<= target + %d MiB)" % (tol // MIB), fmt(q))
    t.ok(q["page-states"]["ballooned"] + 32 * MIB >= held_before,
         "... and the balloon keeps holding (no deflate)", "balloon %d -> %d MiB"
         % (held_before // MIB, q["page-states"]["ballooned"] // MIB))
    g.cmd("rm -f /mnt/keep/x")


def rate_cap(t, g):
    g.balloon_to(GUEST_MIB * MIB, 60)
    rc, out = fill_free(g, 1024, 4)
    t.require(rc == 0, "guest writes and deletes 1 GiB", "\n".join(out))
    q = info(g)
    start = q["footprint"]
    target = start - 640 * MIB
    diag("rate cap: from %d MiB to %d MiB at %d MiB/s" % (start // MIB, target // MIB,
                                                         RATE // MIB))
    g.qmp.events.clear()
    samples = []
    t0 = time.monotonic()
    g.qmp.execute("balloon-set-target", kind="footprint", target=target, rate=RATE)
    while time.monotonic() - t0 < 30:
        now = time.monotonic()
        samples.append((now, info(g)["footprint"]))
        if samples[-1][1] <= target:
            break
        time.sleep(0.2)
    took = samples[-1][0] - t0
    worst = 0.0
    for i, (ti, fi) in enumerate(samples):
        for tj, fj in samples[i + 1:]:
            if tj - ti >= 1.0:
                worst = max(worst, (fi - fj) / (tj - ti))
                break
    diag("reached in %.2f s; fastest shift over a second: %.1f MiB/s (cap %d MiB/s)"
         % (took, worst / MIB, RATE // MIB))
    t.ok(samples[-1][1] <= target, "a rate-capped footprint target is reached",
         "footprint %d MiB" % (samples[-1][1] // MIB))
    t.ok(worst <= RATE, "the shift never exceeds the cap over a second",
         "%.1f MiB/s" % (worst / MIB))
    t.ok(took >= 0.8 * (start - target) / RATE,
         "the cap slows the shift down (>= 80% of the minimum time)", "%.2f s" % took)
    # a page-state event sent in the tick that reached the target carries the
    # footprint after that tick's reclaim, not the one before it
    time.sleep(1.5)
    evs = list(g.qmp.events)
    reached = [e for e in evs if e["event"] == "BALLOON_TARGET_REACHED"]
    stamp = lambda e: (e["timestamp"]["seconds"], e["timestamp"]["microseconds"])
    same = [e for e in evs if e["event"] == "BALLOON_PAGE_STATES" and reached and
            stamp(e) == stamp(reached[0])]
    diag("reached at %s; page-state events in the same tick: %s"
         % (reached and stamp(reached[0]),
            [(stamp(e), e["data"]["footprint"] // MIB) for e in same]))
    t.ok(reached and all(e["data"]["footprint"] <= reached[0]["data"]["footprint"]
                         for e in same),
         "a BALLOON_PAGE_STATES sent with TARGET_REACHED has the new footprint",
         "reached %s, same tick %s" % (reached and reached[0]["data"],
                                       [e["data"] for e in same]))


def huge_rates(t, g):
    """Every rate the schema takes works, INT64_MAX included (issue 11)."""
    for rate in (110 * 10 ** 15, 2 ** 63 - 1):
        g.balloon_to(GUEST_MIB * MIB, 60)
        g.qmp.events.clear()
        g.qmp.execute("balloon-set-target", kind="logical", target=GIB, rate=rate)
        try:
            ev = g.qmp.wait_event("BALLOON_TARGET_REACHED", 60)
        except harness.Timeout:
            ev = None
        stalled = [e for e in g.qmp.events if e["event"] == "BALLOON_TARGET_STALLED"]
        t.ok(ev and not stalled and info(g)["actual"] == GIB,
             "a logical target at rate %d B/s is reached, no stall" % rate,
             "%s; stalled %r" % (fmt(info(g)), stalled))
    g.balloon_to(GUEST_MIB * MIB, 60)


def resident_bound(t, g):
    """unused-resident never exceeds what is resident (issue 11)."""
    worst = []
    for _ in range(10):
        q = info(g)
        if q["page-states"]["unused-resident"] > q["footprint"]:
            worst.append(fmt(q))
        time.sleep(0.2)
    t.ok(not worst, "unused-resident never exceeds the footprint", "; ".join(worst))


def run(t):
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB)
    g.extra_args = balloon_args(make_disk(t, g))
    g.start()
    t.attempt("guest boots to CMM-READY", g.wait_ready, BOOT_TIMEOUT)
    rc, out = g.cmd("load_module virtio_blk && mkdir -p /mnt/pat && pat_make /mnt/pat")
    t.require(rc == 0, "guest loads virtio_blk", "\n".join(out))
    stall(t, g)
    mostly_free(t, g)
    busy(t, g)
    rate_cap(t, g)
    resident_bound(t, g)
    huge_rates(t, g)
    # the balloon command cancelled the target: nothing unused may show more
    # than is resident (it read 1 GiB against a 928 MiB footprint)
    resident_bound(t, g)
    harness.finish_guest(t, g)
