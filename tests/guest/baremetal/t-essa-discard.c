/*
 * t-essa-discard: pages set unused are released to the host (eager policy,
 * default discard delay of 200 ms, or at once when a vCPU has queued 512
 * pages).  Items 17 and 18 of docs/devel/cmma-essa.rst:
 *
 *  - a released page reports content state 3 (logically zero) in R1 bits
 *    62-63 until it is set stable again, and reads as zeros, never as old
 *    data or another page's data; no exception when it is read;
 *  - every ORC from the released states (unused, unused + no-DAT,
 *    volatile) returns that state and makes KVM's transition for a page
 *    that is not resident;
 *  - pages that stay stable (or volatile / potentially volatile) keep
 *    their contents;
 *  - a page set unused and at once stable again holds its old contents
 *    or zeros, and once stable is never released later;
 *  - code in a released page does not keep running from stale
 *    translations.
 *
 * qemu-args: -m 256M -global s390-storage_attributes-tcg.discard=eager
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE            4096UL
#define WORDS           (PAGE / 8)
#define TIMEOUT_US      5000000UL       /* give up waiting for a release */

/* areas above the image */
#define AREA_A          (32UL << 20)    /* basic: 8 pages */
#define AREA_B          (33UL << 20)    /* from released states: 24 pages */
#define AREA_C          (34UL << 20)    /* unused, then stable at once */
#define AREA_CODE       (36UL << 20)    /* code page */
#define AREA_FULL       (40UL << 20)    /* 512 pages for a full queue */

#define ST_UNUSED       0x04UL
#define ST_POTVOL       0x08UL
#define ST_VOLATILE     0x0cUL
#define NODAT           0x20UL
#define ZERO            0x03UL          /* content state: logically zero */

extern char __bss_end[];

static void delay_us(uint64_t us)
{
    uint64_t end = rt_now_us() + us;

    while (rt_now_us() < end) {
    }
}

static uint64_t pattern(uint64_t addr, unsigned w, unsigned seed)
{
    return ((addr + w * 8) * 0x9e3779b97f4a7c15UL) ^ ((uint64_t)seed << 48) ^
           0x00000000c0ffee00UL;
}

static void fill(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned w;

    for (w = 0; w < WORDS; w++) {
        p[w] = pattern(page, w, seed);
    }
}

enum { C_PATTERN, C_ZERO, C_OTHER };
static const char *const cname[] = { "its pattern", "zeros", "other data" };

/* What the page holds: all of its pattern, all zeros or anything else. */
static int content(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned w, pat = 0, zero = 0;

    for (w = 0; w < WORDS; w++) {
        uint64_t v = p[w];

        pat += v == pattern(page, w, seed);
        zero += v == 0;
    }
    return pat == WORDS ? C_PATTERN : zero == WORDS ? C_ZERO : C_OTHER;
}

/* Cheap versions for the flip loop: 16 words spread over the page. */
#define LIGHT_WORD(k) ((k) * 32 + (k))

static void fill_light(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned k;

    for (k = 0; k < 16; k++) {
        p[LIGHT_WORD(k)] = pattern(page, LIGHT_WORD(k), seed);
    }
}

static int content_light(uint64_t page, unsigned seed)
{
    volatile uint64_t *p = (volatile uint64_t *)page;
    unsigned k, pat = 0, zero = 0;

    for (k = 0; k < 16; k++) {
        uint64_t v = p[LIGHT_WORD(k)];

        pat += v == pattern(page, LIGHT_WORD(k), seed);
        zero += v == 0;
    }
    return pat == 16 ? C_PATTERN : zero == 16 ? C_ZERO : C_OTHER;
}

/* Poll with ORC 0 until every page in list reports content state 3. */
static bool wait_released(const uint64_t *pages, unsigned n, uint64_t *us)
{
    uint64_t start = rt_now_us();
    unsigned i = 0;

    while (i < n) {
        if ((essa(0, pages[i]) & 3) == ZERO) {
            i++;
            continue;
        }
        if (rt_now_us() - start > TIMEOUT_US) {
            diag("  page 0x%lx not released after %lu us: R1 0x%lx",
                 pages[i], rt_now_us() - start, essa(0, pages[i]));
            *us = rt_now_us() - start;
            return false;
        }
    }
    *us = rt_now_us() - start;
    return true;
}

static uint64_t pg(uint64_t area, unsigned i)
{
    return area + i * PAGE;
}

