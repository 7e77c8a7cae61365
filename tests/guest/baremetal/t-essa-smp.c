/*
 * t-essa-smp: page states are global to the machine (item 13 of
 * docs/devel/cmma-essa.rst).  CPU 1 runs jobs from a mailbox through
 * rt_cpu_start() (own prefix area, SIGP RESTART, stops itself after each
 * job).  Checked:
 *
 *  - states set on one CPU are seen by ESSA ORC 0 on the other, both ways,
 *    and neighbouring pages stay stable;
 *  - R2 is an absolute address: prefixing is not applied (CPU 1 has a
 *    non-zero prefix; ESSA on 0 and on its prefix area);
 *  - concurrent ESSAs of both CPUs on one page (MTTCG) are atomic: CPU 0
 *    moves the page into class A, CPU 1 into class B; every R1 is a state
 *    of A or B, and the B->A changes seen by CPU 0 minus the A->B changes
 *    seen by CPU 1 equal 1 if the page ends in A, else 0.  Also ORC 2
 *    against ORC 1, with releases of the unused page in between;
 *  - an unused page queued by CPU 1 is released like one from CPU 0.
 *
 * qemu-args: -m 256M -smp 2 -global s390-storage_attributes-tcg.discard=eager
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE            4096UL
#define TIMEOUT_US      5000000UL
#define AREA            (32UL << 20)    /* test pages, above the image */
#define HAMMER_N        500000
#define CPU1            1

extern char __bss_end[];

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

static uint64_t pg(unsigned i)
{
    return AREA + i * PAGE;
}

/* ---- mailbox and CPU 1's jobs ---------------------------------------- */

static struct {
    volatile uint32_t done, ready, go;
    unsigned n;                 /* ops: ESSA orc[i] on addr[i] */
    unsigned orc[8];
    uint64_t addr[8];
    uint64_t r1[8];
    /* hammer */
    unsigned horc;
    uint64_t page, a[2], b[2];
    uint64_t cnt[2], bad, bad_r1;
} mb;

/*
 * n ESSAs with orc on page, counting R1 values of class A (a[0], a[1]) in
 * cnt[0] and of class B in cnt[1]; anything else is bad.
 */
static void hammer(unsigned orc, uint64_t page, unsigned n,
                   const uint64_t *a, const uint64_t *b, uint64_t *cnt,
                   uint64_t *bad, uint64_t *bad_r1)
{
    unsigned k;

    for (k = 0; k < n; k++) {
        uint64_t r1 = essa(orc, page);

        if (r1 == a[0] || r1 == a[1]) {
            cnt[0]++;
        } else if (r1 == b[0] || r1 == b[1]) {
            cnt[1]++;
        } else {
            (*bad)++;
            *bad_r1 = r1;
        }
    }
}

static void job_ops(void)
{
    unsigned i;

    sync_mem();
    for (i = 0; i < mb.n; i++) {
        mb.r1[i] = essa(mb.orc[i], mb.addr[i]);
    }
    sync_mem();
    mb.done = 1;
}

static void job_hammer(void)
{
    uint64_t start;

    mb.cnt[0] = mb.cnt[1] = mb.bad = 0;
    sync_mem();
    mb.ready = 1;
    start = rt_now_us();
    while (!mb.go && rt_now_us() - start < TIMEOUT_US) {
        sync_mem();
    }
    hammer(mb.horc, mb.page, HAMMER_N, mb.a, mb.b, mb.cnt, &mb.bad,
           &mb.bad_r1);
    sync_mem();
    mb.done = 1;
}

static bool cpu1_start(void (*job)(void))
{
    mb.done = mb.ready = mb.go = 0;
    sync_mem();
    return rt_cpu_start(CPU1, job);
}

static bool cpu1_wait(void)
{
    uint64_t start = rt_now_us();

    while (!mb.done) {
        sync_mem();
        if (rt_now_us() - start > TIMEOUT_US) {
            diag("  CPU 1 did not finish its job");
            return false;
        }
    }
    return rt_cpu_wait_stopped(CPU1, TIMEOUT_US);
}

