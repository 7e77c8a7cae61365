/*
 * t-essa-off: without the "cmm" CPU feature, ESSA (EXTRACT AND SET
 * STORAGE ATTRIBUTES, B9AB) is an operation exception (PIC 0x0001) for
 * every operand: the operation exception comes before the privileged-
 * operation, specification and addressing checks.  This is upstream
 * QEMU's TCG behaviour today; with cmm switched off it must stay so.
 *
 * qemu-args: -cpu qemu,cmm=off,cmmnt=off
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

static uint8_t page[4096] __attribute__((aligned(4096)));

#define SENTINEL 0x0123456789abcdefUL

/* ESSA r1,r2,orc; returns R1 afterwards (R1 preset to SENTINEL) and the
 * address after the instruction in *next. */
#define ESSA(orc, addr, next) ({                                        \
    uint64_t _r1 = SENTINEL;                                            \
    asm volatile("  larl  %[n],1f\n"                                    \
                 "  .insn rrf,0xb9ab0000,%[r1],%[r2]," #orc ",0\n"      \
                 "1:\n"                                                 \
                 : [r1] "+d"(_r1), [n] "=&d"(next)                      \
                 : [r2] "d"(addr) : "memory");                          \
    _r1;                                                                \
})

static void check_op(const char *what, uint64_t r1, uint64_t next)
{
    const struct pgm_info *pi = pgm_last();

    if (check_pgm(PGM_OPERATION, "ESSA %s: operation exception", what)) {
        is_eq(pi->ilc, 2, "ESSA %s: ILC 2", what);
        is_eq(pi->psw_addr, next, "ESSA %s: old PSW after the instruction",
              what);
    }
    is_eq(r1, SENTINEL, "ESSA %s: R1 unchanged", what);
}

int main(void)
{
    uint64_t r1, next;

    pgm_expect();
    r1 = ESSA(0, (uint64_t)page, next);
    check_op("ORC 0 (extract state)", r1, next);

    pgm_expect();
    r1 = ESSA(1, (uint64_t)page, next);
    check_op("ORC 1 (set stable)", r1, next);

    pgm_expect();
    r1 = ESSA(2, (uint64_t)page, next);
    check_op("ORC 2 (set unused)", r1, next);

    pgm_expect();
    r1 = ESSA(7, (uint64_t)page, next);
    check_op("ORC 7 (stable, no-DAT)", r1, next);

    pgm_expect();
    r1 = ESSA(9, (uint64_t)page, next);
    check_op("ORC 9 (invalid)", r1, next);

    pgm_expect();
    r1 = ESSA(0, 1UL << 40, next);
    check_op("ORC 0, block beyond memory", r1, next);

    enter_pstate();
    pgm_expect();
    r1 = ESSA(0, (uint64_t)page, next);
    check_op("ORC 0 in problem state", r1, next);
    pgm_expect();
    r1 = ESSA(9, (uint64_t)page, next);
    check_op("ORC 9 in problem state", r1, next);
    leave_pstate();

    return 0;
}
