/*
 * t-diag10-upstream: on s390-ccw-virtio-10.0, DIAG 0x10 is upstream's: a
 * specification exception, and nothing is released.  The versioned machine
 * type keeps upstream's guest ABI; qemu-cmm's additions live in
 * s390-ccw-virtio-cmm-10.0 (docs/system/s390x/cmma.rst).
 *
 * qemu-args: -m 256M -M s390-ccw-virtio-10.0
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

#define PAGE            4096UL
#define AREA            (64UL << 20)

int main(void)
{
    volatile uint64_t *p = (volatile uint64_t *)AREA;
    register uint64_t r2 asm("2") = AREA;
    register uint64_t r4 asm("4") = AREA + PAGE;

    p[0] = 0x5a5a5a5a5a5a5a5aUL;
    p[512] = 0xa5a5a5a5a5a5a5a5UL;
    pgm_expect();
    asm volatile("diag %0,%1,0x10" : : "d"(r2), "d"(r4) : "memory");
    check_pgm(PGM_SPECIFICATION, "DIAG 0x10 on the 10.0 machine: "
              "specification exception, as upstream");
    ok(p[0] == 0x5a5a5a5a5a5a5a5aUL && p[512] == 0xa5a5a5a5a5a5a5a5UL,
       "nothing is released");
    return 0;
}
