#!/usr/bin/python3
"""Benchmark: swap to host memory through virtio-tmem against the usual choices.

usage: tmem_swap.py --qemu PATH --images DIR --outdir DIR [--rounds N] [--kernel LABEL]

A 512 MiB guest runs memhog over a 768 MiB working set (fill, then ROUNDS
passes that check and rewrite every page), with one swap device:
  (a) disk      virtio-blk on a file in the host's tmpfs (what users do today)
  (b) zram      zram in the guest, lz4
  (c) tmem-p    /dev/tmemswap0, persistent pool
  (d) tmem-e    /dev/tmemswap0, ephemeral write-through over the disk of (a)
and, as the floor, the same work in a guest with RAM for all of it (ram).
Reported per configuration: completion time of the workload, swap-out and
swap-in rates (pswpout/pswpin from /proc/vmstat over the run), QEMU's peak
RSS, the tmpfs disk file's peak size and the tmem pool's peak use; ratios
against (a).  Then live migrations (median of --mig-reps) of a 384 MiB guest
whose hog has filled memory: swapping about 300 MiB to a persistent pool,
the same swapping to a shared tmpfs disk, and a hog that fits in RAM; with
the downtime, the part of it RAM and the tmem device took (from the trace)
and the persistent pages still sent after the guest stopped.  Writes
OUTDIR/tmem-swap.csv, tmem-swap.md and tmem-swap.png (RSS over time).
"""

import argparse
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guest", "linux"))

import harness  # noqa: E402
from harness import MIB  # noqa: E402

GUEST_MIB = 512
WORK_MIB = 768
DISK_MIB = 1536
RAM_MIB = 1536          # the "ram" configuration: no swapping at all
POOL = "2G"


def log(text):
    print("tmem-swap: " + text, file=sys.stderr, flush=True)


CONFIGS = {
    "ram": ("no swap: RAM for the whole working set (the floor)", "true"),
    "disk": ("virtio-blk swap on host tmpfs",
             "load_module virtio_blk && mkswap /dev/vda >/dev/null && swapon /dev/vda"),
    "zram": ("zram (lz4) in the guest",
             "load_module zram && echo lz4 > /sys/block/zram0/comp_algorithm && "
             "echo %dM > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && "
             "swapon /dev/zram0" % DISK_MIB),
    "tmem-p": ("tmem swap, persistent",
               "insmod $(find /lib/modules -name virtio_tmem.ko) mode=persistent && "
               "mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0"),
    "tmem-e": ("tmem swap, ephemeral over the disk",
               "load_module virtio_blk && insmod $(find /lib/modules -name virtio_tmem.ko) "
               "mode=ephemeral lower=/dev/vda && mkswap /dev/tmemswap0 >/dev/null && "
               "swapon -d /dev/tmemswap0"),
}


def vmstat(g):
    rc, out = g.cmd("grep -E '^pswp(in|out) ' /proc/vmstat")
    return {l.split()[0]: int(l.split()[1]) for l in out if l.startswith("pswp")}


def tmem_used(g):
    try:
        return sum(p["used"] for p in g.qmp.execute("query-tmem"))
    except harness.HarnessError:
        return 0


