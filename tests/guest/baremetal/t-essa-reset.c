/*
 * t-essa-reset: every reset sets all pages stable and clears no-DAT (item
 * 19 of docs/devel/cmma-essa.rst; docs: "Every machine reset sets all
 * pages stable and clears no-DAT").
 *
 * The program runs four times.  Each run but the last sets test pages to
 * unused, volatile, potentially volatile, no-DAT and combinations, lets
 * the unused ones be released (one made volatile after that), and
 * re-IPLs with DIAGNOSE 308:
 *   run 0 -> subcode 1 (load normal: CPU reset, memory kept, restarts at
 *            the IPL PSW at absolute 0, which we point at _start),
 *   run 1 -> subcode 3 (load clear: re-IPL, QEMU reloads the image but does
 *            not clear memory),
 *   run 2 -> subcode 0 (modified clear, again through the IPL PSW).
 * A record at a fixed address outside the image (kept by all three, since
 * QEMU does not clear memory) carries the run number and what each run saw;
 * the last run checks it all.  -action reboot=reset undoes run.py's
 * -no-reboot, which would turn subcode 3 into a shutdown.
 *
 * qemu-args: -m 256M -action reboot=reset
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define RAM_SIZE        (256UL << 20)
#define PAGE            4096UL
#define RECORD          (8UL << 20)     /* survives the re-IPLs */
#define AREA            (16UL << 20)    /* test pages */
#define MAGIC           0x4553534152535431UL
#define RUNS            4
#define NP              8
#define TIMEOUT_US      5000000UL

extern char __bss_end[];
void _start(void);

/*
 * Page i is set with orcs[i] (applied left to right, 0 ends); the unused
 * ones are then released, and page 7 made volatile after its release.
 */
static const unsigned char orcs[NP][3] = {
    { 2 }, { 3 }, { 4 }, { 7 }, { 7, 2 }, { 7, 3 }, { 7, 4 }, { 2 },
};
static const uint64_t want_set[NP] = {
    0x07, 0x0c, 0x08, 0x20, 0x27, 0x2c, 0x28, 0x0f,
};
static const unsigned subcode[RUNS - 1] = { 1, 3, 0 };

struct record {
    uint64_t magic;
    uint64_t run;
    uint64_t set[RUNS][NP];     /* states a run set before its reset */
    uint64_t seen[RUNS][NP];    /* states a run found at its start */
    uint64_t others[RUNS];      /* pages not stable at its start */
    uint64_t first_other[RUNS][2];
    uint64_t data_flag[RUNS];   /* initialized data at its start */
    uint64_t essa_ok[RUNS];     /* ORC 7 and 1 work after the reset */
};

/* in .data: back to 1 when QEMU reloads the image */
static volatile uint64_t data_flag = 1;

static uint64_t tp(unsigned i)
{
    return AREA + 2 * i * PAGE;
}

static void diag308(unsigned code)
{
    register uint64_t r2 asm("2") = 0;
    register uint64_t r3 asm("3") = code;

    asm volatile("diag %0,%1,0x308" : : "d"(r2), "d"(r3) : "memory");
}

/* What this run finds, right at its start. */
static void look(struct record *rec, unsigned run)
{
    uint64_t a;
    unsigned i;

    for (i = 0; i < NP; i++) {
        rec->seen[run][i] = essa(0, tp(i));
    }
    rec->others[run] = 0;
    for (a = 0; a < RAM_SIZE; a += PAGE) {
        uint64_t r1 = essa(0, a);

        if (r1 != 0 && rec->others[run]++ == 0) {
            rec->first_other[run][0] = a;
            rec->first_other[run][1] = r1;
        }
    }
    rec->data_flag[run] = data_flag;
    data_flag = 2;
    /* ESSA still works: ORC 7 on a stable page, then ORC 1 */
    rec->essa_ok[run] = essa(7, tp(NP)) == 0 && essa(1, tp(NP)) == 0x20;
}

