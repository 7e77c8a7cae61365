/*
 * qemu-cmm: host-side cost of the tmem page store
 *
 * Put and get throughput of backends/tmem-store.c against a plain 4 KiB
 * memcpy over the same working set, and metadata bytes per stored page.
 * Built and run by bench/tmem-store.sh.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "system/tmem-store.h"

#define PAGES       16384           /* 64 MiB of guest pages */
#define PER_OBJ     16
#define ROUNDS      7

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static TmemOid oid_of(unsigned i, unsigned per_obj)
{
    return (TmemOid) { .v = { i / per_obj, 0x5eed, 0 } };
}

static void report(const char *name, double ns, double memcpy_ns)
{
    printf("%-28s %8.0f ns/page %8.2f Mpages/s %6.2f GB/s %6.0f%% of memcpy\n",
           name, ns, 1e3 / ns, TMEM_PAGE_SIZE / ns, 100.0 * memcpy_ns / ns);
}

int main(void)
{
    uint8_t *src = g_malloc(PAGES * (size_t)TMEM_PAGE_SIZE);
    uint8_t *dst = g_malloc(PAGES * (size_t)TMEM_PAGE_SIZE);
    double t_memcpy[ROUNDS], t_put[ROUNDS], t_get[ROUNDS], t_pget[ROUNDS];
    double t_rep[ROUNDS], t_pair[ROUNDS];
    TmemStore *s = tmem_store_new(256 * MiB);
    TmemClient *c = tmem_client_new(s, 100, 0);
    TmemStoreInfo si;
    uint32_t eph, pers;
    unsigned long errors = 0;

    g_assert(s);
    memset(src, 0x5a, PAGES * (size_t)TMEM_PAGE_SIZE);
    memset(dst, 0xa5, PAGES * (size_t)TMEM_PAGE_SIZE);
    for (unsigned i = 0; i < PAGES; i++) {
        memcpy(src + (size_t)i * TMEM_PAGE_SIZE, &i, sizeof(i));
    }
    g_assert(tmem_client_pool_new(c, false, &eph) == VIRTIO_TMEM_OK);
    g_assert(tmem_client_pool_new(c, true, &pers) == VIRTIO_TMEM_OK);

    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();

        for (unsigned i = 0; i < PAGES; i++) {
            memcpy(dst + (size_t)i * TMEM_PAGE_SIZE,
                   src + (size_t)i * TMEM_PAGE_SIZE, TMEM_PAGE_SIZE);
        }
        t_memcpy[r] = (now_ns() - t0) / PAGES;

        t0 = now_ns();
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            tmem_put(c, eph, &o, i % PER_OBJ,
                     src + (size_t)i * TMEM_PAGE_SIZE);
        }
        t_put[r] = (now_ns() - t0) / PAGES;

        t0 = now_ns();
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            tmem_put(c, eph, &o, i % PER_OBJ,
                     src + (size_t)i * TMEM_PAGE_SIZE);
        }
        t_rep[r] = (now_ns() - t0) / PAGES;

        /* exclusive gets: each one also frees its page */
        t0 = now_ns();
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            errors += tmem_get(c, eph, &o, i % PER_OBJ,
                               dst + (size_t)i * TMEM_PAGE_SIZE) !=
                      VIRTIO_TMEM_OK;
        }
        t_get[r] = (now_ns() - t0) / PAGES;
        errors += memcmp(src, dst, PAGES * (size_t)TMEM_PAGE_SIZE) != 0;

        /* a put immediately followed by its get, page after page */
        t0 = now_ns();
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            tmem_put(c, eph, &o, i % PER_OBJ,
                     src + (size_t)i * TMEM_PAGE_SIZE);
            errors += tmem_get(c, eph, &o, i % PER_OBJ,
                               dst + (size_t)i * TMEM_PAGE_SIZE) !=
                      VIRTIO_TMEM_OK;
        }
        t_pair[r] = (now_ns() - t0) / PAGES;

        /* persistent gets do not free: time them on a full pool */
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            tmem_put(c, pers, &o, i % PER_OBJ,
                     src + (size_t)i * TMEM_PAGE_SIZE);
        }
        t0 = now_ns();
        for (unsigned i = 0; i < PAGES; i++) {
            TmemOid o = oid_of(i, PER_OBJ);
            errors += tmem_get(c, pers, &o, i % PER_OBJ,
                               dst + (size_t)i * TMEM_PAGE_SIZE) !=
                      VIRTIO_TMEM_OK;
        }
        t_pget[r] = (now_ns() - t0) / PAGES;
        tmem_store_info(s, &si);
        if (r == 0) {
            printf("metadata per page, %d pages per object: %.1f bytes\n",
                   PER_OBJ, (double)si.metadata / si.pages);
        }
        {
            uint32_t found;
            tmem_client_pool_flush(c, pers, &found);
            while (tmem_store_reap(s, 4096)) {
                /* free it all before the next round */
            }
        }
    }

    /* the worst case for metadata: one page per object */
    for (unsigned i = 0; i < PAGES; i++) {
        TmemOid o = oid_of(i, 1);
        tmem_put(c, pers, &o, 0, src + (size_t)i * TMEM_PAGE_SIZE);
    }
    tmem_store_info(s, &si);
    printf("metadata per page, 1 page per object: %.1f bytes\n",
           (double)si.metadata / si.pages);

    {
        double m = median(t_memcpy, ROUNDS);
        double put = median(t_put, ROUNDS), get = median(t_get, ROUNDS);

        printf("working set %d pages (%d MiB), median of %d rounds\n",
               PAGES, PAGES * TMEM_PAGE_SIZE / (int)MiB, ROUNDS);
        report("memcpy 4 KiB", m, m);
        report("put (new page)", put, m);
        report("put (replace)", median(t_rep, ROUNDS), m);
        report("get (ephemeral, exclusive)", get, m);
        report("get (persistent)", median(t_pget, ROUNDS), m);
        report("put then get, per page", median(t_pair, ROUNDS) / 2, m);
        printf("put+get rate: %.2f Mpages/s = %.0f%% of memcpy's %.2f "
               "Mpages/s\n", 1e3 / (put + get) * 2,
               100.0 * 2 * m / (put + get), 1e3 / m);
    }
    printf("verify errors: %lu\n", errors);
    tmem_client_free(c);
    tmem_store_free(s);
    g_free(src);
    g_free(dst);
    return errors ? 1 : 0;
}