def run_one(name, qemu, images, outdir, rounds):
    disk = tempfile.NamedTemporaryFile(prefix="bench-swap-", dir="/dev/shm", delete=False)
    disk.truncate(DISK_MIB * MIB)
    disk.close()
    args = ["-object", "tmem-pool,id=tp0,size=%s" % POOL,
            "-device", "virtio-tmem-ccw,pool=tp0,id=tmem0,persistent=on",
            "-drive", "if=none,id=d0,format=raw,file=%s" % disk.name,
            "-device", "virtio-blk-ccw,drive=d0"]
    if name == "disk" or name == "zram":
        args = args[4:]          # no tmem device
    if name in ("zram", "ram"):
        args = []
    mem = RAM_MIB if name == "ram" else GUEST_MIB
    g = harness.Guest(qemu, images, "tmem", mem_mib=mem, args=args,
                      log=os.path.join(outdir, "tmem-swap-%s.log" % name))
    samples = []
    try:
        g.start()
        g.wait_ready(300)
        rc, out = g.cmd(CONFIGS[name][1], timeout=120)
        if rc:
            raise harness.HarnessError("%s: swap setup failed: %s" % (name, out))
        stop = threading.Event()

        def sample():
            t0 = time.monotonic()
            while not stop.is_set():
                try:
                    samples.append((time.monotonic() - t0, harness.rss_of(g.pid),
                                    os.stat(disk.name).st_blocks * 512, tmem_used(g)))
                except (OSError, harness.HarnessError):
                    break
                stop.wait(0.5)
        th = threading.Thread(target=sample, daemon=True)
        v0 = vmstat(g)
        th.start()
        t0 = time.monotonic()
        rc, out = g.cmd("memhog %d %d 5 | tail -1" % (WORK_MIB, rounds), timeout=3600)
        elapsed = time.monotonic() - t0
        stop.set()
        th.join()
        v1 = vmstat(g)
        if rc or not any("memhog: ok" in l for l in out):
            raise harness.HarnessError("%s: workload failed: %s" % (name, out))
    finally:
        g.close()
        os.unlink(disk.name)
    pout = (v1.get("pswpout", 0) - v0.get("pswpout", 0)) * 4096
    pin = (v1.get("pswpin", 0) - v0.get("pswpin", 0)) * 4096
    return {
        "name": name, "time": elapsed,
        "out_rate": pout / MIB / elapsed, "in_rate": pin / MIB / elapsed,
        "swapped_out": pout // MIB, "swapped_in": pin // MIB,
        "rss": max((s[1] for s in samples), default=0) // MIB,
        "disk": max((s[2] for s in samples), default=0) // MIB,
        "tmem": max((s[3] for s in samples), default=0) // MIB,
        "samples": samples,
    }


MIG_SETUPS = {
    # label: (swap device setup, hog MiB)
    "tmem pool": ("insmod $(find /lib/modules -name virtio_tmem.ko) && "
                  "mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0", 640),
    "disk": ("load_module virtio_blk && mkswap /dev/vda >/dev/null && swapon /dev/vda", 640),
    "no swap": ("insmod $(find /lib/modules -name virtio_tmem.ko) && "
                "mkswap /dev/tmemswap0 >/dev/null && swapon -d /dev/tmemswap0", 280),
}


def migrate_downtime(qemu, images, outdir, label, rep):
    """One live migration of a 384 MiB guest whose hog has filled its memory,
    swapping as MIG_SETUPS[label] says.  The disk (a file in the host's
    tmpfs) is shared by source and destination, as shared storage is."""
    setup, hog_mib = MIG_SETUPS[label]
    tag = "mig-%s-%d" % (label.replace(" ", "-"), rep)
    disk = tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="tmem-bench-mig-")
    disk.truncate(DISK_MIB * MIB)
    trace = os.path.join(outdir, "tmem-swap-%s.trace" % tag)
    args = ["-object", "tmem-pool,id=tp0,size=1G",
            "-device", "virtio-tmem-ccw,pool=tp0,id=tmem0,persistent=on",
            "-drive", "if=none,id=d0,format=raw,file=%s" % disk.name,
            "-device", "virtio-blk-ccw,drive=d0"]
    src = harness.Guest(qemu, images, "tmem", mem_mib=384,
                        args=args + ["-trace", "virtio_tmem_mig_complete",
                                     "-trace", "vmstate_downtime_save", "-D", trace],
                        log=os.path.join(outdir, "tmem-swap-%s-src.log" % tag))
    dst = harness.Guest(qemu, images, "tmem", mem_mib=384, args=args, incoming=True,
                        log=os.path.join(outdir, "tmem-swap-%s-dst.log" % tag))
    try:
        src.start()
        src.wait_ready(300)
        rc, out = src.cmd("%s && mkfifo /tmp/go && (memhog %d hold /tmp/go > /tmp/hog 2>&1 &) "
                          "&& while ! grep -q filled /tmp/hog; do sleep 1; done"
                          % (setup, hog_mib), timeout=600)
        if rc:
            raise harness.HarnessError("migration setup failed: %s" % out)
        time.sleep(2)
        pers = sum(c["persistent-pages"] for p in src.qmp.execute("query-tmem")
                   for c in p["clients"]) * 4096
        rc, out = src.cmd("grep -E 'SwapTotal|SwapFree' /proc/meminfo")
        kb = dict((l.split(":")[0], int(l.split()[1])) for l in out if ":" in l)
        swapped = (kb.get("SwapTotal", 0) - kb.get("SwapFree", 0)) * 1024
        dst.start()
        src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": 4096 * MIB,
                                                      "downtime-limit": 50})
        src.qmp.execute("migrate", uri=dst.migrate_uri)
        st = harness.wait_migration(src, 300)
        if st.get("status") != "completed":
            raise harness.HarnessError("migration %s" % st.get("status"))
        dst.qmp.execute("cont")
        dst.cmd("echo go > /tmp/go")
        ok = False
        for _ in range(600):
            rc, out = dst.cmd("cat /tmp/hog")
            if any("memhog: " in l and ("ok" in l or "FAILED" in l) for l in out):
                ok = any("memhog: ok" in l for l in out)
                break
            time.sleep(1)
    finally:
        src.close()
        dst.close()
        disk.close()
    us, late = harness.migration_trace(trace)
    return {"label": label, "pool": pers // MIB, "swapped": swapped // MIB,
            "downtime": st.get("downtime"), "total": st.get("total-time"),
            "ram_us": us.get("ram", 0),
            "tmem_us": sum(v for k, v in us.items() if "virtio-tmem" in k),
            "late": late, "intact": ok}


