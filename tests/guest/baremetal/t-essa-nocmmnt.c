/*
 * t-essa-nocmmnt: ESSA with "cmm" on but "cmmnt" (facility 147, ESSA
 * no-translate enhancement) off.  ORC 7 is then a specification
 * exception like ORC 8-15 (item 4 of docs/devel/cmma-essa.rst), it is
 * suppressed (R1 and page state unchanged), the privileged-operation
 * check still comes first, the specification check still comes before
 * the address check, STFLE does not show facility 147, and ORC 0-6 work
 * as usual.
 *
 * qemu-args: -m 256M -cpu qemu,cmmnt=off -global s390-storage_attributes-tcg.discard-delay-ms=10000
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define RAM_SIZE        (256UL << 20)
#define PAGE            4096UL
#define TP              (16UL << 20)    /* test pages, above the image */

extern char __bss_end[];


int main(void)
{
    static uint64_t fac[4] __attribute__((aligned(8)));
    register uint64_t r0 asm("0") = 3;
    uint64_t r1, next;
    unsigned orc;

    if ((uint64_t)__bss_end > TP) {
        rt_bail("image too large");
    }

    asm volatile(".insn s,0xb2b00000,0(%[b])"
                 : "+d"(r0) : [b] "a"(fac) : "cc", "memory");
    ok((r0 & 0xff) < 2 || !((fac[2] >> (63 - (147 - 128))) & 1),
       "STFLE: facility 147 not installed");

    /* ESSA itself is there: extract works */
    pgm_expect();
    r1 = essa(0, TP);
    check_pgm(0, "ORC 0: no exception (cmm on)");
    is_eq(r1, 0, "ORC 0 on a fresh page: R1 0");

    /* ORC 7 on a stable page and on an unused page */
    pgm_expect();
    r1 = essa_n(7, TP, &next);
    check_exc(PGM_SPECIFICATION, r1, next, "ORC 7 on a stable page");
    is_eq(essa(0, TP), 0, "stable page: state unchanged, no-DAT not set");

    is_eq(essa(2, TP + PAGE), 0, "ORC 2 on the second page: R1 0");
    pgm_expect();
    r1 = essa_n(7, TP + PAGE, &next);
    check_exc(PGM_SPECIFICATION, r1, next, "ORC 7 on an unused page");
    is_eq(essa(0, TP + PAGE), 0x04,
          "unused page: still unused, no-DAT not set");

    /* ORC 8 and 15 as before */
    for (orc = 8; orc <= 15; orc += 7) {
        char what[32];

        rt_snprintf(what, sizeof(what), "ORC %u", orc);
        pgm_expect();
        r1 = essa_n(orc, TP, &next);
        check_exc(PGM_SPECIFICATION, r1, next, what);
    }

    /* specification (ORC 7) before addressing */
    pgm_expect();
    r1 = essa_n(7, RAM_SIZE, &next);
    check_exc(PGM_SPECIFICATION, r1, next, "ORC 7, R2 beyond memory");

    /* privileged operation before specification */
    enter_pstate();
    pgm_expect();
    r1 = essa_n(7, TP, &next);
    {
        uint16_t pic = pgm_check();
        const struct pgm_info *pi = pgm_last();
        bool good = pic == PGM_PRIVILEGED && pi->psw_addr == next &&
                    r1 == SENTINEL;

        leave_pstate();
        if (!ok(good, "ORC 7 in problem state: privileged-operation")) {
            diag("  PIC 0x%x, R1 0x%lx", pic, r1);
        }
    }

    /* ORC 1-6 still work and keep no-DAT off */
    {
        static const struct { unsigned orc; uint64_t old; } seq[] = {
            { 1, 0x04 }, { 3, 0x00 }, { 4, 0x0c }, { 2, 0x08 },
            { 6, 0x04 }, { 5, 0x00 }, { 0, 0x00 },
        };
        unsigned k, bad = 0;

        for (k = 0; k < sizeof(seq) / sizeof(seq[0]); k++) {
            r1 = essa(seq[k].orc, TP + PAGE);
            if (r1 != seq[k].old) {
                diag("  step %u ORC %u: R1 0x%lx, expected 0x%lx", k,
                     seq[k].orc, r1, seq[k].old);
                bad++;
            }
        }
        is_eq(bad, 0, "ORC 1, 3, 4, 2, 6, 5, 0 return the old states");
    }
    return 0;
}
