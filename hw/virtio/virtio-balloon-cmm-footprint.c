/*
 * virtio-balloon: cooperative memory, the guest's host footprint
 *
 * How much guest RAM is resident on the host.  pagemap tells pages of our
 * own from mappings of the shared zero page (which an incoming migration
 * creates for every page it checks for zeros, and which cost nothing);
 * mincore() cannot, so it is only the fallback.
 *
 * Reading pagemap for all of guest RAM costs in proportion to its size
 * (about 16 ms for 16 GiB), which every control tick would pay.  So guest
 * RAM is read whole only every FP_FULL_MS, when the balloon moved, or when
 * the page-state provider cannot say what changed; in between, only the
 * blocks where the guest changed a page's state (it allocates, frees, or
 * we released pages) are read again.  A guest that uses CMMA changes a
 * page's state whenever it takes memory, so the full read only catches
 * what nobody announces (host swap, KSM, a page touched long after its
 * allocation).
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/timer.h"
#include "exec/memory.h"
#include "virtio-balloon-cmm-internal.h"

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT      (1ULL << 63)
#define PM_EXCLUSIVE    (1ULL << 56)
#define PM_CHUNK        4096            /* entries read at a time */

/* Read guest RAM whole at least this often. */
#define FP_FULL_MS      5000

void balloon_cmm_footprint_init(BalloonCmm *c)
{
    c->pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
}

void balloon_cmm_footprint_destroy(BalloonCmm *c)
{
    if (c->pagemap_fd >= 0) {
        close(c->pagemap_fd);
    }
    g_free(c->vec);
    c->vec = NULL;
    c->vec_len = 0;
    g_free(c->fp_changed);
    c->fp_changed = NULL;
    c->fp_nblocks = 0;
    c->fp_valid = false;
}

void balloon_cmm_footprint_invalidate(BalloonCmm *c)
{
    c->fp_valid = false;
}

/*
 * Read host pages [@first, @first + @n) of guest RAM from pagemap (@base:
 * the offset of guest RAM's first entry) into c->vec, keeping c->fp_pages
 * in step.  false if pagemap did not answer.
 */
static bool from_pagemap(BalloonCmm *c, off_t base, size_t first, size_t n)
{
    g_autofree uint64_t *pm = g_new(uint64_t, MIN(PM_CHUNK, n));
    size_t i, j;

    for (i = 0; i < n; i += PM_CHUNK) {
        size_t cnt = MIN(PM_CHUNK, n - i);
        ssize_t got = pread(c->pagemap_fd, pm, cnt * sizeof(uint64_t),
                            base + (first + i) * sizeof(uint64_t));

        if (got != cnt * sizeof(uint64_t)) {
            return false;
        }
        for (j = 0; j < cnt; j++) {
            uint8_t *v = &c->vec[first + i + j];
            uint8_t now = (pm[j] & (PM_PRESENT | PM_EXCLUSIVE)) ==
                          (PM_PRESENT | PM_EXCLUSIVE);

            c->fp_pages += now - *v;
            *v = now;
        }
    }
    return true;
}

/* Read again the blocks the provider says changed; false to read whole. */
static bool read_changed(BalloonCmm *c, off_t base, size_t len,
                         size_t host_page)
{
    uint64_t bs = c->states->take_changed(c->states_opaque, NULL, 0);
    uint64_t nblocks, b;

    if (!bs || bs % host_page) {
        return false;
    }
    nblocks = DIV_ROUND_UP(len, bs);
    if (c->fp_nblocks != nblocks) {
        g_free(c->fp_changed);
        c->fp_changed = bitmap_new(nblocks);
        c->fp_nblocks = nblocks;
    }
    c->states->take_changed(c->states_opaque, c->fp_changed, nblocks);
    for (b = find_first_bit(c->fp_changed, nblocks); b < nblocks;
         b = find_next_bit(c->fp_changed, nblocks, b + 1)) {
        size_t first = b * (bs / host_page);
        size_t n = MIN(bs / host_page, c->vec_len - first);

        if (!from_pagemap(c, base, first, n)) {
            return false;
        }
    }
    bitmap_zero(c->fp_changed, nblocks);
    c->fp_partial_reads++;
    return true;
}

uint64_t balloon_cmm_footprint(BalloonCmm *c)
{
    MemoryRegion *ram = MACHINE(qdev_get_machine())->ram;
    uint8_t *host = memory_region_get_ram_ptr(ram);
    size_t len = memory_region_size(ram);
    size_t host_page = qemu_real_host_page_size();
    size_t n = DIV_ROUND_UP(len, host_page), i;
    off_t base = (uintptr_t)host / host_page * sizeof(uint64_t);
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    if (c->vec_len != n) {
        g_free(c->vec);
        c->vec = g_malloc0(n);
        c->vec_len = n;
        c->fp_pages = 0;
        c->fp_valid = false;
    }
    if (c->pagemap_fd >= 0) {
        if (c->fp_valid && now - c->fp_full_ms < FP_FULL_MS &&
            read_changed(c, base, len, host_page)) {
            return c->fp_pages * host_page;
        }
        /* forget the changes: the whole read sees them */
        if (c->fp_nblocks) {
            c->states->take_changed(c->states_opaque, c->fp_changed,
                                    c->fp_nblocks);
            bitmap_zero(c->fp_changed, c->fp_nblocks);
        }
        if (from_pagemap(c, base, 0, n)) {
            c->fp_valid = true;
            c->fp_full_ms = now;
            c->fp_full_reads++;
            return c->fp_pages * host_page;
        }
    }
    c->fp_valid = false;
    c->fp_pages = 0;
    if (mincore(host, len, c->vec)) {
        memset(c->vec, 1, n);
        c->fp_pages = n;
        return len;                 /* cannot tell: assume the worst */
    }
    for (i = 0; i < n; i++) {
        c->vec[i] &= 1;
        c->fp_pages += c->vec[i];
    }
    return c->fp_pages * host_page;
}
