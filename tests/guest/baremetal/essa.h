/*
 * ESSA for the bare-metal tests: one out-of-line call per request code.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef ESSA_H
#define ESSA_H

#include "rt.h"

/* R1 is preset to this, so an ESSA that writes nothing shows. */
#define SENTINEL 0x0123456789abcdefUL

/* One ESSA with a literal ORC; n = address of the following instruction. */
#define ESSA_CASE(orc)                                                  \
    case orc:                                                           \
        asm volatile("  larl  %[n],1f\n"                                \
                     "  .insn rrf,0xb9ab0000,%[r1],%[r2]," #orc ",0\n"  \
                     "1:\n"                                             \
                     : [r1] "+d"(r1), [n] "=&d"(n)                      \
                     : [r2] "d"(addr) : "memory");                      \
        break;

/*
 * ESSA R1,R2,@orc (0-15) with R2 = @addr and R1 preset to SENTINEL;
 * returns R1 and, if @next is given, the address after the instruction
 * (where the old PSW of a suppressing exception points).
 */
static uint64_t __attribute__((noinline, unused))
essa_n(unsigned orc, uint64_t addr, uint64_t *next)
{
    uint64_t r1 = SENTINEL, n = 0;

    switch (orc) {
    ESSA_CASE(0) ESSA_CASE(1) ESSA_CASE(2) ESSA_CASE(3)
    ESSA_CASE(4) ESSA_CASE(5) ESSA_CASE(6) ESSA_CASE(7)
    ESSA_CASE(8) ESSA_CASE(9) ESSA_CASE(10) ESSA_CASE(11)
    ESSA_CASE(12) ESSA_CASE(13) ESSA_CASE(14) ESSA_CASE(15)
    default:
        rt_bail("bad ORC %u", orc);
    }
    if (next) {
        *next = n;
    }
    return r1;
}

static inline uint64_t __attribute__((unused))
essa(unsigned orc, uint64_t addr)
{
    return essa_n(orc, addr, NULL);
}

/* Check a suppressed ESSA: program interruption, ILC 2, PSW after it,
 * R1 untouched. */
static void __attribute__((unused))
check_exc(uint16_t pic, uint64_t r1, uint64_t next, const char *what)
{
    const struct pgm_info *pi = pgm_last();

    if (check_pgm(pic, "%s: PIC 0x%04x", what, pic)) {
        ok(pi->ilc == 2 && pi->psw_addr == next,
           "%s: ILC 2, old PSW after the instruction", what);
    }
    is_eq(r1, SENTINEL, "%s: R1 unchanged", what);
}

#endif