/* ---- A: release of unused pages, stable ones keep their data ------- */

static void test_basic(void)
{
    static const struct { const char *what; uint64_t set; } st[8] = {
        { "stable", 0 }, { "unused", ST_UNUSED }, { "stable", 0 },
        { "unused", ST_UNUSED }, { "stable", 0 },
        { "unused no-DAT", NODAT | ST_UNUSED },
        { "volatile", ST_VOLATILE }, { "pot. volatile", ST_POTVOL },
    };
    uint64_t released[3] = { pg(AREA_A, 1), pg(AREA_A, 3), pg(AREA_A, 5) };
    uint64_t us;
    unsigned i;
    bool r;

    for (i = 0; i < 8; i++) {
        fill(pg(AREA_A, i), 1);
    }
    asm volatile("sske %0,%1" : : "d"(0x36UL), "d"(pg(AREA_A, 3)));
    for (i = 0; i < 8; i++) {
        uint64_t a = pg(AREA_A, i);

        if (st[i].set & NODAT) {
            essa(7, a);
        }
        switch (st[i].set & 0xc) {
        case ST_UNUSED:   essa(2, a); break;
        case ST_VOLATILE: essa(3, a); break;
        case ST_POTVOL:   essa(4, a); break;
        }
    }
    r = wait_released(released, 3, &us);
    ok(r, "the 3 unused pages are released (content state 3)");
    diag("released after %lu ms (discard delay 200 ms)", us / 1000);
    {
        uint64_t key = 0;

        /* z/VM: a released block has R and C zero; KVM and we keep keys */
        asm volatile("iske %0,%1" : "+d"(key) : "d"(pg(AREA_A, 3)));
        diag("storage key of a released page set to 0x36 before: 0x%02lx",
             key & 0xfe);
        asm volatile("sske %0,%1" : : "d"(0UL), "d"(pg(AREA_A, 3)));
    }

    for (i = 0; i < 8; i++) {
        uint64_t a = pg(AREA_A, i);
        bool rel = (st[i].set & 0xc) == ST_UNUSED;
        uint64_t want = st[i].set | (rel ? ZERO : 0), r1;
        int c;

        pgm_expect();
        c = content(a, 1);
        check_pgm(0, "page %u (%s): read without exception", i, st[i].what);
        r1 = essa(0, a);
        if (!ok(r1 == want && c == (rel ? C_ZERO : C_PATTERN),
                "page %u (%s): R1 0x%02lx, holds %s", i, st[i].what, want,
                cname[rel ? C_ZERO : C_PATTERN])) {
            diag("  R1 0x%lx, holds %s", r1, cname[c]);
        }
    }

    /* stable again: zeros, content state resident */
    is_eq(essa(1, pg(AREA_A, 1)), ST_UNUSED | ZERO,
          "ORC 1 on a released page returns 0x07");
    is_eq(essa(0, pg(AREA_A, 1)), 0, "then it is stable and resident (0)");
    is_eq(content(pg(AREA_A, 1), 1), C_ZERO, "and reads all zeros");
    is_eq(essa(7, pg(AREA_A, 5)), NODAT | ST_UNUSED | ZERO,
          "ORC 7 on a released no-DAT page returns 0x27");
    is_eq(essa(0, pg(AREA_A, 5)), NODAT, "then it is stable, no-DAT (0x20)");
    is_eq(content(pg(AREA_A, 5), 1), C_ZERO, "and reads all zeros");

    /* new data in a page that was released stays */
    fill(pg(AREA_A, 1), 2);
    is_eq(content(pg(AREA_A, 1), 2), C_PATTERN,
          "data written after ORC 1 reads back");
}

/* ---- B: every ORC from a released state --------------------------- */

