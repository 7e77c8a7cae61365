/*
 * t-diag10-shared: DIAG 0x10 releases under the gate of unused pages
 * (item 30 of docs/devel/cmma-essa.rst): with a shared memory backend
 * another process may map the same memory, so nothing is released and the
 * pages keep their content; DIAG 0x10 still succeeds, as on KVM.
 *
 * qemu-args: -m 256M -object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"

#define PAGE    4096UL
#define AREA    (64UL << 20)
#define NPAGES  16

static inline void diag10(uint64_t first, uint64_t last)
{
    register uint64_t r2 asm("2") = first;
    register uint64_t r4 asm("4") = last;

    asm volatile("diag %0,%1,0x10" : : "d"(r2), "d"(r4) : "memory");
}

int main(void)
{
    volatile uint64_t *p = (volatile uint64_t *)AREA;
    bool kept = true;
    unsigned i;

    for (i = 0; i < NPAGES * PAGE / 8; i++) {
        p[i] = AREA + i * 8;
    }
    pgm_expect();
    diag10(AREA, AREA + (NPAGES - 1) * PAGE);
    check_pgm(0, "DIAG 0x10 on shared memory: no exception");
    for (i = 0; i < NPAGES * PAGE / 8; i++) {
        kept &= p[i] == AREA + i * 8;
    }
    ok(kept, "shared memory is not released: the pages keep their content");
    return 0;
}
