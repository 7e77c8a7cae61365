/*
 * t-essa: EXTRACT AND SET STORAGE ATTRIBUTES (ESSA, B9AB) with the "cmm"
 * and "cmmnt" CPU features on (the default "qemu" CPU model).
 *
 * Covers items 2, 3, 5 (problem state first), 6 (addressing, no state
 * change), 7 (condition code and program mask kept), 8 (fresh pages are
 * 0, ORC 0 changes nothing), 9/14 (every ORC from every resident state
 * returns the old state and makes the documented transition), 10 (all of
 * R1 written, no other register, key or byte changed), 11 (low 12 bits of
 * R2 ignored), 12 (R2 = 0 is GR0, R1 = R2), 13 (neighbours untouched), 15
 * (no-DAT bit 58) and 16 (content state never 1) of the test list in
 * docs/devel/cmma-essa.rst, plus facility 147 in STFLE.
 *
 * Pages set unused are queued for release; the long discard delay keeps
 * them resident while this program runs, so every R1 here is exact
 * (t-essa-discard covers the release itself with the default delay).
 *
 * qemu-args: -m 256M -global s390-storage_attributes-tcg.discard-delay-ms=10000
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define RAM_SIZE        (256UL << 20)   /* matches -m above */
#define PAGE            4096UL
#define NPAGES          (RAM_SIZE / PAGE)

/* Test pages: REGION_PAGES pages from REGION, far above the image. */
#define REGION          (16UL << 20)
#define REGION_PAGES    512


/* R1 fields (bit 58 no-DAT, 59 exception, 60-61 usage, 62-63 content) */
#define R1_NODAT        0x20UL
#define R1_EXC          0x10UL
#define R1_USAGE(u)     ((uint64_t)(u) << 2)
#define ST_STABLE       R1_USAGE(0)
#define ST_UNUSED       R1_USAGE(1)
#define ST_POTVOL       R1_USAGE(2)
#define ST_VOLATILE     R1_USAGE(3)

extern char __bss_end[];

/* ---- ESSA wrappers --------------------------------------------------- */

static const char *const orc_name[8] = {
    "extract", "set stable", "set unused", "set volatile",
    "set pot. volatile", "set stable+resident", "set stable if resident",
    "set stable no-DAT",
};


/* ---- the expected state of every test page ------------------------- */

static uint64_t model[REGION_PAGES];
static unsigned next_free;

static uint64_t tp(unsigned i)
{
    return REGION + i * PAGE;
}

/* A fresh test page with a stable neighbour page (guard) on each side. */
static unsigned alloc_page(void)
{
    unsigned i;

    next_free += 2;
    i = next_free - 1;
    if (next_free >= REGION_PAGES) {
        rt_bail("out of test pages");
    }
    return i;
}

/* KVM's transition for a resident page (notes 1.3, list items 14, 15). */
static uint64_t expect_next(uint64_t old, unsigned orc)
{
    uint64_t nodat = old & R1_NODAT;

    switch (orc) {
    case 0: return old;
    case 1: return ST_STABLE;
    case 2: return nodat | ST_UNUSED;
    case 3: return nodat | ST_VOLATILE;
    case 4: return nodat | ST_POTVOL;
    case 5: return nodat | ST_STABLE;
    case 6: return nodat | ST_STABLE;
    case 7: return R1_NODAT | ST_STABLE;
    }
    return ~0UL;
}

/* ESSA on test page i; count mismatches against the model. */
static unsigned model_errors;

static uint64_t essa_m(unsigned orc, unsigned i)
{
    uint64_t r1 = essa(orc, tp(i));

    if (r1 != model[i]) {
        if (model_errors++ < 8) {
            diag("page 0x%lx ORC %u: R1 0x%lx, model 0x%lx", tp(i), orc, r1,
                 model[i]);
        }
    }
    model[i] = expect_next(model[i], orc);
    return r1;
}

/* Bring test page i into state st (R1 encoding, resident). */
static void set_state(unsigned i, uint64_t st)
{
    essa_m(1, i);
    if (st & R1_NODAT) {
        essa_m(7, i);
    }
    switch (st & R1_USAGE(3)) {
    case ST_UNUSED:   essa_m(2, i); break;
    case ST_POTVOL:   essa_m(4, i); break;
    case ST_VOLATILE: essa_m(3, i); break;
    }
}

