/*
 * t-essa-race: a page that a CPU sets stable is never released after its
 * ESSA returns (docs/system/s390x/cmma.rst, "A page that the guest sets
 * stable again is never released after that ESSA returns"; items 17/18 of
 * docs/devel/cmma-essa.rst: data in a stable page is never lost).
 *
 * CPU 1 queues RACE_PAGES unused pages that cannot be coalesced and, last
 * in address order, page P.  The timer releases that batch (about 200 ms
 * later) one range at a time, in address order.  As soon as CPU 1 sees
 * the first page released, it sets P stable: P is marked "release under
 * way", so CPU 1's ESSA waits until the batch is done.  Meanwhile CPU 0,
 * once it sees P stable, sets P unused and stable again itself (its own
 * ESSAs, no mark left, so they do not wait), writes data into P and,
 * when the batch is done, reads it back.
 *
 * The data must still be there.  A few attempts; the test reports how
 * many of them really hit a release under way (CPU 1's ESSA saw P unused
 * and not yet released while the last page before P was not yet
 * released either).
 *
 * qemu-args: -m 256M -smp 2 -global s390-storage_attributes-tcg.discard=eager
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE            4096UL
#define TIMEOUT_US      5000000UL
#define CPU1            1
#define RACE_AREA       (64UL << 20)
#define RACE_PAGES      500             /* below the 512 of a full queue */
#define ATTEMPTS        10

extern char __bss_end[];

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

static uint64_t lpage(unsigned i)
{
    return RACE_AREA + 2 * i * PAGE;
}

#define P       lpage(RACE_PAGES)       /* after all the others */
#define LAST    lpage(RACE_PAGES - 1)

static struct {
    volatile uint32_t done, ready;
    uint64_t r1_p, last_before, last_after, wait_us;
} mb;

/* CPU 1 */
static void job_race(void)
{
    uint64_t start, t;
    unsigned i;

    /* queue the batch on CPU 1's queue */
    for (i = 0; i < RACE_PAGES; i++) {
        essa(2, lpage(i));
    }
    essa(2, P);
    sync_mem();
    mb.ready = 1;
    sync_mem();

    start = rt_now_us();
    while ((essa(0, lpage(0)) & 3) != 3 && rt_now_us() - start < TIMEOUT_US) {
    }
    mb.last_before = essa(0, LAST);
    t = rt_now_us();
    mb.r1_p = essa(1, P);
    mb.wait_us = rt_now_us() - t;
    mb.last_after = essa(0, LAST);
    sync_mem();
    mb.done = 1;
}

static uint64_t data(unsigned attempt, unsigned w)
{
    return 0x2222222200000000UL | ((uint64_t)attempt << 16) | w;
}

int main(void)
{
    unsigned attempt, hits = 0, lost_hit = 0, lost_any = 0;
    uint32_t status = 0;

    if ((uint64_t)__bss_end > RACE_AREA) {
        rt_bail("image too large");
    }
    if (!ok(rt_sigp(CPU1, SIGP_SENSE, 0, &status) == 1 &&
            (status & SIGP_STATUS_STOPPED), "CPU 1 exists and is stopped")) {
        return 0;
    }

    for (attempt = 0; attempt < ATTEMPTS; attempt++) {
        volatile uint64_t *d = (volatile uint64_t *)P;
        uint64_t start, ra, rb, lost = 0;
        unsigned i, w;
        bool hit;

        /* let the timer empty the queues first */
        start = rt_now_us();
        while (rt_now_us() - start < 300000) {
        }
        /* stable pages with data: releasing each takes a while */
        for (i = 0; i <= RACE_PAGES; i++) {
            essa(1, lpage(i));
            *(volatile uint64_t *)lpage(i) = i + 1;
        }

        mb.done = mb.ready = 0;
        sync_mem();
        if (!rt_cpu_start(CPU1, job_race)) {
            ok(false, "CPU 1 started");
            return 0;
        }
        start = rt_now_us();
        while (!mb.ready && rt_now_us() - start < TIMEOUT_US) {
            sync_mem();
        }
        /* until CPU 1 has set P stable */
        while (essa(0, P) != 0 && rt_now_us() - start < TIMEOUT_US) {
        }
        /* P is stable (CPU 1's ESSA): unused and stable again here */
        ra = essa(2, P);
        rb = essa(1, P);
        for (w = 0; w < PAGE / 8; w++) {
            d[w] = data(attempt, w);
        }
        start = rt_now_us();
        while (!mb.done && rt_now_us() - start < TIMEOUT_US) {
            sync_mem();
        }
        if (!mb.done || !rt_cpu_wait_stopped(CPU1, TIMEOUT_US)) {
            ok(false, "CPU 1 finished");
            return 0;
        }
        for (w = 0; w < PAGE / 8; w++) {
            lost += d[w] != data(attempt, w);
        }
        hit = mb.r1_p == 0x04 && mb.last_before == 0x04;
        hits += hit;
        lost_hit += hit && lost;
        lost_any += !!lost;
        diag("attempt %u: CPU 1 ORC 1 on P: R1 0x%lx, waited %lu us (page "
             "before P: 0x%lx -> 0x%lx); CPU 0 ORC 2: 0x%lx, ORC 1: 0x%lx; "
             "P now 0x%lx, %lu of 512 words lost", attempt, mb.r1_p,
             mb.wait_us, mb.last_before, mb.last_after, ra, rb, essa(0, P),
             lost);
    }
    diag("%u of %u attempts hit a release under way", hits, ATTEMPTS);
    if (!ok(lost_any == 0, "data written after ORC 1 returned is never lost "
            "(%u attempts, %u during a release)", ATTEMPTS, hits)) {
        diag("  lost in %u attempts, %u of them during a release", lost_any,
             lost_hit);
    }
    return 0;
}