/* Run n ESSAs on CPU 1. */
static bool cpu1_ops(unsigned n, const unsigned *orc, const uint64_t *addr)
{
    unsigned i;

    mb.n = n;
    for (i = 0; i < n; i++) {
        mb.orc[i] = orc[i];
        mb.addr[i] = addr[i];
        mb.r1[i] = SENTINEL;
    }
    return cpu1_start(job_ops) && cpu1_wait();
}

/* ---- tests ------------------------------------------------------------ */

static void test_visibility(void)
{
    /* CPU 1 sets, CPU 0 sees */
    {
        static const unsigned orc[] = { 7, 2, 3, 4 };
        uint64_t addr[] = { pg(1), pg(3), pg(5) + 0x123, pg(7) + 0xfff };

        if (!ok(cpu1_ops(4, orc, addr), "CPU 1 ran ORC 7, 2, 3, 4")) {
            return;
        }
        ok(mb.r1[0] == 0 && mb.r1[1] == 0 && mb.r1[2] == 0 && mb.r1[3] == 0,
           "CPU 1: R1 0 for each fresh page");
        is_eq(essa(0, pg(1)), 0x20, "CPU 0 sees CPU 1's ORC 7 (0x20)");
        is_eq(essa(0, pg(3)), 0x04, "CPU 0 sees CPU 1's ORC 2 (0x04)");
        is_eq(essa(0, pg(5)), 0x0c, "CPU 0 sees CPU 1's ORC 3 (0x0c)");
        is_eq(essa(0, pg(7)), 0x08, "CPU 0 sees CPU 1's ORC 4 (0x08)");
        ok(essa(0, pg(0)) == 0 && essa(0, pg(2)) == 0 &&
           essa(0, pg(4)) == 0 && essa(0, pg(6)) == 0 && essa(0, pg(8)) == 0,
           "neighbour pages still stable");
    }

    /* CPU 0 sets, CPU 1 sees */
    {
        static const unsigned orc[] = { 0, 0, 1, 0 };
        uint64_t addr[] = { pg(9), pg(11), pg(1), pg(1) };

        essa(7, pg(9));
        essa(2, pg(9));
        essa(4, pg(11));
        if (!ok(cpu1_ops(4, orc, addr), "CPU 1 ran ORC 0, 0, 1, 0")) {
            return;
        }
        is_eq(mb.r1[0], 0x24, "CPU 1 sees CPU 0's unused no-DAT (0x24)");
        is_eq(mb.r1[1], 0x08, "CPU 1 sees CPU 0's pot. volatile (0x08)");
        is_eq(mb.r1[2], 0x20, "CPU 1's ORC 1 returns the old 0x20");
        is_eq(mb.r1[3], 0x00, "and CPU 1 then sees stable (0)");
        is_eq(essa(0, pg(1)), 0, "CPU 0 sees it stable too");
    }
}

/* R2 is absolute: CPU 1 with prefix P, ESSA on 0 and on P. */
static void test_prefix(void)
{
    static const unsigned orc[] = { 0, 0, 7, 0 };
    uint64_t p = (uint64_t)rt_cpu_lowcore[CPU1 - 1];   /* its prefix */
    uint64_t addr[] = { 0, p, 0x123, p + PAGE };

    /* volatile and pot. volatile pages are never released */
    essa(3, p);
    essa(4, p + PAGE);
    if (!ok(cpu1_ops(4, orc, addr), "CPU 1 (prefix 0x%lx) ran its ESSAs",
            p)) {
        return;
    }
    is_eq(mb.r1[0], 0x00, "CPU 1, R2 = 0: state of absolute page 0");
    is_eq(mb.r1[1], 0x0c, "CPU 1, R2 = prefix: state of absolute page P");
    is_eq(mb.r1[3], 0x08, "CPU 1, R2 = prefix + 4K: absolute page P+4K");
    is_eq(essa(0, 0), 0x20, "CPU 1's ORC 7 on 0x123 hit absolute page 0");
    is_eq(essa(0, p), 0x0c, "absolute page P unchanged");
    essa(1, 0);
    essa(1, p);
    essa(1, p + PAGE);
}

