/*
 * virtio-balloon: cooperative memory, coalesced discards
 *
 * Inflated pages and free-page reports arrive one at a time; releasing
 * each alone costs a system call per 4 KiB.  They are queued here and
 * released (or, for deflated pages, hinted) in ranges, before the
 * virtqueue element goes back to the guest.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/madvise.h"
#include "exec/cpu-common.h"
#include "exec/memory.h"
#include "trace.h"
#include "virtio-balloon-cmm-internal.h"

void balloon_cmm_discard_init(BalloonCmm *c)
{
    page_batch_init(&c->batch, VIRTQUEUE_MAX_SIZE, BALLOON_CMM_PAGE);
}

void balloon_cmm_discard_destroy(BalloonCmm *c)
{
    page_batch_destroy(&c->batch);
}

static void inflate_range(uint64_t start, uint64_t length, void *opaque)
{
    RAMBlock *rb = opaque;

    trace_virtio_balloon_cmm_discard(1, start, length);
    /* Errors are reported by the callee and are not fatal, as upstream. */
    ram_block_discard_range(rb, start, length);
}

static void deflate_range(uint64_t start, uint64_t length, void *opaque)
{
    RAMBlock *rb = opaque;
    void *host = qemu_ram_get_host_addr(rb) + start;

    trace_virtio_balloon_cmm_discard(0, start, length);
    if (qemu_madvise(host, length, QEMU_MADV_WILLNEED) < 0) {
        error_report_once("virtio-balloon: failed to hint %" PRIu64
                          " deflated bytes: %s", length, strerror(errno));
    }
}

static void flush_pages(BalloonCmm *c)
{
    if (!page_batch_is_empty(&c->batch)) {
        page_batch_flush(&c->batch, c->batch_inflate ? inflate_range
                                                     : deflate_range,
                         c->batch_rb);
    }
}

static void flush_report(BalloonCmm *c)
{
    if (!c->rep_len) {
        return;
    }
    trace_virtio_balloon_cmm_discard(2, c->rep_start, c->rep_len);
    if (!ram_block_discard_range(c->rep_rb, c->rep_start, c->rep_len)) {
        c->states->note_reported(c->states_opaque, c->rep_rb, c->rep_start,
                                 c->rep_len);
    }
    c->rep_len = 0;
}

bool virtio_balloon_cmm_queue_page(VirtIOBalloon *s, bool inflate,
                                   MemoryRegion *mr, hwaddr offset)
{
    BalloonCmm *c = s->cmm;
    ram_addr_t rb_offset;
    RAMBlock *rb;

    rb = qemu_ram_block_from_host(memory_region_get_ram_ptr(mr) + offset,
                                  false, &rb_offset);
    if (!rb || qemu_ram_pagesize(rb) != BALLOON_CMM_PAGE) {
        return false;
    }
    if (rb != c->batch_rb || inflate != c->batch_inflate ||
        page_batch_is_full(&c->batch)) {
        flush_pages(c);
        c->batch_rb = rb;
        c->batch_inflate = inflate;
    }
    page_batch_add(&c->batch, rb_offset);
    return true;
}

void virtio_balloon_cmm_queue_report(VirtIOBalloon *s, RAMBlock *rb,
                                     ram_addr_t offset, size_t size)
{
    BalloonCmm *c = s->cmm;

    if (c->rep_len && rb == c->rep_rb && offset == c->rep_start + c->rep_len) {
        c->rep_len += size;
        return;
    }
    flush_report(c);
    c->rep_rb = rb;
    c->rep_start = offset;
    c->rep_len = size;
}

void virtio_balloon_cmm_flush(VirtIOBalloon *s)
{
    flush_pages(s->cmm);
    flush_report(s->cmm);
}
