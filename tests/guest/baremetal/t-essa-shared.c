/*
 * t-essa-shared: with a shared memory backend, pages the guest marks
 * unused are never released: another process may map the same memory, and
 * releasing would punch holes into it.  The states are kept all the same.
 *
 * qemu-args: -m 256M -object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "essa.h"

#define PAGE    4096UL
#define TP      (16UL << 20)    /* test pages, above the image */
#define NPAGES  600             /* more than a vCPU queue holds */
#define WAIT_US 1000000UL       /* five times the default discard delay */

static uint64_t tp(unsigned i)
{
    return TP + i * PAGE;
}

static void fill(unsigned i)
{
    uint64_t *p = (uint64_t *)tp(i);
    unsigned w;

    for (w = 0; w < PAGE / 8; w++) {
        p[w] = tp(i) ^ w;
    }
}

static bool intact(unsigned i)
{
    uint64_t *p = (uint64_t *)tp(i);
    unsigned w;

    for (w = 0; w < PAGE / 8; w++) {
        if (p[w] != (tp(i) ^ w)) {
            return false;
        }
    }
    return true;
}

int main(void)
{
    unsigned i, kept = 0, unused = 0;
    uint64_t end;

    for (i = 0; i < NPAGES; i++) {
        fill(i);
        essa(2, tp(i));
    }
    end = rt_now_us() + WAIT_US;
    while (rt_now_us() < end) {
    }
    for (i = 0; i < NPAGES; i++) {
        uint64_t r1 = essa(0, tp(i));

        unused += r1 == 0x04;       /* unused, resident: not released */
        kept += intact(i);
    }
    is_eq(unused, NPAGES, "all %u pages still unused and resident after %lu ms",
          NPAGES, WAIT_US / 1000);
    is_eq(kept, NPAGES, "their content was not released");
    for (i = 0; i < NPAGES; i++) {
        essa(1, tp(i));
    }
    is_eq(essa(0, tp(0)), 0, "set stable again");
    ok(intact(0) && intact(NPAGES - 1), "content still there when stable");
    return 0;
}
