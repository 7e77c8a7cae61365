/*
 * b-essa: what one ESSA costs under TCG, from a bare-metal loop.
 *
 * Times N executions of each request pattern with the TOD clock and
 * subtracts an identical loop around a register-to-register no-op.
 * Prints "bench: NAME NS" lines for bench/essa-cost.sh.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

#define N 2000000UL
#define PAGES 64

static uint8_t area[PAGES * 4096] __attribute__((aligned(4096)));

static inline uint64_t tod(void)
{
    uint64_t t;

    asm volatile("stck %0" : "=Q"(t) : : "cc");
    return t;
}

/* TOD units are 2^-12 microseconds. */
static uint64_t tod_to_ps(uint64_t d)
{
    return d * 1000000 / 4096;
}

#define ESSA(orc, addr) ({                                              \
    uint64_t _r1;                                                       \
    asm volatile(".insn rrf,0xb9ab0000,%0,%1," #orc ",0"                \
                 : "=d"(_r1) : "d"(addr) : "memory");                   \
    _r1;                                                                \
})

static uint64_t loop_nop(void)
{
    uint64_t t0 = tod(), i, x = 0;

    for (i = 0; i < N; i++) {
        asm volatile("lgr %0,%1" : "=d"(x) : "d"(i + x));
    }
    return tod() - t0;
}

static uint64_t loop_extract(void)
{
    uint64_t t0 = tod(), i;

    for (i = 0; i < N; i++) {
        ESSA(0, (uint64_t)area + (i % PAGES) * 4096);
    }
    return tod() - t0;
}

static uint64_t loop_stable(void)
{
    uint64_t t0 = tod(), i;

    for (i = 0; i < N; i++) {
        ESSA(1, (uint64_t)area + (i % PAGES) * 4096);
    }
    return tod() - t0;
}

/* The Linux pattern: free (unused) then allocate (stable, no-DAT). */
static uint64_t loop_free_alloc(void)
{
    uint64_t t0 = tod(), i;

    for (i = 0; i < N / 2; i++) {
        uint64_t a = (uint64_t)area + (i % PAGES) * 4096;

        ESSA(2, a);
        ESSA(7, a);
    }
    return tod() - t0;
}

static void report(const char *name, uint64_t d, uint64_t base)
{
    uint64_t ps = tod_to_ps(d > base ? d - base : 0) / N;

    rt_printf("bench: %s %lu.%03lu\n", name, ps / 1000, ps % 1000);
}

int main(void)
{
    uint64_t base;

    memset(area, 0x5a, sizeof(area));
    loop_nop();                         /* warm up the translator */
    base = loop_nop();
    rt_printf("bench: loop %lu.%03lu\n", tod_to_ps(base) / N / 1000,
              tod_to_ps(base) / N % 1000);
    report("essa-extract", loop_extract(), base);
    report("essa-set-stable", loop_stable(), base);
    report("essa-unused+stable-nodat", loop_free_alloc(), base);
    ok(true, "benchmark ran");
    return 0;
}