static uint64_t pattern(uint64_t addr, unsigned w)
{
    return (addr + w * 8) ^ 0x5aa5c33c96696996UL;
}

/* ---- sections ---------------------------------------------------------- */

static void test_stfle(void)
{
    static uint64_t fac[4] __attribute__((aligned(8)));
    register uint64_t r0 asm("0") = 3;

    asm volatile(".insn s,0xb2b00000,0(%[b])"
                 : "+d"(r0) : [b] "a"(fac) : "cc", "memory");
    ok((r0 & 0xff) >= 2 && ((fac[2] >> (63 - (147 - 128))) & 1),
       "STFLE: facility 147 (ESSA no-DAT) installed");
}

/* Item 8: every page reads 0 at power-on, and ORC 0 changes nothing. */
static void test_fresh(void)
{
    uint64_t a, first_bad = ~0UL, bad_r1 = 0;
    unsigned bad = 0, content1 = 0;

    for (a = 0; a < RAM_SIZE; a += PAGE) {
        uint64_t r1 = essa(0, a);

        if ((r1 & 3) == 1) {
            content1++;
        }
        if (r1 != 0) {
            if (!bad++) {
                first_bad = a;
                bad_r1 = r1;
            }
        }
    }
    if (!ok(bad == 0, "ORC 0 on all %lu pages after power-on: R1 = 0",
            NPAGES)) {
        diag("  %u pages differ, first 0x%lx: R1 0x%lx", bad, first_bad,
             bad_r1);
    }
    is_eq(content1, 0, "no page reports content state 1 (reserved)");

    for (a = 0; a < RAM_SIZE; a += PAGE) {
        if (essa(0, a) != 0) {
            bad++;
        }
    }
    is_eq(bad, 0, "a second ORC 0 pass agrees (extract changes nothing)");
}

/* Items 9, 14, 15: every ORC from every resident start state. */
static void test_transitions(void)
{
    static const uint64_t starts[] = {
        ST_STABLE, ST_UNUSED, ST_POTVOL, ST_VOLATILE,
        R1_NODAT | ST_STABLE, R1_NODAT | ST_UNUSED,
        R1_NODAT | ST_POTVOL, R1_NODAT | ST_VOLATILE,
    };
    unsigned s, orc;

    for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
        for (orc = 0; orc < 8; orc++) {
            unsigned i = alloc_page();
            uint64_t want = expect_next(starts[s], orc), r1, now, again;

            set_state(i, starts[s]);
            r1 = essa(orc, tp(i));
            now = essa(0, tp(i));
            again = essa(0, tp(i));
            model[i] = want;
            if (!ok(r1 == starts[s] && now == want && again == want,
                    "ORC %u (%s) on state 0x%02lx: R1 0x%02lx, then 0x%02lx",
                    orc, orc_name[orc], starts[s], starts[s], want)) {
                diag("  got R1 0x%lx, then 0x%lx, 0x%lx", r1, now, again);
            }
        }
    }

    /* a chain on one page, as in item 9 */
    {
        static const struct { unsigned orc; uint64_t old; } chain[] = {
            { 2, 0x00 }, { 1, 0x04 }, { 7, 0x00 }, { 3, 0x20 }, { 4, 0x2c },
            { 2, 0x28 }, { 6, 0x24 }, { 5, 0x20 }, { 1, 0x20 }, { 0, 0x00 },
        };
        unsigned i = alloc_page(), k, bad = 0;

        for (k = 0; k < sizeof(chain) / sizeof(chain[0]); k++) {
            uint64_t r1 = essa(chain[k].orc, tp(i));

            if (r1 != chain[k].old) {
                diag("  step %u ORC %u: R1 0x%lx, expected 0x%lx", k,
                     chain[k].orc, r1, chain[k].old);
                bad++;
            }
            model[i] = expect_next(model[i], chain[k].orc);
        }
        is_eq(bad, 0, "chain 2,1,7,3,4,2,6,5,1,0 returns each old state");
    }

    /* no-DAT survives ORCs 2-6 in any order, ORC 1 drops it */
    {
        unsigned i = alloc_page(), orc2, bad = 0;

        essa_m(7, i);
        for (orc2 = 2; orc2 <= 6; orc2++) {
            uint64_t r1 = essa_m(orc2, i);

            bad += !(r1 & R1_NODAT);
        }
        bad += !(essa_m(1, i) & R1_NODAT);
        bad += essa_m(0, i) != 0;
        is_eq(bad, 0, "no-DAT kept by ORC 2-6, cleared only by ORC 1");
    }
}

