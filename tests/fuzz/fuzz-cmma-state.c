/*
 * Fuzz the CMMA page-state machine (hw/s390x/cmma-state.h) with the
 * table's discard protocol around it, as hw/s390x/s390-cmma.c runs it:
 * ESSA requests, the release of pending pages (marked in flight, then
 * finished), free-page reports and resets, on a few pages.  Checked after
 * every step: only known bits; released means not stable; reported means
 * released; an ESSA that takes a page being released out of the unused
 * state waits for the release; a release never drops a page that is
 * stable when it ends.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/s390x/cmma-state.h"
#include "fuzz.h"

#define PAGES   8
#define KNOWN   (CMMA_USAGE_MASK | CMMA_INFLIGHT | CMMA_REPORTED | \
                 CMMA_NODAT | CMMA_DISCARDED)

static void check(const uint8_t *st)
{
    for (int i = 0; i < PAGES; i++) {
        uint8_t s = st[i];

        FUZZ_CHECK(!(s & ~KNOWN), "page %d: state 0x%x", i, s);
        FUZZ_CHECK(!(s & CMMA_DISCARDED) ||
                   (s & CMMA_USAGE_MASK) != CMMA_USAGE_STABLE,
                   "page %d: released yet stable (0x%x)", i, s);
        FUZZ_CHECK(!(s & CMMA_REPORTED) || (s & CMMA_DISCARDED),
                   "page %d: reported, not released (0x%x)", i, s);
        FUZZ_CHECK(!(cmma_essa_r1(s) & ~0x3fULL), "page %d: R1 0x%lx", i,
                   (unsigned long)cmma_essa_r1(s));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    uint8_t st[PAGES] = { 0 };
    bool inflight_batch[PAGES] = { false };

    while (in.left) {
        uint8_t op = fuzz_u8(&in), pg = fuzz_u8(&in) % PAGES;
        uint8_t old = st[pg], new;

        switch (op % 5) {
        case 0:
        case 1: {                   /* ESSA */
            unsigned orc = fuzz_u8(&in) % ESSA_ORC_COUNT;

            new = cmma_essa_next(old, orc);
            if (orc == ESSA_GET_STATE) {
                FUZZ_CHECK(new == old, "extract changed 0x%x", old);
            }
            if ((old & CMMA_INFLIGHT) &&
                (new & CMMA_USAGE_MASK) != CMMA_USAGE_UNUSED) {
                FUZZ_CHECK(cmma_must_wait(old, new), "0x%x -> 0x%x: no wait",
                           old, new);
                /* it waits: the release finishes first (finish below) */
                st[pg] = new;
                goto finish;
            }
            st[pg] = new;
            break;
        }
        case 2:                     /* a discard marks a pending page */
            if (cmma_is_pending(old) && !(old & CMMA_INFLIGHT)) {
                st[pg] = old | CMMA_INFLIGHT;
                inflight_batch[pg] = true;
            }
            break;
        case 3:                     /* free-page reporting released it */
            if (cmma_is_pending(old) && !(old & CMMA_INFLIGHT)) {
                st[pg] = old | CMMA_DISCARDED | CMMA_REPORTED;
            }
            break;
        case 4:
        finish:                     /* the release of a marked page ends */
            if (inflight_batch[pg]) {
                bool done = fuzz_u8(&in) & 1;

                new = st[pg] & ~CMMA_INFLIGHT;
                if (done && (st[pg] & CMMA_USAGE_MASK) != CMMA_USAGE_STABLE) {
                    new |= CMMA_DISCARDED;
                }
                FUZZ_CHECK(!((st[pg] & CMMA_USAGE_MASK) == CMMA_USAGE_STABLE &&
                             (new & CMMA_DISCARDED)),
                           "page %d released while stable", pg);
                st[pg] = new;
                inflight_batch[pg] = false;
            }
            break;
        }
        check(st);
    }
    return 0;
}
