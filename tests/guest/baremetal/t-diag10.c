/*
 * t-diag10: DIAGNOSE 0x10 (release pages) on the qemu-cmm machine type,
 * with KVM's semantics (docs/devel/cmma-essa.rst, "DIAG 0x10"):
 *
 *  - privileged: problem state takes a privileged-operation exception;
 *  - specification exception when the first or last page address is not
 *    page-aligned, the first lies above the last, the first is below
 *    8 KiB, or the last is the top page (the end wraps);
 *  - released pages read as zeros, then hold what is written again;
 *  - a one-page range (first == last) releases that page;
 *  - pages next to the range keep their content;
 *  - the issuing CPU's prefix pages (its lowcore) are never released: a
 *    range over the real prefix addresses releases absolute 0-8 KiB
 *    instead, as KVM does, and the lowcore keeps its content;
 *  - a range above guest memory is ignored, with no exception.
 *
 * qemu-args: -m 256M
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

#define PAGE            4096UL
#define WORDS           (PAGE / 8)
#define AREA            (64UL << 20)    /* 16 pages, above the image */
#define PREFIX          (96UL << 20)    /* a prefix area for this CPU */
#define MARK            0x1f00UL        /* a lowcore word the runtime leaves */

static inline void diag10(uint64_t first, uint64_t last)
{
    register uint64_t r2 asm("2") = first;
    register uint64_t r4 asm("4") = last;

    asm volatile("diag %0,%1,0x10" : : "d"(r2), "d"(r4) : "memory");
}

static inline void set_prefix(uint64_t p)
{
    uint32_t v = p;

    asm volatile("spx %0" : : "Q"(v) : "memory");
}

static uint64_t pattern(uint64_t addr, unsigned w)
{
    return ((addr + w * 8) * 0x9e3779b97f4a7c15UL) ^ 0x00000000c0ffee00UL;
}

static void fill(uint64_t page)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned w;

    for (w = 0; w < WORDS; w++) {
        p[w] = pattern(page, w);
    }
}

static bool holds_pattern(uint64_t page)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned w;

    for (w = 0; w < WORDS; w++) {
        if (p[w] != pattern(page, w)) {
            return false;
        }
    }
    return true;
}

static bool is_zero(uint64_t page)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned w;

    for (w = 0; w < WORDS; w++) {
        if (p[w]) {
            return false;
        }
    }
    return true;
}

static void bad_range(uint64_t first, uint64_t last, const char *what)
{
    fill(AREA);
    pgm_expect();
    diag10(first, last);
    check_pgm(PGM_SPECIFICATION, "specification exception: %s", what);
    ok(holds_pattern(AREA), "... and nothing released (%s)", what);
}

static void test_exceptions(void)
{
    fill(AREA);
    enter_pstate();
    pgm_expect();
    diag10(AREA, AREA);
    leave_pstate();
    check_pgm(PGM_PRIVILEGED, "problem state: privileged-operation exception");
    ok(holds_pattern(AREA), "... and nothing released");

    bad_range(AREA + 8, AREA + PAGE, "first page not aligned");
    bad_range(AREA, AREA + PAGE + 0x800, "last page not aligned");
    bad_range(AREA + PAGE, AREA, "first above last");
    bad_range(PAGE, AREA, "first below 8 KiB");
    bad_range(0, AREA, "first at 0");
    bad_range(AREA, ~(PAGE - 1), "last page at the top of storage");
}

static void test_release(void)
{
    unsigned i;
    bool zero = true, kept;

    for (i = 0; i < 16; i++) {
        fill(AREA + i * PAGE);
    }
    pgm_expect();
    diag10(AREA + 2 * PAGE, AREA + 13 * PAGE);
    check_pgm(0, "pages 2-13 of 16: no exception");
    for (i = 2; i <= 13; i++) {
        zero &= is_zero(AREA + i * PAGE);
    }
    ok(zero, "the released pages read as zeros");
    kept = holds_pattern(AREA) && holds_pattern(AREA + PAGE) &&
           holds_pattern(AREA + 14 * PAGE) && holds_pattern(AREA + 15 * PAGE);
    ok(kept, "the pages around the range keep their content");

    for (i = 2; i <= 13; i++) {
        fill(AREA + i * PAGE);
    }
    kept = true;
    for (i = 0; i < 16; i++) {
        kept &= holds_pattern(AREA + i * PAGE);
    }
    ok(kept, "released pages hold what is written again");

    pgm_expect();
    diag10(AREA + 5 * PAGE, AREA + 5 * PAGE);
    check_pgm(0, "a one-page range: no exception");
    ok(is_zero(AREA + 5 * PAGE) && holds_pattern(AREA + 4 * PAGE) &&
       holds_pattern(AREA + 6 * PAGE), "it releases that page alone");

    pgm_expect();
    diag10(1UL << 40, (1UL << 40) + 15 * PAGE);
    check_pgm(0, "a range above guest memory: no exception");
    pgm_expect();
    diag10(255UL << 20, (1UL << 40));
    check_pgm(0, "a range across the end of guest memory: no exception");
    ok(is_zero(255UL << 20), "... and its part in guest memory is released");
}

static void test_prefix(void)
{
    volatile uint64_t *lc_mark = (volatile uint64_t *)MARK;
    volatile uint64_t *abs_mark = (volatile uint64_t *)(PREFIX + MARK);
    bool before;

    /* move the lowcore to PREFIX: real 0-8K is absolute PREFIX from now */
    memcpy((void *)PREFIX, (void *)0, 2 * PAGE);
    set_prefix(PREFIX);
    *lc_mark = 0x10c0e10c0e10c0eUL;     /* lowcore page 1, absolute PREFIX */
    *abs_mark = 0xab5ab5ab5ab5ab5UL;    /* real PREFIX + MARK: absolute MARK */
    fill(PREFIX - PAGE);
    fill(PREFIX + 2 * PAGE);
    before = *lc_mark == 0x10c0e10c0e10c0eUL &&
             *abs_mark == 0xab5ab5ab5ab5ab5UL;

    pgm_expect();
    diag10(PREFIX - PAGE, PREFIX + 2 * PAGE);
    check_pgm(0, "a range over the real prefix pages: no exception");
    ok(before && *lc_mark == 0x10c0e10c0e10c0eUL,
       "the CPU's lowcore (its prefix pages) keeps its content");
    ok(*abs_mark == 0, "real prefix pages release absolute 0-8 KiB, as KVM");
    ok(is_zero(PREFIX - PAGE) && is_zero(PREFIX + 2 * PAGE),
       "the pages around the prefix area are released");

    /* interruptions still work with the lowcore at PREFIX */
    pgm_expect();
    diag10(PAGE, PAGE);
    check_pgm(PGM_SPECIFICATION, "program interruptions still arrive");

    /* back to prefix 0: real PREFIX is absolute 0 now, so copy it there */
    memcpy((void *)PREFIX, (void *)0, 2 * PAGE);
    set_prefix(0);
}

int main(void)
{
    test_exceptions();
    test_release();
    test_prefix();
    return 0;
}