/* Item 3 (and 5: ORC checked before the address): ORC 8-15. */
static void test_specification(void)
{
    unsigned i = alloc_page(), orc;
    char what[64];

    set_state(i, R1_NODAT | ST_UNUSED);
    for (orc = 8; orc <= 15; orc++) {
        uint64_t r1, next;

        rt_snprintf(what, sizeof(what), "ORC %u", orc);
        pgm_expect();
        r1 = essa_n(orc, tp(i), &next);
        check_exc(PGM_SPECIFICATION, r1, next, what);
    }
    pgm_expect();
    {
        uint64_t next, r1 = essa_n(9, RAM_SIZE, &next);

        check_exc(PGM_SPECIFICATION, r1, next,
                  "ORC 9 with R2 beyond memory (specification first)");
    }
    is_eq(essa_m(0, i), R1_NODAT | ST_UNUSED,
          "page state unchanged by the rejected ORCs");
}

/* Items 2 and 5: problem state. */
static void test_pstate(void)
{
    static const struct { unsigned orc; int beyond; } cases[] = {
        { 0, 0 }, { 1, 0 }, { 2, 0 }, { 7, 0 }, { 9, 0 }, { 15, 0 },
        { 2, 1 }, { 12, 1 },
    };
    unsigned i = alloc_page(), k;
    uint64_t r1s[8], nexts[8];
    struct pgm_info pis[8];
    uint16_t pics[8];

    set_state(i, ST_VOLATILE);
    for (k = 0; k < 8; k++) {
        enter_pstate();
        pgm_expect();
        r1s[k] = essa_n(cases[k].orc, cases[k].beyond ? RAM_SIZE : tp(i),
                        &nexts[k]);
        pics[k] = pgm_check();
        pis[k] = *pgm_last();
        leave_pstate();
    }
    for (k = 0; k < 8; k++) {
        bool good = pics[k] == PGM_PRIVILEGED && pis[k].ilc == 2 &&
                    pis[k].psw_addr == nexts[k] && r1s[k] == SENTINEL;

        if (!ok(good, "problem state, ORC %u%s: privileged-operation, "
                "suppressed", cases[k].orc,
                cases[k].beyond ? ", R2 beyond memory" : "")) {
            diag("  PIC 0x%x ILC %u PSW addr 0x%lx (next 0x%lx) R1 0x%lx",
                 pics[k], pis[k].ilc, pis[k].psw_addr, nexts[k], r1s[k]);
        }
    }
    is_eq(essa_m(0, i), ST_VOLATILE, "page state unchanged in problem state");
}

/* Item 6: addressing exception, nothing changes (also no truncation of
 * R2 onto a valid page). */
static void test_addressing(void)
{
    unsigned i = alloc_page(), k;
    uint64_t last = RAM_SIZE - PAGE;
    uint64_t bad[] = {
        RAM_SIZE, RAM_SIZE + 0xfff, RAM_SIZE + 0x123000,
        0x7ffff000UL, 0x80000000UL | tp(i), 0x100000000UL | tp(i),
        0x8000000000000000UL | tp(i), 0x0000010000000000UL | tp(i),
        0xfffffffffffff000UL, 0xffffffffffffffffUL,
    };
    char what[80];

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        unsigned orc;

        for (orc = 0; orc <= 7; orc += 7) {
            uint64_t r1, next;

            rt_snprintf(what, sizeof(what), "ORC %u, R2 0x%lx", orc, bad[k]);
            pgm_expect();
            r1 = essa_n(orc, bad[k], &next);
            check_exc(PGM_ADDRESSING, r1, next, what);
        }
    }
    is_eq(essa_m(0, i), 0,
          "page at the low bits of those addresses unchanged");

    /* last page of memory is valid */
    pgm_expect();
    {
        uint64_t r1 = essa(7, last);

        check_pgm(0, "last page of memory (0x%lx): no exception", last);
        is_eq(r1, 0, "last page of memory: R1 0");
        is_eq(essa(1, last), R1_NODAT, "last page: no-DAT set by ORC 7");
        is_eq(essa(0, last), 0, "last page: back to stable");
    }

    /* the PSW addressing mode is not applied to R2 */
    {
        uint64_t r1 = SENTINEL, r1b = SENTINEL;
        uint64_t a31 = 0x100000000UL | tp(i), n;

        pgm_expect();
        asm volatile("  sam31\n"
                     "  .insn rrf,0xb9ab0000,%[r1],%[r2],7,0\n"
                     "  sam64\n"
                     : [r1] "+d"(r1) : [r2] "d"(tp(i)) : "memory");
        check_pgm(0, "31-bit mode, R2 below 2 GiB: no exception");
        is_eq(r1, 0, "31-bit mode: R1 0");
        model[i] = R1_NODAT;
        pgm_expect();
        asm volatile("  larl  %[n],1f\n"
                     "  sam31\n"
                     "  .insn rrf,0xb9ab0000,%[r1],%[r2],1,0\n"
                     "1:\n"
                     "  sam64\n"
                     : [r1] "+d"(r1b), [n] "=&d"(n)
                     : [r2] "d"(a31) : "memory");
        check_exc(PGM_ADDRESSING, r1b, n,
                  "31-bit mode, R2 = 4 GiB + page: all 64 bits used");
        is_eq(essa_m(0, i), R1_NODAT, "31-bit mode: page kept its state");
    }
}

