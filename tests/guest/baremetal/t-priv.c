/*
 * t-priv: privileged instructions raise a privileged-operation exception
 * (PIC 0x0002) in problem state and run normally in supervisor state;
 * an unprivileged instruction runs in both.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

static uint8_t page[4096] __attribute__((aligned(4096)));

/* Each helper runs one instruction and returns the address right after
 * it (where the old PSW points after a suppressed instruction). */

static uint64_t do_ptlb(void)
{
    uint64_t next;

    asm volatile("  larl %0,1f\n"
                 "  ptlb\n"
                 "1:\n" : "=&d"(next) : : "memory");
    return next;
}

static uint64_t do_sske(uint64_t key, void *addr)
{
    uint64_t next;

    asm volatile("  larl %0,1f\n"
                 "  sske %1,%2\n"
                 "1:\n" : "=&d"(next) : "d"(key), "a"(addr) : "memory");
    return next;
}

static uint64_t do_iske(uint64_t *key, void *addr)
{
    uint64_t next;

    asm volatile("  larl %0,1f\n"
                 "  iske %1,%2\n"
                 "1:\n" : "=&d"(next), "+d"(*key) : "a"(addr) : "memory");
    return next;
}

static uint64_t do_stctg(uint64_t *cr0)
{
    uint64_t next;

    asm volatile("  larl  %0,1f\n"
                 "  stctg %%c0,%%c0,%1\n"
                 "1:\n" : "=&d"(next), "=QS"(*cr0) : : "memory");
    return next;
}

static uint64_t do_lpswe(void)
{
    static uint64_t psw[2] __attribute__((aligned(16)));
    uint64_t next;

    /* if LPSWE were (wrongly) executed, it continues at the next
     * instruction in the current state anyway */
    psw[0] = rt_epsw();
    asm volatile("  larl  %0,1f\n"
                 "  stg   %0,8(%1)\n"
                 "  lpswe 0(%1)\n"
                 "1:\n" : "=&d"(next) : "a"(psw) : "memory");
    return next;
}

static uint64_t do_stck(uint64_t *clk)
{
    uint64_t next;

    asm volatile("  larl %0,1f\n"
                 "  stck %1\n"
                 "1:\n" : "=&d"(next), "=Q"(*clk) : : "memory", "cc");
    return next;
}

static uint64_t get_key(void *addr)
{
    uint64_t key = 0;

    do_iske(&key, addr);
    return key & 0xf8;      /* access key and fetch-protection bit */
}

/* Check that a privileged instruction was suppressed in problem state. */
static void check_priv(const char *name, unsigned ilc, uint64_t next)
{
    const struct pgm_info *pi = pgm_last();

    if (check_pgm(PGM_PRIVILEGED, "%s in problem state: privileged-operation",
                  name)) {
        is_eq(pi->ilc, ilc, "%s: ILC %u", name, ilc);
        ok(pi->psw_mask & PSW_MASK_PSTATE, "%s: old PSW has problem state",
           name);
        is_eq(pi->psw_addr, next, "%s: old PSW points after the instruction",
              name);
    }
}

int main(void)
{
    uint64_t key, cr0 = 0, clk = 0, next;

    ok(!in_pstate(), "starts in supervisor state");

    /* supervisor state: no exception */
    pgm_expect();
    do_ptlb();
    check_pgm(0, "PTLB in supervisor state: no exception");

    pgm_expect();
    do_sske(0x30, page);
    check_pgm(0, "SSKE in supervisor state: no exception");
    is_eq(get_key(page), 0x30, "SSKE set the storage key to 3");

    pgm_expect();
    do_stctg(&cr0);
    check_pgm(0, "STCTG in supervisor state: no exception");

    /* problem state */
    enter_pstate();
    ok(in_pstate(), "enter_pstate() sets the problem-state bit");

    pgm_expect();
    next = do_ptlb();
    check_priv("PTLB", 2, next);

    pgm_expect();
    next = do_sske(0x50, page);
    check_priv("SSKE", 2, next);

    key = 0x1234;
    pgm_expect();
    next = do_iske(&key, page);
    check_priv("ISKE", 2, next);
    is_eq(key, 0x1234, "ISKE in problem state left R1 unchanged");

    pgm_expect();
    next = do_lpswe();
    check_priv("LPSWE", 2, next);
    ok(in_pstate(), "still in problem state after LPSWE");

    cr0 = 0x5555;
    pgm_expect();
    next = do_stctg(&cr0);
    check_priv("STCTG", 3, next);
    is_eq(cr0, 0x5555, "STCTG in problem state stored nothing");

    pgm_expect();
    do_stck(&clk);
    check_pgm(0, "STCK (unprivileged) in problem state: no exception");
    ok(clk != 0, "STCK stored a clock value");

    leave_pstate();
    ok(!in_pstate(), "leave_pstate() returns to supervisor state");
    is_eq(get_key(page), 0x30, "storage key unchanged by the problem-state SSKE");

    do_sske(0, page);
    return 0;
}