def plot(results, outdir):
    gp = shutil.which("gnuplot")
    if not gp:
        log("no gnuplot, no plot")
        return None
    data = os.path.join(outdir, "tmem-swap-rss.csv")
    with open(data, "w") as f:
        for i, r in enumerate(results):
            if i:
                f.write("\n\n")
            for t, rss, disk, tmem in r["samples"]:
                f.write("%.1f,%d,%d,%d\n" % (t, rss // MIB, disk // MIB, tmem // MIB))
    terms = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo" if "pngcairo" in terms else "png"
    png = os.path.join(outdir, "tmem-swap.png")
    lines = ["set terminal %s size 1200,700" % term, 'set output "%s"' % png,
             'set datafile separator ","', "set grid", 'set xlabel "seconds"',
             'set ylabel "MiB"', "set key outside right",
             'set title "%d MiB guest, %d MiB working set: QEMU RSS (solid) and swap '
             'backing in the host (dashed: tmpfs disk file or tmem pool)"' % (GUEST_MIB, WORK_MIB)]
    plots = []
    for i, r in enumerate(results):
        plots.append('"%s" index %d using 1:2 with lines lw 2 lc %d title "%s RSS"'
                     % (data, i, i + 1, r["name"]))
        col = 4 if r["name"].startswith("tmem") else 3
        if r["name"] not in ("zram", "ram"):
            plots.append('"%s" index %d using 1:%d with lines dt 2 lc %d title "%s %s"'
                         % (data, i, col, i + 1, r["name"], "pool" if col == 4 else "disk"))
    lines.append("plot " + ", ".join(plots))
    subprocess.run([gp], input="\n".join(lines), text=True, check=True)
    return png


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kernel", default="")
    ap.add_argument("--configs", default="ram,disk,zram,tmem-p,tmem-e")
    ap.add_argument("--no-migration", action="store_true")
    ap.add_argument("--mig-reps", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    results = []
    for name in args.configs.split(","):
        log("%s: %s" % (name, CONFIGS[name][0]))
        results.append(run_one(name, args.qemu, args.images, args.outdir, args.rounds))
        log("%s: %.1f s" % (name, results[-1]["time"]))
    base = next((r for r in results if r["name"] == "disk"), results[0])
    rows = ["| swap | time s | vs disk | swap-out MiB/s | swap-in MiB/s | out/in MiB "
            "| QEMU peak RSS MiB | disk file MiB | tmem pool MiB |",
            "|---|---|---|---|---|---|---|---|---|"]
    with open(os.path.join(args.outdir, "tmem-swap.csv"), "w") as f:
        f.write("swap,time_s,ratio_vs_disk,out_mib_s,in_mib_s,out_mib,in_mib,rss_mib,"
                "disk_mib,tmem_mib\n")
        for r in results:
            ratio = r["time"] / base["time"]
            f.write("%s,%.2f,%.3f,%.1f,%.1f,%d,%d,%d,%d,%d\n" % (
                r["name"], r["time"], ratio, r["out_rate"], r["in_rate"], r["swapped_out"],
                r["swapped_in"], r["rss"], r["disk"], r["tmem"]))
            rows.append("| %s | %.1f | %.2fx | %.1f | %.1f | %d/%d | %d | %d | %d |" % (
                r["name"], r["time"], ratio, r["out_rate"], r["in_rate"], r["swapped_out"],
                r["swapped_in"], r["rss"], r["disk"], r["tmem"]))
    by = {r["name"]: r for r in results}
    notes = []
    if "tmem-p" in by and "disk" in by:
        notes.append("tmem persistent is %.2fx as fast as the disk (goal >= 2)"
                     % (by["disk"]["time"] / by["tmem-p"]["time"]))
    if "tmem-p" in by and "zram" in by:
        notes.append("tmem persistent takes %.2fx the time of zram (goal <= 1)"
                     % (by["tmem-p"]["time"] / by["zram"]["time"]))
    if "ram" in by and "tmem-p" in by and "disk" in by:
        floor = by["ram"]["time"]
        notes.append("time spent swapping (above the %.1f s of the same work in RAM): "
                     "disk %.1f s, tmem persistent %.1f s (%.2fx less), zram %s"
                     % (floor, by["disk"]["time"] - floor, by["tmem-p"]["time"] - floor,
                        (by["disk"]["time"] - floor) / max(by["tmem-p"]["time"] - floor, 0.1),
                        "%.1f s" % (by["zram"]["time"] - floor) if "zram" in by else "-"))
    if "tmem-e" in by and "disk" in by:
        notes.append("tmem ephemeral takes %.2fx the time of the disk (goal <= 1)"
                     % (by["tmem-e"]["time"] / by["disk"]["time"]))
    if not args.no_migration:
        mig = {}
        for rep in range(args.mig_reps):
            for label in MIG_SETUPS:
                log("migration %d: %s" % (rep + 1, label))
                m = migrate_downtime(args.qemu, args.images, args.outdir, label, rep)
                mig.setdefault(label, []).append(m)
        rows += ["", "| migration (%d runs each, median) | swapped MiB | in pool MiB "
                 "| downtime ms | RAM part us | tmem part us | pool pages after stop "
                 "| total ms | hog intact |" % args.mig_reps,
                 "|---|---|---|---|---|---|---|---|---|"]
        med = {}
        for label, ms in mig.items():
            def m(key):
                return statistics.median(x[key] or 0 for x in ms)
            med[label] = m("downtime")
            rows.append("| %s | %d | %d | %s (%s) | %d | %d | %s | %d | %s |" % (
                label, m("swapped"), m("pool"), med[label],
                ", ".join(str(x["downtime"]) for x in ms), m("ram_us"), m("tmem_us"),
                "/".join(str(x["late"]) for x in ms), m("total"),
                all(x["intact"] for x in ms)))
        for other in ("disk", "no swap"):
            if med.get(other):
                notes.append("migration downtime with %d MiB in the persistent pool is "
                             "%.2fx that of the same guest swapping to %s (goal <= 2)"
                             % (statistics.median(x["pool"] for x in mig["tmem pool"]),
                                med["tmem pool"] / med[other],
                                "the disk" if other == "disk" else "nothing"))
    png = plot(results, args.outdir)
    text = "\n".join(["## tmem swap %s(%d MiB guest, %d MiB working set, %d rounds)"
                      % (args.kernel + " " if args.kernel else "", GUEST_MIB, WORK_MIB,
                         args.rounds), ""] + rows + [""] + ["- " + n for n in notes] +
                     (["", "plot: %s" % png] if png else []))
    with open(os.path.join(args.outdir, "tmem-swap.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