/* Item 7: CC and program mask unchanged, with and without exception. */
#define CC_CASE(orc)                                                    \
    case orc:                                                           \
        asm volatile("  spm   %[in]\n"                                  \
                     "  .insn rrf,0xb9ab0000,%[r1],%[r2]," #orc ",0\n"  \
                     "  ipm   %[out]\n"                                 \
                     "  spm   %[zero]\n"                                \
                     : [r1] "+d"(r1), [out] "+d"(out)                   \
                     : [r2] "d"(addr), [in] "d"(in), [zero] "d"(0UL)    \
                     : "cc", "memory");                                 \
        break;

static unsigned essa_cc(unsigned orc, uint64_t addr, unsigned cc,
                        unsigned pm, uint64_t *r1p)
{
    uint64_t r1 = SENTINEL, out = 0;
    uint64_t in = ((uint64_t)cc << 28) | ((uint64_t)pm << 24);

    switch (orc) {
    CC_CASE(0) CC_CASE(1) CC_CASE(2) CC_CASE(7) CC_CASE(9)
    default:
        rt_bail("essa_cc: ORC %u", orc);
    }
    *r1p = r1;
    return (out >> 24) & 0x3f;      /* CC (2 bits) and program mask */
}

static void test_cc(void)
{
    static const unsigned orcs[] = { 0, 1, 2, 7 };
    unsigned i = alloc_page(), cc, k, bad = 0;

    for (cc = 0; cc < 4; cc++) {
        for (k = 0; k < 4; k++) {
            uint64_t r1;
            unsigned pm = (cc * 5 + k) & 0xf;
            unsigned got = essa_cc(orcs[k], tp(i), cc, pm, &r1);

            if (got != ((cc << 4) | pm) || r1 != model[i]) {
                diag("  CC %u PM %x ORC %u: got CC/PM 0x%x R1 0x%lx", cc, pm,
                     orcs[k], got, r1);
                bad++;
            }
            model[i] = expect_next(model[i], orcs[k]);
        }
        ok(!bad, "CC %u and program mask kept by ORC 0, 1, 2, 7", cc);
        bad = 0;
    }
    essa_m(1, i);

    /* specification exception: old PSW and resumed PSW keep the CC */
    for (cc = 0; cc < 4; cc++) {
        uint64_t r1;
        unsigned got;
        uint64_t mask;

        pgm_expect();
        got = essa_cc(9, tp(i), cc, 0x5, &r1);
        mask = pgm_last()->psw_mask;
        if (!ok(pgm_check() == PGM_SPECIFICATION &&
                ((mask >> 44) & 3) == cc && got == ((cc << 4) | 5),
                "ORC 9 with CC %u: specification, CC %u in the old PSW", cc,
                cc)) {
            diag("  PIC 0x%x old PSW mask 0x%lx CC/PM after 0x%x",
                 pgm_last()->pic, mask, got);
        }
    }
}

