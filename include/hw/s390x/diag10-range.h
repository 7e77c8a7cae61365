/*
 * s390x DIAG 0x10: which absolute ranges a request releases
 *
 * Pure, so that a fuzzer can check it alone (tests/fuzz/fuzz-diag10.c).
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_S390X_DIAG10_RANGE_H
#define HW_S390X_DIAG10_RANGE_H

#define DIAG10_PAGE     4096ULL

typedef struct Diag10Range {
    uint64_t start, length;     /* absolute */
} Diag10Range;

/*
 * diag10_ranges: the absolute ranges DIAG 0x10 releases for R1 = @first,
 * R3 = @last (real addresses of the first and last page) on a CPU whose
 * prefix is @prefix (8 KiB-aligned).
 * KVM's checks: a specification exception when either address is not
 * page-aligned, the first is above the last or below 8 KiB, or the end
 * (last + 4 KiB) wraps.  Real prefix pages are absolute 0-8 KiB; real
 * 0-8 KiB (the lowcore, absolute @prefix) is never in range.
 * Returns: the number of ranges in @out (0 to 3), or -1 for a
 * specification exception.
 */
static inline int diag10_ranges(uint64_t first, uint64_t last,
                                uint64_t prefix, Diag10Range out[3])
{
    uint64_t end = last + DIAG10_PAGE, lo, hi;
    int n = 0;

    if ((first | end) & (DIAG10_PAGE - 1) || first >= end ||
        first < 2 * DIAG10_PAGE) {
        return -1;
    }
    /* below the prefix area */
    if (first < prefix) {
        out[n++] = (Diag10Range) { first, (end < prefix ? end : prefix) -
                                          first };
    }
    /* the real prefix area: absolute 0-8 KiB */
    lo = first > prefix ? first : prefix;
    hi = end < prefix + 2 * DIAG10_PAGE ? end : prefix + 2 * DIAG10_PAGE;
    if (lo < hi) {
        out[n++] = (Diag10Range) { lo - prefix, hi - lo };
    }
    /* above it */
    lo = first > prefix + 2 * DIAG10_PAGE ? first : prefix + 2 * DIAG10_PAGE;
    if (lo < end) {
        out[n++] = (Diag10Range) { lo, end - lo };
    }
    return n;
}

#endif