static void test_hammer(const char *what, unsigned orc0, unsigned orc1,
                        const uint64_t a[2], const uint64_t b[2],
                        unsigned page)
{
    uint64_t cnt0[2] = { 0, 0 }, bad0 = 0, bad_r1 = 0;
    uint64_t start, us, fin, b_to_a, a_to_b;
    bool fin_a;

    mb.horc = orc1;
    mb.page = pg(page);
    mb.a[0] = a[0];
    mb.a[1] = a[1];
    mb.b[0] = b[0];
    mb.b[1] = b[1];
    essa(1, mb.page);
    if (essa(0, mb.page) != b[0]) {
        rt_bail("%s: start state not in class B", what);
    }
    if (!ok(cpu1_start(job_hammer), "%s: CPU 1 started", what)) {
        return;
    }
    start = rt_now_us();
    while (!mb.ready && rt_now_us() - start < TIMEOUT_US) {
        sync_mem();
    }
    mb.go = 1;
    sync_mem();
    start = rt_now_us();
    hammer(orc0, mb.page, HAMMER_N, a, b, cnt0, &bad0, &bad_r1);
    us = rt_now_us() - start;
    if (!ok(cpu1_wait(), "%s: CPU 1 finished", what)) {
        return;
    }
    fin = essa(0, mb.page);
    fin_a = fin == a[0] || fin == a[1];
    b_to_a = cnt0[1];
    a_to_b = mb.cnt[0];
    if (!ok(bad0 == 0 && mb.bad == 0 &&
            (fin_a || fin == b[0] || fin == b[1]) &&
            b_to_a - a_to_b == (uint64_t)fin_a,
            "%s: %u ESSAs per CPU, each R1 a possible old state, the changes "
            "add up to the final state", what, HAMMER_N)) {
        diag("  bad R1: CPU 0 %lu (e.g. 0x%lx), CPU 1 %lu (e.g. 0x%lx)",
             bad0, bad_r1, mb.bad, mb.bad_r1);
        diag("  B->A changes %lu, A->B changes %lu, final 0x%lx", b_to_a,
             a_to_b, fin);
    }
    diag("%s: %lu B->A and %lu A->B changes, CPU 0 loop %lu ms", what,
         b_to_a, a_to_b, us / 1000);
}

static void test_cpu1_release(void)
{
    static const unsigned orc[] = { 2 };
    uint64_t addr[] = { pg(30) };
    volatile uint64_t *p = (volatile uint64_t *)pg(30);
    uint64_t start, us;
    unsigned w, nz = 0;

    for (w = 0; w < PAGE / 8; w++) {
        p[w] = 0xfeedface00000000UL | w;
    }
    if (!ok(cpu1_ops(1, orc, addr), "CPU 1 set a page with data unused")) {
        return;
    }
    start = rt_now_us();
    while ((essa(0, pg(30)) & 3) != 3 && rt_now_us() - start < TIMEOUT_US) {
    }
    us = rt_now_us() - start;
    is_eq(essa(1, pg(30)), 0x07,
          "CPU 0 sees it released (0x07) and sets it stable");
    diag("released %lu ms after CPU 1 queued it", us / 1000);
    for (w = 0; w < PAGE / 8; w++) {
        nz += p[w] != 0;
    }
    is_eq(nz, 0, "the page reads zeros");
}

int main(void)
{
    static const uint64_t vol[2] = { 0x0c, 0x0c }, st[2] = { 0, 0 };
    static const uint64_t nodat[2] = { 0x20, 0x20 };
    static const uint64_t unused[2] = { 0x04, 0x07 };
    uint32_t status = 0;
    int cc;

    if ((uint64_t)__bss_end > AREA) {
        rt_bail("image too large");
    }
    cc = rt_sigp(CPU1, SIGP_SENSE, 0, &status);
    if (!ok(cc == 1 && (status & SIGP_STATUS_STOPPED),
            "CPU 1 exists and is stopped")) {
        diag("  SIGP SENSE: CC %d status 0x%x", cc, status);
        return 0;
    }
    test_visibility();
    test_prefix();
    test_hammer("ORC 3 vs ORC 5", 3, 5, vol, st, 20);
    test_hammer("ORC 7 vs ORC 1", 7, 1, nodat, st, 22);
    test_hammer("ORC 2 vs ORC 1", 2, 1, unused, st, 24);
    test_cpu1_release();
    return 0;
}
