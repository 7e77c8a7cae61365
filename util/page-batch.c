/*
 * PageBatch: collect page addresses, hand them back as merged ranges
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "qemu/page-batch.h"

void page_batch_init(PageBatch *b, unsigned capacity, uint64_t page_size)
{
    g_assert(capacity > 0);
    g_assert(page_size && is_power_of_2(page_size));

    b->pages = g_new(uint64_t, capacity);
    b->count = 0;
    b->capacity = capacity;
    b->page_size = page_size;
}

void page_batch_destroy(PageBatch *b)
{
    g_free(b->pages);
    b->pages = NULL;
    b->count = 0;
    b->capacity = 0;
}

bool page_batch_add(PageBatch *b, uint64_t addr)
{
    if (page_batch_is_full(b)) {
        return false;
    }
    b->pages[b->count++] = addr & ~(b->page_size - 1);
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

uint64_t page_batch_flush(PageBatch *b, PageBatchRangeFn *fn, void *opaque)
{
    uint64_t start, length, pages = 0;
    unsigned i;

    if (!b->count) {
        return 0;
    }
    qsort(b->pages, b->count, sizeof(b->pages[0]), cmp_u64);

    start = b->pages[0];
    length = b->page_size;
    for (i = 1; i < b->count; i++) {
        uint64_t addr = b->pages[i];

        if (addr - start < length) {
            continue;                   /* the same page again */
        }
        /* Compare offsets, not ends: the last page may end at 2^64. */
        if (addr - start == length) {
            length += b->page_size;
            continue;
        }
        fn(start, length, opaque);
        pages += length / b->page_size;
        start = addr;
        length = b->page_size;
    }
    fn(start, length, opaque);
    pages += length / b->page_size;

    b->count = 0;
    return pages;
}