static void test_from_released(void)
{
    static const uint64_t start[3] = {
        ST_UNUSED | ZERO, NODAT | ST_UNUSED | ZERO, ST_VOLATILE | ZERO,
    };
    /* expected state after ORC 0-7 (KVM, block not resident) */
    static const uint64_t next[3][8] = {
        { 0x07, 0x00, 0x07, 0x0f, 0x0f, 0x00, 0x07, 0x20 },
        { 0x27, 0x00, 0x27, 0x2f, 0x2f, 0x20, 0x27, 0x20 },
        { 0x0f, 0x00, 0x07, 0x0f, 0x0f, 0x00, 0x0f, 0x20 },
    };
    uint64_t pages[24], us;
    unsigned s, orc;

    for (s = 0; s < 3; s++) {
        for (orc = 0; orc < 8; orc++) {
            uint64_t a = pg(AREA_B, s * 8 + orc);

            pages[s * 8 + orc] = a;
            fill(a, 3);
            if (start[s] & NODAT) {
                essa(7, a);
            }
            essa(2, a);
        }
    }
    if (!ok(wait_released(pages, 24, &us), "24 unused pages released")) {
        return;
    }
    /* volatile and released: ORC 3 on a released unused page */
    for (orc = 0; orc < 8; orc++) {
        essa(3, pages[16 + orc]);
    }

    for (s = 0; s < 3; s++) {
        for (orc = 0; orc < 8; orc++) {
            uint64_t a = pages[s * 8 + orc], r1, now;
            int c;

            r1 = essa(orc, a);
            now = essa(0, a);
            c = content(a, 3);
            if (!ok(r1 == start[s] && now == next[s][orc] && c == C_ZERO,
                    "ORC %u on released state 0x%02lx: R1 0x%02lx, then "
                    "0x%02lx, zeros", orc, start[s], start[s],
                    next[s][orc])) {
                diag("  R1 0x%lx, then 0x%lx, holds %s", r1, now, cname[c]);
            }
        }
    }
}

/* ---- C: unused and stable again at once ---------------------------- */

#define C_PAGES 32

static void test_unused_then_stable(void)
{
    static unsigned seed[C_PAGES];
    unsigned i, bad = 0, zeroed = 0, rounds = 0, raced = 0;
    uint64_t start;

    /* one pass, then reads while unused (item 18) */
    for (i = 0; i < C_PAGES; i++) {
        uint64_t a = pg(AREA_C, i), r1;
        int c;

        seed[i] = 10;
        fill(a, seed[i]);
        essa(2, a);
        pgm_expect();
        c = content(a, seed[i]);
        if (pgm_check() || c == C_OTHER) {
            bad++;
        }
        r1 = essa(1, a);
        c = content(a, seed[i]);
        if ((r1 != ST_UNUSED && r1 != (ST_UNUSED | ZERO)) || c == C_OTHER ||
            (r1 == (ST_UNUSED | ZERO) && c != C_ZERO)) {
            diag("  page 0x%lx: R1 0x%lx, holds %s", a, r1, cname[c]);
            bad++;
        }
        zeroed += c == C_ZERO;
        fill(a, ++seed[i]);
    }
    ok(!bad, "unused then stable at once: old data or zeros, never other");
    diag("%u of %u pages came back as zeros", zeroed, C_PAGES);

    /*
     * Two seconds of unused/stable flips with small pauses, so that
     * some flips meet a release on the timer.  Each page's data written
     * after its ORC 1 must still be there at its next flip.
     */
    bad = 0;
    zeroed = 0;
    start = rt_now_us();
    while (rt_now_us() - start < 2000000) {
        for (i = 0; i < C_PAGES; i++) {
            uint64_t a = pg(AREA_C, i), r1;
            int c;

            if (content_light(a, seed[i]) != C_PATTERN) {
                diag("  page 0x%lx lost its data while stable", a);
                bad++;
            }
            essa(2, a);
            delay_us((rounds * 37 + i * 11) % 150);
            r1 = essa(1, a);
            c = content_light(a, seed[i]);
            if (c == C_OTHER ||
                (r1 != ST_UNUSED && r1 != (ST_UNUSED | ZERO)) ||
                (r1 == (ST_UNUSED | ZERO) && c != C_ZERO)) {
                diag("  page 0x%lx: R1 0x%lx, holds %s", a, r1, cname[c]);
                bad++;
            }
            zeroed += c == C_ZERO;
            raced += c == C_ZERO && r1 == ST_UNUSED;
            fill_light(a, ++seed[i]);
        }
        rounds++;
    }
    ok(!bad, "%u rounds of flips: data kept or zeroed, kept once stable",
       rounds);
    diag("%u of %u flips came back as zeros (%u with R1 0x04, i.e. the "
         "release was under way at ORC 1)", zeroed, rounds * C_PAGES, raced);

    /* wait past any pending release: the stable pages keep their data */
    delay_us(600000);
    for (i = 0, bad = 0; i < C_PAGES; i++) {
        uint64_t a = pg(AREA_C, i);

        if (content_light(a, seed[i]) != C_PATTERN || essa(0, a) != 0) {
            bad++;
        }
    }
    is_eq(bad, 0, "600 ms later all %u stable pages still hold their data",
          C_PAGES);
}

