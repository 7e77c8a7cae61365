/*
 * PageBatch: collect page addresses, hand them back as merged ranges
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PAGE_BATCH_H
#define QEMU_PAGE_BATCH_H

/*
 * Releasing guest memory one 4 KiB page at a time costs one system call per
 * page.  Callers that free pages in bursts (CMMA discard of unused pages,
 * balloon inflation, free-page reporting) add each page to a batch and flush
 * it as a few contiguous ranges instead.
 *
 * A batch is not thread safe; give each producer its own (e.g. one per vCPU).
 */

typedef struct PageBatch {
    uint64_t *pages;        /* page-aligned addresses, in the order added */
    unsigned count;         /* entries used in @pages */
    unsigned capacity;      /* entries allocated in @pages */
    uint64_t page_size;     /* a power of two */
} PageBatch;

/*
 * PageBatchRangeFn: called once per maximal run of contiguous pages
 * @start: address of the first page of the run
 * @length: length of the run in bytes, a multiple of the page size
 * @opaque: the caller's pointer
 */
typedef void PageBatchRangeFn(uint64_t start, uint64_t length, void *opaque);

/**
 * page_batch_init: prepare an empty batch
 * @b: the batch
 * @capacity: how many pages it holds before it must be flushed (at least 1)
 * @page_size: the page size, a power of two
 */
void page_batch_init(PageBatch *b, unsigned capacity, uint64_t page_size);

/**
 * page_batch_destroy: free the storage of a batch; pending pages are dropped
 */
void page_batch_destroy(PageBatch *b);

/**
 * page_batch_add: add the page that contains @addr
 *
 * Returns: false if the batch is full and the page was not added; flush the
 * batch and add it again.
 */
bool page_batch_add(PageBatch *b, uint64_t addr);

static inline bool page_batch_is_full(const PageBatch *b)
{
    return b->count >= b->capacity;
}

static inline bool page_batch_is_empty(const PageBatch *b)
{
    return b->count == 0;
}

/**
 * page_batch_flush: empty the batch as ranges
 * @b: the batch
 * @fn: called for each maximal run of contiguous pages, in ascending order,
 *      with each page appearing once however often it was added
 * @opaque: passed to @fn
 *
 * Returns: the number of distinct pages handed to @fn.
 */
uint64_t page_batch_flush(PageBatch *b, PageBatchRangeFn *fn, void *opaque);

#endif
