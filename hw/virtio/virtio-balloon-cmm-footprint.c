/*
 * virtio-balloon: cooperative memory, the guest's host footprint
 *
 * How much guest RAM is resident on the host.  pagemap tells pages of our
 * own from mappings of the shared zero page (which an incoming migration
 * creates for every page it checks for zeros, and which cost nothing);
 * mincore() cannot, so it is only the fallback.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "exec/memory.h"
#include "virtio-balloon-cmm-internal.h"

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT      (1ULL << 63)
#define PM_EXCLUSIVE    (1ULL << 56)
#define PM_CHUNK        4096            /* entries read at a time */

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
}

static bool from_pagemap(BalloonCmm *c, off_t base, size_t n,
                         uint64_t *resident)
{
    g_autofree uint64_t *pm = g_new(uint64_t, PM_CHUNK);
    size_t i, j;

    *resident = 0;
    for (i = 0; i < n; i += PM_CHUNK) {
        size_t cnt = MIN(PM_CHUNK, n - i);
        ssize_t got = pread(c->pagemap_fd, pm, cnt * sizeof(uint64_t),
                            base + i * sizeof(uint64_t));

        if (got != cnt * sizeof(uint64_t)) {
            return false;
        }
        for (j = 0; j < cnt; j++) {
            c->vec[i + j] = (pm[j] & (PM_PRESENT | PM_EXCLUSIVE)) ==
                            (PM_PRESENT | PM_EXCLUSIVE);
            *resident += c->vec[i + j];
        }
    }
    return true;
}

uint64_t balloon_cmm_footprint(BalloonCmm *c)
{
    MemoryRegion *ram = MACHINE(qdev_get_machine())->ram;
    uint8_t *host = memory_region_get_ram_ptr(ram);
    size_t len = memory_region_size(ram);
    size_t host_page = qemu_real_host_page_size();
    size_t n = DIV_ROUND_UP(len, host_page), i;
    uint64_t resident = 0;

    if (c->vec_len != n) {
        g_free(c->vec);
        c->vec = g_malloc(n);
        c->vec_len = n;
    }
    if (c->pagemap_fd >= 0 &&
        from_pagemap(c, (uintptr_t)host / host_page * sizeof(uint64_t), n,
                     &resident)) {
        return resident * host_page;
    }
    if (mincore(host, len, c->vec)) {
        memset(c->vec, 1, n);
        return len;                 /* cannot tell: assume the worst */
    }
    for (i = 0; i < n; i++) {
        c->vec[i] &= 1;
        resident += c->vec[i];
    }
    return resident * host_page;
}