/*
 * Item 10: all of R1 is written and no other GR changes; item 12: R2 = 0
 * means GR0, R1 = R2 works.  GRs are loaded from and stored to lowcore
 * slots addressed without a base register.
 */
#define LC_SAVE 0x800
#define LC_IN   0x880
#define LC_OUT  0x900

static volatile uint64_t *lc_slot(unsigned off)
{
    volatile uint64_t *p;

    asm("lgr %0,%1" : "=d"(p) : "d"((uint64_t)off));
    return p;
}

#define REG_CASE(n, r1, r2, orc)                                        \
    case n:                                                             \
        asm volatile("  stmg  %%r0,%%r15,0x800\n"                       \
                     "  lmg   %%r0,%%r15,0x880\n"                       \
                     "  .insn rrf,0xb9ab0000,%%r" #r1 ",%%r" #r2 ","    \
                     #orc ",0\n"                                        \
                     "  stmg  %%r0,%%r15,0x900\n"                       \
                     "  lmg   %%r0,%%r15,0x800\n"                       \
                     ::: "memory");                                     \
        break;

static const struct { unsigned r1, r2, orc; } regcases[] = {
    { 1, 2, 7 }, { 2, 1, 0 }, { 15, 14, 2 }, { 0, 3, 1 }, { 4, 0, 7 },
    { 0, 0, 1 }, { 9, 9, 7 }, { 0, 0, 0 }, { 13, 11, 3 },
};

static void reg_essa(unsigned n)
{
    switch (n) {
    REG_CASE(0, 1, 2, 7)
    REG_CASE(1, 2, 1, 0)
    REG_CASE(2, 15, 14, 2)
    REG_CASE(3, 0, 3, 1)
    REG_CASE(4, 4, 0, 7)
    REG_CASE(5, 0, 0, 1)
    REG_CASE(6, 9, 9, 7)
    REG_CASE(7, 0, 0, 0)
    REG_CASE(8, 13, 11, 3)
    }
}

static void test_registers(void)
{
    volatile uint64_t *in = lc_slot(LC_IN), *out = lc_slot(LC_OUT);
    unsigned n;

    for (n = 0; n < sizeof(regcases) / sizeof(regcases[0]); n++) {
        unsigned r1 = regcases[n].r1, r2 = regcases[n].r2;
        unsigned orc = regcases[n].orc, i = alloc_page(), g, bad = 0;
        uint64_t want_r1, addr;

        /* page 0 for the Linux-style detection ESSA (R1 = R2 = 0 = GR0) */
        addr = n == 7 ? 0 : tp(i);
        if (addr) {
            /* a known non-zero old state, so that R1 has set bits */
            set_state(i, n & 1 ? (R1_NODAT | ST_POTVOL) : ST_VOLATILE);
            /* low 12 bits set in R2 as well (item 11) */
            addr += (n * 0x123) & 0xfff;
        }
        want_r1 = addr ? model[i] : 0;
        for (g = 0; g < 16; g++) {
            in[g] = 0xa5a5000000000000UL | ((uint64_t)g << 40) |
                    (0x1111UL * g);
        }
        if (r1 != r2) {
            in[r1] = ~0UL;      /* every bit of R1 must be replaced */
        }
        in[r2] = addr;
        reg_essa(n);
        for (g = 0; g < 16; g++) {
            uint64_t want = g == r1 ? want_r1 : in[g];

            if (out[g] != want) {
                diag("  r%u: 0x%lx, expected 0x%lx", g, out[g], want);
                bad++;
            }
        }
        ok(!bad, "ESSA r%u,r%u,%u: R1 = old state 0x%lx, other GRs kept",
           r1, r2, orc, want_r1);
        if (addr) {
            model[i] = expect_next(model[i], orc);
            is_eq(essa_m(0, i), model[i], "ESSA r%u,r%u,%u: page 0x%lx now "
                  "0x%02lx", r1, r2, orc, tp(i), model[i]);
        }
    }
    is_eq(essa(0, 0), 0, "page 0 untouched by the R2 = 0 forms");
}