/* ---- D: a full queue is released at once --------------------------- */

static void test_full_queue(void)
{
    unsigned i;
    uint64_t r1;

    fill(pg(AREA_FULL, 0), 4);
    for (i = 0; i < 512; i++) {
        essa(2, pg(AREA_FULL, i));
    }
    r1 = essa(0, pg(AREA_FULL, 0));
    is_eq(r1, ST_UNUSED | ZERO,
          "after 512 pages set unused the first one is released at once");
    essa(1, pg(AREA_FULL, 0));
    is_eq(content(pg(AREA_FULL, 0), 4), C_ZERO, "and reads zeros");
}

/* ---- E: no stale translated code ----------------------------------- */

static volatile uint64_t *lc_slot(unsigned off)
{
    volatile uint64_t *p;

    asm("lgr %0,%1" : "=d"(p) : "d"((uint64_t)off));
    return p;
}

/*
 * Call the code at fn (it returns a value in r2).  A program interruption
 * in there comes back here through our own program-new PSW address;
 * *pic then holds its code (0 if none) and *where its old PSW address.
 */
static uint64_t call_catch(uint64_t fn, uint16_t *pic, uint64_t *where)
{
    volatile uint64_t *new_addr = lc_slot(0x1d8);
    uint64_t saved = *new_addr, caught = 0;
    register uint64_t r2 asm("2") = SENTINEL;

    asm volatile("  larl  %%r1,1f\n"
                 "  stg   %%r1,0x1d8\n"
                 "  basr  %%r14,%[fn]\n"
                 "  j     2f\n"
                 "1:\n"
                 "  lghi  %[c],1\n"
                 "2:\n"
                 : "+d"(r2), [c] "+d"(caught)
                 : [fn] "a"(fn)
                 : "r1", "r14", "cc", "memory");
    *new_addr = saved;
    *pic = caught ? *(volatile uint16_t *)((uintptr_t)lc_slot(0x8e)) : 0;
    *where = caught ? *lc_slot(0x158) : 0;
    return r2;
}

static void put_fn(uint64_t page, uint16_t value)
{
    volatile uint8_t *p = (volatile uint8_t *)page;

    /* lghi %r2,value ; br %r14 */
    p[0] = 0xa7;
    p[1] = 0x29;
    p[2] = value >> 8;
    p[3] = value & 0xff;
    p[4] = 0x07;
    p[5] = 0xfe;
}

static void test_code(void)
{
    uint64_t f = AREA_CODE, where, us, got;
    uint16_t pic;

    put_fn(f, 0x1234);
    got = call_catch(f, &pic, &where);
    got = call_catch(f, &pic, &where) | (uint64_t)pic << 32;
    is_eq(got, 0x1234, "code page: function returns 0x1234 (translated)");

    essa(2, f);
    if (!ok(wait_released(&f, 1, &us), "code page released")) {
        return;
    }
    is_eq(essa(1, f), ST_UNUSED | ZERO, "code page set stable again");
    is_eq(*(volatile uint64_t *)f, 0, "code page reads zeros");

    got = call_catch(f, &pic, &where);
    if (!ok(pic == PGM_OPERATION && where == f + 2,
            "calling the released code: operation exception on the zeros, "
            "not the old translation")) {
        diag("  returned 0x%lx, PIC 0x%x at 0x%lx", got, pic, where);
    }

    put_fn(f, 0x5678);
    got = call_catch(f, &pic, &where) | (uint64_t)pic << 32;
    is_eq(got, 0x5678, "new code written there returns 0x5678");

    /* once more, with the old code written back before the release */
    put_fn(f, 0x1234);
    got = call_catch(f, &pic, &where) | (uint64_t)pic << 32;
    is_eq(got, 0x1234, "old code written back returns 0x1234");
    essa(2, f);
    if (wait_released(&f, 1, &us)) {
        essa(1, f);
        put_fn(f, 0x4321);
        got = call_catch(f, &pic, &where) | (uint64_t)pic << 32;
        is_eq(got, 0x4321, "after a second release new code returns 0x4321");
    } else {
        ok(false, "code page released a second time");
    }
}

int main(void)
{
    if ((uint64_t)__bss_end > AREA_A) {
        rt_bail("image too large");
    }
    test_basic();
    test_from_released();
    test_unused_then_stable();
    test_full_queue();
    test_code();
    return 0;
}