/* Set the test pages, wait for the release of the unused ones. */
static void set_states(struct record *rec, unsigned run)
{
    uint64_t start;
    unsigned i, k;

    for (i = 0; i < NP; i++) {
        *(volatile uint64_t *)tp(i) = 0x5a5a0000UL + i;
        for (k = 0; k < 3 && orcs[i][k]; k++) {
            essa(orcs[i][k], tp(i));
        }
    }
    start = rt_now_us();
    for (i = 0; i < NP; i++) {
        while ((essa(0, tp(i)) & 0x0f) == 0x04 &&
               rt_now_us() - start < TIMEOUT_US) {
        }
    }
    essa(3, tp(NP - 1));
    for (i = 0; i < NP; i++) {
        rec->set[run][i] = essa(0, tp(i));
    }
}

static void check(struct record *rec)
{
    unsigned run, i;

    for (run = 0; run < RUNS - 1; run++) {
        bool good = true;

        for (i = 0; i < NP; i++) {
            good &= rec->set[run][i] == want_set[i];
        }
        if (!ok(good, "run %u: test pages set to unused, volatile, pot. "
                "volatile, no-DAT and combinations, released ones", run)) {
            for (i = 0; i < NP; i++) {
                diag("  page %u: 0x%lx, expected 0x%lx", i,
                     rec->set[run][i], want_set[i]);
            }
        }
    }
    for (run = 1; run < RUNS; run++) {
        bool good = true;

        for (i = 0; i < NP; i++) {
            good &= rec->seen[run][i] == 0;
        }
        if (!ok(good && rec->others[run] == 0,
                "after DIAG 308 subcode %u: every page stable, no-DAT off, "
                "resident (R1 0)", subcode[run - 1])) {
            for (i = 0; i < NP; i++) {
                diag("  page %u: 0x%lx", i, rec->seen[run][i]);
            }
            if (rec->others[run]) {
                diag("  %lu pages not 0, first 0x%lx: 0x%lx",
                     rec->others[run], rec->first_other[run][0],
                     rec->first_other[run][1]);
            }
        }
        ok(rec->essa_ok[run], "after subcode %u: ORC 7 and ORC 1 work",
           subcode[run - 1]);
    }
    is_eq(rec->others[0], 0, "run 0 (power-on): every page stable");
    diag("initialized data at the start of runs 1-3: %lu %lu %lu "
         "(1: image reloaded, 2: memory kept)", rec->data_flag[1],
         rec->data_flag[2], rec->data_flag[3]);
}

int main(void)
{
    struct record *rec = (struct record *)RECORD;
    unsigned run;

    if ((uint64_t)__bss_end > RECORD) {
        rt_bail("image too large");
    }
    if (rec->magic != MAGIC) {
        memset(rec, 0, sizeof(*rec));
        rec->magic = MAGIC;
    }
    run = rec->run;
    if (run >= RUNS) {
        rec->magic = 0;
        rt_bail("run %u: the record went wrong", run);
    }
    diag("run %u", run);
    look(rec, run);
    if (run == RUNS - 1) {
        rec->magic = 0;         /* a later boot starts afresh */
        check(rec);
        return 0;
    }

    set_states(rec, run);
    rec->run = run + 1;
    /* IPL PSW for subcodes 0 and 1: short PSW, 64-bit, at _start */
    *(volatile uint64_t *)RECORD = MAGIC;
    {
        uint64_t *ipl_psw;

        asm("lghi %0,0" : "=a"(ipl_psw));
        *(volatile uint64_t *)ipl_psw = 0x0008000180000000UL |
                                        (uint64_t)_start;
    }
    rt_flush();
    pgm_expect();
    diag308(subcode[run]);
    check_pgm(0, "DIAG 308 subcode %u", subcode[run]);
    rec->magic = 0;
    rt_bail("DIAG 308 subcode %u returned", subcode[run]);
}