/* Item 11 (low bits), 13 (neighbours), M4 field ignored. */
static void test_lowbits(void)
{
    static const uint64_t offs[] = { 0x1, 0x123, 0x800, 0xfff };
    unsigned k, bad = 0;

    for (k = 0; k < 4; k++) {
        unsigned i = alloc_page();
        uint64_t r1;

        r1 = essa(7, tp(i) + offs[k]);
        model[i] = R1_NODAT;
        r1 |= essa(3, tp(i) + offs[k]) ^ R1_NODAT;
        model[i] = R1_NODAT | ST_VOLATILE;
        if (r1 != 0 || essa(0, tp(i)) != model[i] ||
            essa(0, tp(i) - PAGE) != 0 || essa(0, tp(i) + PAGE) != 0) {
            diag("  offset 0x%lx: wrong page", offs[k]);
            bad++;
        }
    }
    is_eq(bad, 0, "R2 low 12 bits ignored; neighbour pages unchanged");

    /* M4 (instruction bits 20-23) is ignored like KVM does */
    {
        unsigned i = alloc_page();
        uint64_t r1 = SENTINEL, r1b = SENTINEL;

        asm volatile(".insn rrf,0xb9ab0000,%[r1],%[r2],7,15"
                     : [r1] "+d"(r1) : [r2] "d"(tp(i)) : "memory");
        asm volatile(".insn rrf,0xb9ab0000,%[r1],%[r2],0,5"
                     : [r1] "+d"(r1b) : [r2] "d"(tp(i)) : "memory");
        model[i] = R1_NODAT;
        ok(r1 == 0 && r1b == R1_NODAT, "non-zero M4 field ignored");
    }
}

/* Item 10: storage key (incl. reference/change bits) unchanged. */
static unsigned iske(uint64_t addr)
{
    uint64_t key = 0;

    asm volatile("iske %0,%1" : "+d"(key) : "d"(addr) : "memory");
    return key & 0xff;
}

static void sske(uint64_t addr, unsigned key)
{
    asm volatile("sske %0,%1" : : "d"((uint64_t)key), "d"(addr) : "memory");
}

static void test_keys(void)
{
    static const unsigned keys[] = { 0x30, 0x36, 0x08 };
    unsigned k;

    for (k = 0; k < 3; k++) {
        unsigned i = alloc_page(), orc, got;

        sske(tp(i), keys[k]);
        for (orc = 0; orc < 8; orc++) {
            essa_m(orc, i);
        }
        essa_m(2, i);
        essa_m(1, i);
        got = iske(tp(i));
        sske(tp(i), 0);
        is_eq(got, keys[k], "storage key 0x%02x kept by ORC 0-7", keys[k]);
    }
}

int main(void)
{
    uint64_t a;
    unsigned i, bad;

    if ((uint64_t)__bss_end > REGION) {
        rt_bail("image too large: ends at %p", __bss_end);
    }
    test_stfle();
    test_fresh();

    /* fill the test region with a pattern (item 10: no byte changes) */
    for (a = REGION; a < REGION + REGION_PAGES * PAGE; a += 8) {
        *(volatile uint64_t *)a = pattern(a, 0);
    }

    test_transitions();
    test_specification();
    test_pstate();
    test_addressing();
    test_cc();
    test_registers();
    test_lowbits();
    test_keys();
    is_eq(model_errors, 0, "every ESSA on the way returned the model state");

    /* every test page matches the model, every other page is stable */
    bad = 0;
    for (i = 0; i < REGION_PAGES; i++) {
        uint64_t r1 = essa(0, tp(i));

        if (r1 != model[i]) {
            if (bad++ < 8) {
                diag("  page 0x%lx: 0x%lx, expected 0x%lx", tp(i), r1,
                     model[i]);
            }
        }
    }
    is_eq(bad, 0, "final states of all %u test pages as expected",
          REGION_PAGES);
    bad = 0;
    for (a = 0; a < RAM_SIZE; a += PAGE) {
        if ((a < REGION || a >= REGION + REGION_PAGES * PAGE) &&
            essa(0, a) != 0) {
            if (bad++ < 8) {
                diag("  page 0x%lx: 0x%lx", a, essa(0, a));
            }
        }
    }
    is_eq(bad, 0, "all other pages still stable, no-DAT off");

    bad = 0;
    for (a = REGION; a < REGION + REGION_PAGES * PAGE; a += 8) {
        if (*(volatile uint64_t *)a != pattern(a, 0)) {
            if (bad++ < 4) {
                diag("  0x%lx: 0x%lx", a, *(volatile uint64_t *)a);
            }
        }
    }
    is_eq(bad, 0, "contents of the test pages unchanged");
    return 0;
}
