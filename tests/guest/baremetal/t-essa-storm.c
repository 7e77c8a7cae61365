/*
 * t-essa-storm: a hostile guest at scale.  Four CPUs (MTTCG) run ten
 * million random ESSA operations between them on 32 MiB of interleaved
 * pages (page p belongs to CPU p % 4, so the ranges the host coalesces
 * and releases cross every owner), while the host releases what they mark
 * unused (eager policy).  Each CPU holds some of its pages stable with a
 * pattern in them: a held page must never change (items 17 and 18 of
 * docs/devel/cmma-essa.rst: data in a stable page is never lost), however
 * the other pages around it come and go.  run.py checks QEMU's peak RSS
 * (max-rss-mib below): ten million operations must not grow it.
 *
 * qemu-args: -m 256M -smp 4 -global s390-storage_attributes-tcg.discard=eager
 * max-rss-mib: 256
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE            4096UL
#define CPUS            4
#define AREA            (64UL << 20)
#define NPAGES          8192                    /* 32 MiB */
#define OPS_PER_CPU     2500000UL               /* 10^7 in all */
#define TIMEOUT_US      (600UL * 1000 * 1000)
#define MARKS           8                       /* words checked per page */
#define CONTENT_ZERO    0x03UL                  /* R1: logically zero */

/* per page, written only by its owner */
static uint32_t held_seq[NPAGES];               /* 0: not held */

typedef struct Result {
    uint64_t essa;              /* ESSA executed */
    uint64_t holds;             /* pages made stable and written */
    uint64_t checks;            /* held pages checked */
    uint64_t bad;               /* held pages found changed */
    uint64_t zero_seen;         /* ESSA reported a page logically zero */
    uint64_t first_bad_page;
    volatile uint64_t done;
} Result;

static Result res[CPUS];

static uint64_t mark(unsigned page, uint32_t seq, unsigned m)
{
    return ((uint64_t)page << 40) ^ ((uint64_t)seq << 8) ^ m ^
           0x5a5a000000000000UL;
}

static volatile uint64_t *word(unsigned page, unsigned m)
{
    return (volatile uint64_t *)(AREA + page * PAGE + m * (PAGE / MARKS));
}

static bool intact(unsigned page)
{
    for (unsigned m = 0; m < MARKS; m++) {
        if (*word(page, m) != mark(page, held_seq[page], m)) {
            return false;
        }
    }
    return true;
}

static void storm(unsigned cpu)
{
    Result *r = &res[cpu];
    uint64_t x = 0x9e3779b97f4a7c15UL * (cpu + 1);
    uint32_t seq = 1;

    for (uint64_t i = 0; i < OPS_PER_CPU; i++) {
        unsigned page, orc;
        uint64_t r1;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        page = (x >> 8) % (NPAGES / CPUS) * CPUS + cpu;
        if (held_seq[page]) {
            if ((x & 0xff) < 8) {
                /* let go of it, after checking it */
                r->checks++;
                if (!intact(page) && !r->bad++) {
                    r->first_bad_page = page;
                }
                held_seq[page] = 0;
                essa(2, AREA + page * PAGE);    /* unused */
            } else {
                essa(0, AREA + page * PAGE);    /* extract: no change */
            }
            r->essa++;
            continue;
        }
        orc = x & 7;
        r1 = essa(orc, AREA + page * PAGE);
        r->essa++;
        r->zero_seen += (r1 & 3) == CONTENT_ZERO;
        if ((orc == 1 || orc == 5 || orc == 7) && (x & 0x300) == 0) {
            /* stable now: write it and hold it */
            held_seq[page] = seq++;
            for (unsigned m = 0; m < MARKS; m++) {
                *word(page, m) = mark(page, held_seq[page], m);
            }
            r->holds++;
        }
    }
    /* every page still held is checked at the end */
    for (unsigned page = cpu; page < NPAGES; page += CPUS) {
        if (held_seq[page]) {
            r->checks++;
            if (!intact(page) && !r->bad++) {
                r->first_bad_page = page;
            }
        }
    }
    asm volatile("bcr 14,0" : : : "memory");
    r->done = 1;
}

static void storm1(void) { storm(1); }
static void storm2(void) { storm(2); }
static void storm3(void) { storm(3); }

int main(void)
{
    static void (*const jobs[CPUS])(void) = { NULL, storm1, storm2, storm3 };
    uint64_t start = rt_now_us(), essa_all = 0, bad = 0, zero = 0, checks = 0;
    bool started = true;

    for (unsigned c = 1; c < CPUS; c++) {
        started &= rt_cpu_start(c, jobs[c]);
    }
    if (!ok(started, "CPUs 1-3 started")) {
        return 0;
    }
    storm(0);
    for (unsigned c = 1; c < CPUS; c++) {
        ok(rt_cpu_wait_stopped(c, TIMEOUT_US) && res[c].done,
           "CPU %u finished its %lu operations", c, OPS_PER_CPU);
    }
    for (unsigned c = 0; c < CPUS; c++) {
        essa_all += res[c].essa;
        bad += res[c].bad;
        zero += res[c].zero_seen;
        checks += res[c].checks;
        diag("CPU %u: %lu ESSA, %lu pages held, %lu checked, %lu changed "
             "(first %lu), %lu seen logically zero", c, res[c].essa,
             res[c].holds, res[c].checks, res[c].bad, res[c].first_bad_page,
             res[c].zero_seen);
    }
    diag("%lu ESSA in %lu ms", essa_all, (rt_now_us() - start) / 1000);
    is_eq(essa_all, CPUS * OPS_PER_CPU, "ten million ESSA operations ran");
    ok(checks > 10000, "held pages were checked (%lu)", checks);
    is_eq(bad, 0, "no page held stable ever changed");
    ok(zero > 0, "the host released pages meanwhile (%lu seen zero)", zero);
    return 0;
}
