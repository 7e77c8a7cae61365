/*
 * t-stfle: STORE FACILITY LIST EXTENDED.  Checks the doubleword count in
 * GR0 and the condition code, that no more than the requested doublewords
 * are stored, the specification exception for an unaligned operand, and
 * facility bits that QEMU's TCG "qemu" CPU model always has.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

#define MAX_DW 32
#define FILL 0x5a5a5a5a5a5a5a5aUL

static uint64_t fac[MAX_DW + 1] __attribute__((aligned(8)));

/* STFLE with GR0 = gr0; returns cc, *gr0_out = GR0 afterwards. */
static int stfle(void *buf, uint64_t gr0, uint64_t *gr0_out)
{
    register uint64_t r0 asm("0") = gr0;
    int cc = -1;

    asm volatile("  .insn s,0xb2b00000,0(%[b])\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "+d"(cc), "+d"(r0) : [b] "a"(buf) : "cc", "memory");
    *gr0_out = r0;
    return cc;
}

static bool bit(const uint64_t *list, unsigned nr)
{
    return (list[nr / 64] >> (63 - nr % 64)) & 1;
}

static void fill(void)
{
    unsigned i;

    for (i = 0; i <= MAX_DW; i++) {
        fac[i] = FILL;
    }
}

int main(void)
{
    static const struct { unsigned nr; const char *name; } must[] = {
        { 0, "N3 instructions" },
        { 1, "z/Architecture installed" },
        { 2, "z/Architecture active" },
        { 7, "STFLE" },
        { 18, "long displacement" },
        { 21, "extended immediate" },
        { 34, "general-instructions extension" },
        { 129, "vector" },
    };
    uint64_t full[MAX_DW], gr0;
    uint32_t stfl;
    unsigned n, i;
    int cc;

    /* room for everything */
    fill();
    pgm_expect();
    cc = stfle(fac, MAX_DW - 1, &gr0);
    check_pgm(0, "STFLE with %u doublewords: no exception", MAX_DW);
    is_eq(cc, 0, "STFLE with enough room: cc 0");
    n = (gr0 & 0xff) + 1;
    ok(n >= 1 && n <= MAX_DW, "GR0 gives %u doubleword(s) of facilities", n);
    for (i = 0; i < n; i++) {
        diag("facility doubleword %u: %016lx", i, fac[i]);
    }
    for (i = 0; i < n; i++) {
        full[i] = fac[i];
    }
    ok(fac[n] == FILL, "nothing stored after the last facility doubleword");

    for (i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
        ok(must[i].nr < 64 * n && bit(full, must[i].nr),
           "facility %u (%s) is installed", must[i].nr, must[i].name);
    }
    ok(full[n - 1] != 0, "the last doubleword holds the highest facility bit");

    /* one doubleword requested; high bits of GR0 must survive */
    fill();
    pgm_expect();
    cc = stfle(fac, 0xabcd000000000000UL, &gr0);
    check_pgm(0, "STFLE with 1 doubleword: no exception");
    is_eq(cc, n > 1 ? 3 : 0, "STFLE with 1 doubleword: cc %d", n > 1 ? 3 : 0);
    is_eq(gr0 & 0xff, n - 1, "GR0 bits 56-63 give the full count - 1");
    is_eq(gr0 >> 8, 0xabcd000000000000UL >> 8, "GR0 bits 0-55 unchanged");
    is_eq(fac[0], full[0], "first doubleword stored");
    is_eq(fac[1], FILL, "second doubleword not stored");

    /* not on a doubleword boundary */
    fill();
    pgm_expect();
    stfle((uint8_t *)fac + 4, MAX_DW - 2, &gr0);
    check_pgm(PGM_SPECIFICATION, "STFLE unaligned: specification exception");
    is_eq(fac[0], FILL, "unaligned STFLE stored nothing");

    /* STFLE is not privileged */
    fill();
    enter_pstate();
    pgm_expect();
    cc = stfle(fac, MAX_DW - 1, &gr0);
    check_pgm(0, "STFLE in problem state: no exception");
    leave_pstate();
    is_eq(cc, 0, "STFLE in problem state: cc 0");
    ok(!memcmp(fac, full, n * 8), "same facility list in problem state");

    /* STFL (privileged) stores the first word at real address 200 */
    pgm_expect();
    asm volatile(".insn s,0xb2b10000,0" ::: "memory");
    check_pgm(0, "STFL in supervisor state: no exception");
    {
        uint8_t *lc;

        asm("lghi %0,200" : "=a"(lc));
        memcpy(&stfl, lc, 4);
    }
    is_eq(stfl, full[0] >> 32, "STFL stores the first facility word");
    return 0;
}
