"""CMMA under TCG with a Linux guest: detection, and freed memory going back to the host.

A 2 GiB guest with the default CPU model (cmm and cmmnt on) must detect CMMA
and use it: query-cmma counts ESSA with request codes 1, 2 and 7 (7 only
exists with cmmnt), more than 1 GiB of the idle guest is unused, and
`info cmma` shows unused (0x01) and no-DAT (0x40) page states.

Then the guest writes 1.5 GiB into a tmpfs and deletes it.  Under the default
eager policy QEMU's RSS must fall by at least 90 % of 1.5 GiB within 2 s of the
deletion finishing (RSS sampled every 100 ms), and query-cmma's `released`
must grow by as much.
"""

import time

import harness
from harness import MIB, diag

GUEST_MIB = 2048
FILL_MIB = 1536
DROP_FRACTION = 0.9
DROP_WINDOW = 2.0           # seconds after the deletion finished
BOOT_TIMEOUT = 180
FILL_TIMEOUT = 300

# ranges for `info cmma`: (first byte, pages); 16 MiB each, spread over RAM
WINDOWS = [(0, 4096), (512 * MIB, 4096), (1024 * MIB, 4096),
           ((GUEST_MIB - 16) * MIB, 4096)]



def parse_info_cmma(text):
    """Values printed by `info cmma`: a header line, then hex bytes, 8 per line."""
    vals = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "CMMA attributes" in line:
            continue
        vals.extend(int(line[i:i + 2], 16) for i in range(0, len(line), 2))
    return vals


def run(t):
    g = t.guest(initrd="cmma", mem_mib=GUEST_MIB)
    g.start()
    boot = t.attempt("2 GiB guest boots to CMM-READY", g.wait_ready, BOOT_TIMEOUT)
    diag("boot took %.1f s" % boot)

    # ---- 1. detection ------------------------------------------------------------
    q = g.query_cmma()
    essa = q["essa"]
    diag("after boot: essa %s, unused %d MiB, no-dat %d MiB, RSS %d MiB"
         % (essa, q["unused"] // MIB, q["no-dat"] // MIB, g.rss() // MIB))
    t.ok(len(essa) == 8, "query-cmma reports 8 ESSA counters", "essa %r" % (essa,))
    t.ok(essa[1] > 0, "guest issued ESSA code 1 (set stable)", "essa %r" % (essa,))
    t.ok(essa[2] > 0, "guest issued ESSA code 2 (set unused)", "essa %r" % (essa,))
    t.ok(len(essa) > 7 and essa[7] > 0,
         "guest issued ESSA code 7 (set stable, no-DAT: cmmnt detected)",
         "essa %r" % (essa,))
    t.ok(q["total"] == GUEST_MIB * MIB, "query-cmma total is %d MiB" % GUEST_MIB,
         "total %d" % q["total"])
    t.ok(q["unused"] > 1024 * MIB, "idle guest has more than 1 GiB unused",
         "unused %d MiB" % (q["unused"] // MIB))

    seen = {}
    counts_ok = True
    for addr, pages in WINDOWS:
        text = g.hmp("info cmma 0x%x %d" % (addr, pages))
        vals = parse_info_cmma(text)
        if len(vals) != pages:
            counts_ok = False
            diag("info cmma 0x%x %d printed %d values: %r"
                 % (addr, pages, len(vals), text[:200]))
        for v in vals:
            seen[v] = seen.get(v, 0) + 1
    hist = ", ".join("0x%02x: %d" % kv for kv in sorted(seen.items()))
    diag("info cmma over %d pages: %s" % (sum(p for _, p in WINDOWS), hist))
    t.ok(counts_ok, "info cmma prints as many values as pages asked for")
    t.ok(seen.get(0x01, 0) > 0, "info cmma shows unused pages (0x01)", hist)
    t.ok(any(v & 0x40 for v in seen), "info cmma shows no-DAT pages (0x40)", hist)

    # ---- 2. memory returned --------------------------------------------------------
    rc, out = g.cmd("tmpfs_at /mnt/fill %d && fill_files /mnt/fill %d 6 && free -m"
                    % (FILL_MIB + 64, FILL_MIB), timeout=FILL_TIMEOUT)
    t.require(rc == 0, "guest writes %d MiB into tmpfs with dd" % FILL_MIB, "\n".join(out))
    time.sleep(0.5)
    q0 = g.query_cmma()
    sampler = harness.RssSampler(g.pid, 0.1).start()
    time.sleep(0.3)
    before = max(r for _, r in sampler.samples)
    t.ok(before >= (FILL_MIB - 100) * MIB,
         "host RSS is high after the fill (>= %d MiB)" % (FILL_MIB - 100),
         "RSS %d MiB" % (before // MIB))
    t_rm = time.monotonic()
    rc, out = g.cmd("rm -f /mnt/fill/z*", timeout=FILL_TIMEOUT)
    t_end = time.monotonic()
    time.sleep(DROP_WINDOW + 0.3)
    samples = sampler.stop()
    t.require(rc == 0, "guest deletes the files", "\n".join(out))
    q1 = g.query_cmma()

    want = DROP_FRACTION * FILL_MIB * MIB
    reached = None
    for ts, rss in samples:
        if ts >= t_rm and before - rss >= want:
            reached = ts
            break

    def returned_at(when):
        """MiB returned by the last sample taken at or before `when`."""
        rss = [r for ts, r in samples if ts <= when][-1]
        return (before - rss) / MIB

    r1, r2 = returned_at(t_end + 1.0), returned_at(t_end + DROP_WINDOW)
    diag("RSS before the deletion %d MiB; deletion took %.2f s" % (before // MIB, t_end - t_rm))
    if reached is None:
        diag("RSS never fell by %d MiB" % (want // MIB))
    elif reached <= t_end:
        diag("RSS fell by %d MiB %.2f s after the deletion started, before it finished"
             % (want // MIB, reached - t_rm))
    else:
        diag("RSS fell by %d MiB %.2f s after the deletion finished"
             % (want // MIB, reached - t_end))
    diag("returned %.0f MiB at +1 s, %.0f MiB at +2 s after the deletion finished" % (r1, r2))
    t.ok(reached is not None and reached <= t_end + DROP_WINDOW,
         "host RSS falls by >= %d%% of %d MiB within %g s of the deletion"
         % (DROP_FRACTION * 100, FILL_MIB, DROP_WINDOW),
         "returned %.0f MiB at +1 s, %.0f MiB at +2 s; need %d MiB"
         % (r1, r2, want // MIB))

    grew = q1["released"] - q0["released"]
    diag("query-cmma released grew by %d MiB; unused %d MiB, pending-discard %d MiB"
         % (grew // MIB, q1["unused"] // MIB, q1["pending-discard"] // MIB))
    t.ok(grew >= want, "query-cmma released grows by >= %d MiB" % (want // MIB),
         "grew by %d MiB" % (grew // MIB))

    harness.finish_guest(t, g)
