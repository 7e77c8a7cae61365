/*
 * Fuzz page-batch coalescing (util/page-batch.c): every flush hands each
 * added page exactly once, in ascending maximal runs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/page-batch.h"
#include "fuzz.h"

#define SPAN    256             /* pages the addresses fall in */

typedef struct Seen {
    uint8_t want[SPAN];
    uint8_t got[SPAN];
    uint64_t last_end;
    bool any;
    uint64_t page;
} Seen;

static void range(uint64_t start, uint64_t length, void *opaque)
{
    Seen *s = opaque;

    FUZZ_CHECK(length && !(start % s->page) && !(length % s->page),
               "range 0x%lx+0x%lx", (unsigned long)start,
               (unsigned long)length);
    /* ascending and maximal: a gap before each run */
    FUZZ_CHECK(!s->any || start > s->last_end, "run at 0x%lx after 0x%lx",
               (unsigned long)start, (unsigned long)s->last_end);
    for (uint64_t a = start; a < start + length; a += s->page) {
        FUZZ_CHECK(a / s->page < SPAN && s->want[a / s->page] &&
                   !s->got[a / s->page], "page 0x%lx", (unsigned long)a);
        s->got[a / s->page] = 1;
    }
    s->last_end = start + length;
    s->any = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    unsigned cap = fuzz_u8(&in) % 64 + 1;
    uint64_t page = 1ULL << (12 + fuzz_u8(&in) % 10);
    PageBatch b;
    Seen s;

    page_batch_init(&b, cap, page);
    memset(&s, 0, sizeof(s));
    s.page = page;
    while (in.left) {
        uint8_t op = fuzz_u8(&in);
        uint64_t pg = fuzz_u8(&in) % SPAN;
        uint64_t distinct = 0, flushed;

        if (op < 224 && !page_batch_is_full(&b)) {
            /* any address inside the page stands for it */
            FUZZ_CHECK(page_batch_add(&b, pg * page + op % page % 4096),
                       "add refused with room");
            s.want[pg] = 1;
            continue;
        }
        if (op < 224) {
            FUZZ_CHECK(!page_batch_add(&b, pg * page), "add beyond capacity");
        }
        for (int i = 0; i < SPAN; i++) {
            distinct += s.want[i];
        }
        s.any = false;
        flushed = page_batch_flush(&b, range, &s);
        FUZZ_CHECK(flushed == distinct, "flushed %lu of %lu pages",
                   (unsigned long)flushed, (unsigned long)distinct);
        FUZZ_CHECK(!memcmp(s.want, s.got, SPAN), "a page was not handed");
        FUZZ_CHECK(page_batch_is_empty(&b), "not empty after a flush");
        memset(&s.want, 0, sizeof(s.want));
        memset(&s.got, 0, sizeof(s.got));
    }
    page_batch_destroy(&b);
    return 0;
}
