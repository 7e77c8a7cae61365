/*
 * t-essa-adaptive: the adaptive discard policy, as a guest sees it.
 *
 *  - a whole 2 MiB block of pages set unused, and not taken back, is
 *    released (content state "logically zero", reads as zeros);
 *  - a few unused pages in an otherwise stable block are released too,
 *    later, and the stable pages around them keep their contents;
 *  - pages set stable again before their block was released are never
 *    released afterwards, and keep what the guest writes;
 *  - pages the guest keeps reusing meanwhile keep their contents.
 *
 * qemu-args: -m 256M -global s390-storage_attributes-tcg.discard=adaptive
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE            4096UL
#define WORDS           (PAGE / 8)
#define BLOCK_PAGES     512UL
#define TIMEOUT_US      10000000UL      /* give up waiting for a release */

#define AREA_WHOLE      (32UL << 20)    /* 2 MiB aligned blocks */
#define AREA_PART       (36UL << 20)
#define AREA_BACK       (40UL << 20)
#define AREA_REUSE      (44UL << 20)
#define PART_PAGES      8
#define ZERO            0x03UL          /* content state: logically zero */

static uint64_t pattern(uint64_t addr, unsigned w, unsigned seed)
{
    return ((addr + w * 8) * 0x9e3779b97f4a7c15UL) ^ ((uint64_t)seed << 48) ^
           0x00000000feed0000UL;
}

static void fill(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;

    for (unsigned w = 0; w < WORDS; w++) {
        p[w] = pattern(page, w, seed);
    }
}

static bool holds(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;

    for (unsigned w = 0; w < WORDS; w++) {
        if (p[w] != pattern(page, w, seed)) {
            return false;
        }
    }
    return true;
}

static bool zeros(uint64_t page)
{
    volatile uint64_t *p = (volatile uint64_t *)page;

    for (unsigned w = 0; w < WORDS; w++) {
        if (p[w]) {
            return false;
        }
    }
    return true;
}

static uint64_t pg(uint64_t area, unsigned i)
{
    return area + i * PAGE;
}

/* Poll with ORC 0 until pages [first, first + n) report logically zero. */
static bool wait_released(uint64_t area, unsigned first, unsigned n,
                          uint64_t *us)
{
    uint64_t start = rt_now_us();
    unsigned i = first;

    while (i < first + n) {
        if ((essa(0, pg(area, i)) & 3) == ZERO) {
            i++;
            continue;
        }
        if (rt_now_us() - start > TIMEOUT_US) {
            diag("  page 0x%lx not released after %lu us: R1 0x%lx",
                 pg(area, i), rt_now_us() - start, essa(0, pg(area, i)));
            *us = rt_now_us() - start;
            return false;
        }
    }
    *us = rt_now_us() - start;
    return true;
}

static void delay_us(uint64_t us)
{
    uint64_t end = rt_now_us() + us;

    while (rt_now_us() < end) {
    }
}

static void test_whole_block(void)
{
    unsigned i, bad = 0;
    uint64_t us;

    for (i = 0; i < BLOCK_PAGES; i++) {
        fill(pg(AREA_WHOLE, i), 1);
        essa(2, pg(AREA_WHOLE, i));
    }
    ok(wait_released(AREA_WHOLE, 0, BLOCK_PAGES, &us),
       "a whole unused 2 MiB block is released (%lu ms)", us / 1000);
    for (i = 0; i < BLOCK_PAGES; i++) {
        bad += !zeros(pg(AREA_WHOLE, i));
    }
    is_eq(bad, 0, "its pages read as zeros");
    for (i = 0; i < BLOCK_PAGES; i++) {
        essa(1, pg(AREA_WHOLE, i));
    }
}

static void test_partial_block(void)
{
    unsigned i, bad = 0, zero = 0;
    uint64_t us;

    for (i = 0; i < BLOCK_PAGES; i++) {
        fill(pg(AREA_PART, i), 2);
    }
    for (i = 100; i < 100 + PART_PAGES; i++) {
        essa(2, pg(AREA_PART, i));
    }
    ok(wait_released(AREA_PART, 100, PART_PAGES, &us),
       "%u unused pages in a stable block are released (%lu ms)",
       PART_PAGES, us / 1000);
    for (i = 0; i < BLOCK_PAGES; i++) {
        if (i >= 100 && i < 100 + PART_PAGES) {
            zero += zeros(pg(AREA_PART, i));
        } else {
            bad += !holds(pg(AREA_PART, i), 2);
        }
    }
    is_eq(zero, PART_PAGES, "they read as zeros");
    is_eq(bad, 0, "the stable pages of the block keep their contents");
}

static void test_taken_back(void)
{
    unsigned i, bad = 0, state = 0;

    /* unused and at once stable again, long before a block is due */
    for (i = 0; i < BLOCK_PAGES; i++) {
        fill(pg(AREA_BACK, i), 3);
        essa(2, pg(AREA_BACK, i));
    }
    for (i = 0; i < BLOCK_PAGES; i++) {
        essa(1, pg(AREA_BACK, i));
        fill(pg(AREA_BACK, i), 4);
    }
    delay_us(2000000);
    for (i = 0; i < BLOCK_PAGES; i++) {
        bad += !holds(pg(AREA_BACK, i), 4);
        state += (essa(0, pg(AREA_BACK, i)) & 0x0f) != 0;
    }
    is_eq(bad, 0, "pages set stable before their block was due keep what "
          "the guest wrote, 2 s later");
    is_eq(state, 0, "and report stable, resident");
}

static void test_reuse(void)
{
    uint64_t end = rt_now_us() + 3000000;
    unsigned i, round = 0, bad = 0;

    /*
     * A working set freed and taken back every few milliseconds for 3 s:
     * whatever the policy releases meanwhile, a page that is stable holds
     * what was written after its last set-stable.
     */
    while (rt_now_us() < end) {
        for (i = 0; i < 64; i++) {
            essa(1, pg(AREA_REUSE, i));
            fill(pg(AREA_REUSE, i), 10 + round % 100);
        }
        for (i = 0; i < 64; i++) {
            bad += !holds(pg(AREA_REUSE, i), 10 + round % 100);
            essa(2, pg(AREA_REUSE, i));
        }
        round++;
    }
    diag("  %u rounds of free and reuse", round);
    is_eq(bad, 0, "a working set reused over and over keeps its contents");
}

int main(void)
{
    test_whole_block();
    test_partial_block();
    test_taken_back();
    test_reuse();
    return 0;
}
