/*
 * Fuzz the DIAG 0x10 range check and prefix split (hw/s390x/diag10-range.h)
 * against a page-by-page model of KVM's rules.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/s390x/diag10-range.h"
#include "fuzz.h"

#define P DIAG10_PAGE

/* Where real page @r is in absolute storage for @prefix. */
static uint64_t real2abs(uint64_t r, uint64_t prefix)
{
    if (r < 2 * P) {
        return r + prefix;
    }
    if (r >= prefix && r < prefix + 2 * P) {
        return r - prefix;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    uint64_t first = fuzz_u64(&in), last = fuzz_u64(&in);
    uint64_t prefix = fuzz_u64(&in) & 0x7fffe000;
    Diag10Range r[3];
    uint64_t total = 0, end;
    bool bad;
    int n, i, j;

    /* small values too, where the prefix split happens */
    if (fuzz_u8(&in) & 1) {
        first &= 0xfffff;
        last &= 0xfffff;
        prefix &= 0xfe000;
    }
    end = last + P;
    n = diag10_ranges(first, last, prefix, r);
    bad = (first | end) & (P - 1) || first >= end || first < 2 * P;
    FUZZ_CHECK((n < 0) == bad, "first 0x%lx last 0x%lx: n %d",
               (unsigned long)first, (unsigned long)last, n);
    if (n < 0) {
        return 0;
    }
    FUZZ_CHECK(n <= 3, "%d ranges", n);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(r[i].length && !(r[i].start & (P - 1)) &&
                   !(r[i].length & (P - 1)), "range %d unaligned", i);
        /* never the lowcore: absolute prefix .. prefix + 8 KiB */
        FUZZ_CHECK(r[i].start + r[i].length <= prefix ||
                   r[i].start >= prefix + 2 * P,
                   "range %d hits the lowcore at 0x%lx", i,
                   (unsigned long)prefix);
        for (j = 0; j < i; j++) {
            FUZZ_CHECK(r[i].start >= r[j].start + r[j].length ||
                       r[j].start >= r[i].start + r[i].length,
                       "ranges %d and %d overlap", i, j);
        }
        total += r[i].length;
    }
    FUZZ_CHECK(total == end - first, "released 0x%lx of 0x%lx",
               (unsigned long)total, (unsigned long)(end - first));
    /* a few pages of the range: each where the model says */
    for (i = 0; i < 4; i++) {
        uint64_t pg = first + (fuzz_u64(&in) % ((end - first) / P)) * P;
        uint64_t abs = real2abs(pg, prefix);
        bool found = false;

        for (j = 0; j < n; j++) {
            found |= abs >= r[j].start && abs < r[j].start + r[j].length;
        }
        FUZZ_CHECK(found, "real 0x%lx (absolute 0x%lx) not released",
                   (unsigned long)pg, (unsigned long)abs);
    }
    return 0;
}
