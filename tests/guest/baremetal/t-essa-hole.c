/*
 * t-essa-hole: R2 in a hole below the memory limit is an addressing
 * exception too (item 6 of docs/devel/cmma-essa.rst).  With maxmem, the
 * machine's memory limit (and the page-state table) covers the area for
 * memory devices, which starts at the next 1 GiB boundary above initial
 * RAM: [256M, 1G) is a hole and [1G, 1G + 768M) is device memory with no
 * device plugged.  Nothing there is guest memory, so ESSA must suppress
 * with PIC 0x0005 and change nothing, while the last page of RAM works.
 *
 * qemu-args: -m 256M,maxmem=1G
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define RAM_SIZE        (256UL << 20)
#define PAGE            4096UL
#define TP              (16UL << 20)

extern char __bss_end[];

int main(void)
{
    static const uint64_t bad[] = {
        RAM_SIZE, RAM_SIZE + 0x123, 512UL << 20, (1UL << 30) - PAGE,
        1UL << 30, (1UL << 30) + TP, (3UL << 29) , (1UL << 30) +
        (768UL << 20) - PAGE, (1UL << 30) + (768UL << 20),
    };
    static const unsigned orcs[] = { 0, 2, 7 };
    unsigned k, o;

    if ((uint64_t)__bss_end > TP) {
        rt_bail("image too large");
    }
    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        unsigned good = 0;

        for (o = 0; o < 3; o++) {
            const struct pgm_info *pi = pgm_last();
            uint64_t r1, next;
            uint16_t pic;

            pgm_expect();
            r1 = essa_n(orcs[o], bad[k], &next);
            pic = pgm_check();
            if (pic == PGM_ADDRESSING && pi->psw_addr == next &&
                r1 == SENTINEL) {
                good++;
            } else {
                diag("  ORC %u: PIC 0x%x, R1 0x%lx", orcs[o], pic, r1);
            }
        }
        ok(good == 3, "R2 0x%lx (%s): addressing exception for ORC 0, 2, 7, "
           "R1 unchanged", bad[k], bad[k] < (1UL << 30) ? "hole" :
           bad[k] < (1UL << 30) + (768UL << 20) ? "empty device area" :
           "beyond the limit");
    }
    is_eq(essa_n(0, TP, NULL), 0,
          "page at the low bits of those addresses unchanged");
    pgm_expect();
    {
        uint64_t r1 = essa_n(7, RAM_SIZE - PAGE, NULL);

        check_pgm(0, "last page of RAM: no exception");
        is_eq(r1, 0, "last page of RAM: R1 0");
        is_eq(essa_n(1, RAM_SIZE - PAGE, NULL), 0x20,
              "last page of RAM: ORC 7 took effect");
    }
    return 0;
}
