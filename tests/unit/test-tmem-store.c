/*
 * Unit tests for the tmem page store
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "system/tmem-store.h"

#define PS          TMEM_PAGE_SIZE
#define PWORDS      (PS / sizeof(uint64_t))
#define H(slot, gen) VIRTIO_TMEM_POOL_HANDLE(slot, gen)

/* ---- helpers ------------------------------------------------------------ */

/*
 * Object k: each of the three oid words varies on its own (0/1 differ only
 * in v[0], 0/2 only in v[1], 0/4 only in v[2]), so a partial compare of
 * the oid would alias objects.
 */
static TmemOid oid_of(uint64_t k)
{
    TmemOid o = { { k & 1, (k >> 1) & 1, k >> 2 } };

    return o;
}

/* A page whose every word depends on id; word 0 is the id itself. */
static void fill(uint64_t *page, uint64_t id)
{
    page[0] = id;
    for (unsigned i = 1; i < PWORDS; i++) {
        page[i] = (id ^ ((uint64_t)i << 40)) * 0x9e3779b97f4a7c15ULL + i;
    }
}

/* True if the whole page is the pattern of the id in its first word. */
static bool page_intact(const uint64_t *page)
{
    uint64_t want[PWORDS];

    fill(want, page[0]);
    return !memcmp(want, page, PS);
}

static uint64_t page_bytes(unsigned pages, unsigned objects)
{
    return pages * tmem_page_cost() + objects * tmem_object_cost();
}

static int put_id(TmemClient *c, uint32_t h, uint64_t oid, uint32_t index,
                  uint64_t id)
{
    uint64_t page[PWORDS];
    TmemOid o = oid_of(oid);

    fill(page, id);
    return tmem_put(c, h, &o, index, page);
}

/* GET: the content id found, 0 for a miss, -status for other results. */
static int64_t get_id(TmemClient *c, uint32_t h, uint64_t oid,
                      uint32_t index)
{
    uint64_t page[PWORDS];
    TmemOid o = oid_of(oid);
    int ret;

    memset(page, 0xa5, sizeof(page));
    ret = tmem_get(c, h, &o, index, page);
    if (ret == VIRTIO_TMEM_MISS) {
        return 0;
    }
    if (ret != VIRTIO_TMEM_OK) {
        return -ret;
    }
    g_assert_true(page_intact(page));
    return page[0];
}

static int flush_page(TmemClient *c, uint32_t h, uint64_t oid,
                      uint32_t index, uint32_t *found)
{
    TmemOid o = oid_of(oid);

    return tmem_flush_page(c, h, &o, index, found);
}

static int flush_object(TmemClient *c, uint32_t h, uint64_t oid,
                        uint32_t *found)
{
    TmemOid o = oid_of(oid);

    return tmem_flush_object(c, h, &o, found);
}

static uint32_t new_pool(TmemClient *c, bool persistent)
{
    uint32_t h = 0xdeadbeef;

    g_assert_cmpint(tmem_client_pool_new(c, persistent, &h), ==,
                    VIRTIO_TMEM_OK);
    return h;
}

static TmemClientStats cinfo(TmemClient *c)
{
    TmemClientStats i;

    tmem_client_info(c, &i);
    return i;
}

static TmemStoreInfo sinfo(TmemStore *s)
{
    TmemStoreInfo i;

    tmem_store_info(s, &i);
    return i;
}

/* Budget and metadata accounting that must hold after any operation. */
static void check_store(TmemStore *s)
{
    TmemStoreInfo i = sinfo(s);

    g_assert_cmpuint(i.used, <=, i.size);
    g_assert_cmpuint(i.used, ==, page_bytes(i.pages, i.objects));
    g_assert_cmpuint(i.metadata, ==, i.used - i.pages * PS);
}

static void check_cap(TmemClient *c)
{
    TmemClientStats i = cinfo(c);

    if (i.cap) {
        g_assert_cmpuint(i.bytes, <=, i.cap);
    }
}

/* ---- handles ------------------------------------------------------------ */

static void test_handles(void)
{
    TmemStore *s = tmem_store_new(64 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0);
    static const uint32_t bad[] = {
        H(16, 0), H(0xffff, 0), H(5, 0), H(0xffff, 0xffff), H(17, 3),
    };
    uint32_t h0, h1, h[TMEM_MAX_POOLS], found, extra;

    h0 = new_pool(c, false);
    g_assert_cmpuint(h0, ==, H(0, 0));
    g_assert_cmpint(put_id(c, h0, 1, 2, 100), ==, VIRTIO_TMEM_OK);

    /* out of range or unused slots, for every operation */
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        TmemOid o = oid_of(1);

        g_assert_cmpint(put_id(c, bad[i], 1, 2, 7), ==, VIRTIO_TMEM_NOPOOL);
        g_assert_cmpint(get_id(c, bad[i], 1, 2), ==, -VIRTIO_TMEM_NOPOOL);
        found = 99;
        g_assert_cmpint(flush_page(c, bad[i], 1, 2, &found), ==,
                        VIRTIO_TMEM_NOPOOL);
        g_assert_cmpuint(found, ==, 0);
        found = 99;
        g_assert_cmpint(tmem_flush_object(c, bad[i], &o, &found), ==,
                        VIRTIO_TMEM_NOPOOL);
        g_assert_cmpuint(found, ==, 0);
        found = 99;
        g_assert_cmpint(tmem_client_pool_flush(c, bad[i], &found), ==,
                        VIRTIO_TMEM_NOPOOL);
        g_assert_cmpuint(found, ==, 0);
        g_assert_cmpint(tmem_client_pool_destroy(c, bad[i], &found), ==,
                        VIRTIO_TMEM_NOPOOL);
    }

    /* right slot, wrong generation */
    g_assert_cmpint(put_id(c, H(0, 1), 1, 2, 7), ==, VIRTIO_TMEM_STALE);
    g_assert_cmpint(get_id(c, H(0, 0xffff), 1, 2), ==, -VIRTIO_TMEM_STALE);
    g_assert_cmpint(flush_page(c, H(0, 1), 1, 2, &found), ==,
                    VIRTIO_TMEM_STALE);
    g_assert_cmpint(tmem_client_pool_destroy(c, H(0, 1), &found), ==,
                    VIRTIO_TMEM_STALE);
    /* none of that touched the page (get is exclusive: it takes it) */
    g_assert_cmpint(get_id(c, h0, 1, 2), ==, 100);

    /* destroyed and recreated: a new generation, old handle is stale */
    g_assert_cmpint(put_id(c, h0, 1, 2, 101), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(tmem_client_pool_destroy(c, h0, &found), ==,
                    VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 1);
    g_assert_cmpint(get_id(c, h0, 1, 2), ==, -VIRTIO_TMEM_NOPOOL);
    g_assert_cmpint(tmem_client_pool_destroy(c, h0, &found), ==,
                    VIRTIO_TMEM_NOPOOL);
    h1 = new_pool(c, false);
    g_assert_cmpuint(VIRTIO_TMEM_POOL_SLOT(h1), ==, 0);
    g_assert_cmpuint(VIRTIO_TMEM_POOL_GEN(h1), ==, 1);
    g_assert_cmpint(put_id(c, h0, 1, 2, 102), ==, VIRTIO_TMEM_STALE);
    g_assert_cmpint(get_id(c, h0, 1, 2), ==, -VIRTIO_TMEM_STALE);
    /* the new pool starts empty: the old content did not survive */
    g_assert_cmpint(get_id(c, h1, 1, 2), ==, 0);

    /* 16 pools, then NOSPACE */
    h[0] = h1;
    for (unsigned i = 1; i < TMEM_MAX_POOLS; i++) {
        h[i] = new_pool(c, i & 1);
        g_assert_cmpuint(h[i], ==, H(i, 0));
    }
    g_assert_cmpuint(cinfo(c).pools, ==, TMEM_MAX_POOLS);
    extra = 0x1234;
    g_assert_cmpint(tmem_client_pool_new(c, false, &extra), ==,
                    VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(tmem_client_pool_new(c, true, &extra), ==,
                    VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(tmem_client_pool_destroy(c, h[7], &found), ==,
                    VIRTIO_TMEM_OK);
    g_assert_cmpuint(new_pool(c, false), ==, H(7, 1));

    /* pools are per client: another client's slot 3 is its own */
    {
        TmemClient *d = tmem_client_new(s, 1, 0);

        g_assert_cmpint(put_id(d, h[3], 1, 2, 5), ==, VIRTIO_TMEM_NOPOOL);
        g_assert_cmpuint(new_pool(d, true), ==, H(0, 0));
        g_assert_cmpint(put_id(d, H(0, 0), 1, 2, 5), ==, VIRTIO_TMEM_OK);
        g_assert_cmpint(get_id(c, h1, 1, 2), ==, 0);
        tmem_client_free(d);
    }

    /* reset: every slot freed, each used slot's generation bumped */
    tmem_client_reset(c);
    g_assert_cmpuint(cinfo(c).pools, ==, 0);
    g_assert_cmpint(get_id(c, h1, 1, 2), ==, -VIRTIO_TMEM_NOPOOL);
    h0 = new_pool(c, false);
    g_assert_cmpuint(h0, ==, H(0, 2));
    g_assert_cmpint(get_id(c, h1, 1, 2), ==, -VIRTIO_TMEM_STALE);

    check_store(s);
    tmem_client_free(c);
    g_assert_cmpuint(sinfo(s).used, ==, 0);
    tmem_store_free(s);
}

/* ---- LRU ---------------------------------------------------------------- */

static void test_lru_order(void)
{
    uint64_t size = 64 * PS;
    /* all pages in one object: n pages and one object fit */
    unsigned n = (size - tmem_object_cost()) / tmem_page_cost(), k = 5;
    TmemStore *s = tmem_store_new(size);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t h = new_pool(c, false);

    for (unsigned i = 0; i < n + k; i++) {
        g_assert_cmpint(put_id(c, h, 3, i, 1000 + i), ==, VIRTIO_TMEM_OK);
        check_store(s);
    }
    g_assert_cmpuint(cinfo(c).c.evictions, ==, k);
    g_assert_cmpuint(sinfo(s).evictions, ==, k);
    g_assert_cmpuint(cinfo(c).eph_pages, ==, n);
    /* the oldest k are gone, the rest hold their data */
    for (unsigned i = 0; i < k; i++) {
        g_assert_cmpint(get_id(c, h, 3, i), ==, 0);
    }
    for (unsigned i = k; i < n + k; i++) {
        g_assert_cmpint(get_id(c, h, 3, i), ==, 1000 + i);
    }
    tmem_store_free(s);
}

static void test_lru_replace(void)
{
    uint64_t size = 64 * PS;
    unsigned n = (size - tmem_object_cost()) / tmem_page_cost();
    TmemStore *s = tmem_store_new(size);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t h = new_pool(c, false);

    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(put_id(c, h, 3, i, 1000 + i), ==, VIRTIO_TMEM_OK);
    }
    g_assert_cmpuint(cinfo(c).c.evictions, ==, 0);
    /* replacing the oldest page makes it the most recent */
    g_assert_cmpint(put_id(c, h, 3, 0, 5000), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(cinfo(c).c.puts_replaced, ==, 1);
    g_assert_cmpuint(cinfo(c).c.evictions, ==, 0);
    g_assert_cmpint(put_id(c, h, 3, n, 1000 + n), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, h, 3, n + 1, 1000 + n + 1), ==,
                    VIRTIO_TMEM_OK);
    g_assert_cmpuint(cinfo(c).c.evictions, ==, 2);
    g_assert_cmpint(get_id(c, h, 3, 0), ==, 5000);
    g_assert_cmpint(get_id(c, h, 3, 1), ==, 0);
    g_assert_cmpint(get_id(c, h, 3, 2), ==, 0);
    for (unsigned i = 3; i < n + 2; i++) {
        g_assert_cmpint(get_id(c, h, 3, i), ==, 1000 + i);
    }
    tmem_store_free(s);
}

/* One-page objects: the object's metadata is charged and freed with it. */
static void test_lru_objects(void)
{
    uint64_t size = 64 * PS;
    unsigned n = size / page_bytes(1, 1), k = 7;
    TmemStore *s = tmem_store_new(size);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t h = new_pool(c, false);

    for (unsigned i = 0; i < n + k; i++) {
        g_assert_cmpint(put_id(c, h, 100 + i, 0, 1000 + i), ==,
                        VIRTIO_TMEM_OK);
        check_store(s);
    }
    g_assert_cmpuint(cinfo(c).c.evictions, ==, k);
    g_assert_cmpuint(cinfo(c).objects, ==, n);
    g_assert_cmpuint(sinfo(s).objects, ==, n);
    for (unsigned i = 0; i < n + k; i++) {
        g_assert_cmpint(get_id(c, h, 100 + i, 0), ==, i < k ? 0 : 1000 + i);
    }
    /* every get took its page, and each page's object went with it */
    g_assert_cmpuint(sinfo(s).used, ==, 0);
    g_assert_cmpuint(sinfo(s).objects, ==, 0);
    tmem_store_free(s);
}

/* ---- budget and caps ----------------------------------------------------- */

static void test_cap_flood(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    /* an odd cap: 20 one-page objects and a bit */
    uint64_t cap = page_bytes(20, 20) + 77;
    TmemClient *a = tmem_client_new(s, 1, cap);
    TmemClient *b = tmem_client_new(s, 1, 0);
    uint32_t ha = new_pool(a, false), hb = new_pool(b, false);
    unsigned n = 500;

    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(put_id(b, hb, i, 0, 9000 + i), ==, VIRTIO_TMEM_OK);
    }
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(put_id(a, ha, i, 0, 1000 + i), ==, VIRTIO_TMEM_OK);
        check_cap(a);
        check_store(s);
    }
    g_assert_cmpuint(cinfo(a).eph_pages, ==, 20);
    g_assert_cmpuint(cinfo(a).c.evictions, ==, n - 20);
    g_assert_cmpuint(cinfo(a).c.puts_ok, ==, n);
    /* the cap only ever evicted a's own pages, the oldest first */
    g_assert_cmpuint(cinfo(b).c.evictions, ==, 0);
    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(get_id(b, hb, i, 0), ==, 9000 + i);
    }
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(get_id(a, ha, i, 0), ==, i < n - 20 ? 0 : 1000 + i);
    }
    tmem_store_free(s);
}

static void test_cap_persistent(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    /* one object of ten pages fills the cap exactly */
    TmemClient *c = tmem_client_new(s, 1, page_bytes(10, 1));
    uint32_t hp = new_pool(c, true), he = new_pool(c, false);

    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(put_id(c, hp, 1, i, 100 + i), ==, VIRTIO_TMEM_OK);
    }
    g_assert_cmpint(put_id(c, hp, 1, 10, 110), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(c, hp, 2, 0, 111), ==, VIRTIO_TMEM_NOSPACE);
    /* ephemeral puts cannot push persistent pages out either */
    g_assert_cmpint(put_id(c, he, 1, 0, 112), ==, VIRTIO_TMEM_NOSPACE);
    /* replacing in place needs no room */
    g_assert_cmpint(put_id(c, hp, 1, 3, 203), ==, VIRTIO_TMEM_OK);
    check_cap(c);
    check_store(s);
    g_assert_cmpuint(cinfo(c).c.puts_nospace, ==, 3);
    g_assert_cmpuint(cinfo(c).c.puts_ok, ==, 11);
    g_assert_cmpuint(cinfo(c).c.evictions, ==, 0);
    /* persistent gets leave the page in place */
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 10; i++) {
            g_assert_cmpint(get_id(c, hp, 1, i), ==, i == 3 ? 203 : 100 + i);
        }
    }
    g_assert_cmpint(get_id(c, hp, 1, 10), ==, 0);
    g_assert_cmpuint(cinfo(c).pers_pages, ==, 10);
    tmem_store_free(s);
}

/*
 * Without caps, two tenants of equal weight: one fills what it may with
 * persistent pages, and the other can still put ephemeral and persistent
 * pages.  Alone, a tenant may use the whole store.
 */
static void test_persistent_fair_share(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *a = tmem_client_new(s, 128, 0);
    TmemClient *b = tmem_client_new(s, 128, 0);
    TmemClient *lone;
    uint32_t ha = new_pool(a, true), hbp = new_pool(b, true);
    uint32_t hbe = new_pool(b, false);
    unsigned n = 0;

    g_assert_cmpuint(tmem_client_pers_share(a), ==, 128 * PS);
    while (put_id(a, ha, n / 8, n % 8, 1000 + n) == VIRTIO_TMEM_OK) {
        n++;
        g_assert_cmpuint(n, <=, 256);
    }
    /* within its half, and refused with NOSPACE, counted */
    g_assert_cmpuint(n * tmem_page_cost(), <=, 128 * PS);
    g_assert_cmpuint((n + 1) * tmem_page_cost(), >, 128 * PS);
    g_assert_cmpuint(cinfo(a).c.puts_nospace, ==, 1);
    /* the other tenant is not locked out */
    for (unsigned i = 0; i < 32; i++) {
        g_assert_cmpint(put_id(b, hbe, 1, i, 2000 + i), ==, VIRTIO_TMEM_OK);
        g_assert_cmpint(put_id(b, hbp, 2, i, 3000 + i), ==, VIRTIO_TMEM_OK);
    }
    /* a replaced page needs no new room */
    g_assert_cmpint(put_id(a, ha, 0, 0, 4000), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(get_id(a, ha, 0, 0), ==, 4000);
    /* weights split it: 3:1 */
    tmem_client_set_weight(a, 192);
    tmem_client_set_weight(b, 64);
    g_assert_cmpuint(tmem_client_pers_share(a), ==, 192 * PS);
    g_assert_cmpuint(tmem_client_pers_share(b), ==, 64 * PS);
    /* an explicit cap replaces the share */
    tmem_client_set_cap(b, 100 * PS);
    g_assert_cmpuint(tmem_client_pers_share(b), ==, 100 * PS);
    /* all weights 0: an even split */
    tmem_client_set_weight(a, 0);
    tmem_client_set_weight(b, 0);
    tmem_client_set_cap(b, 0);
    g_assert_cmpuint(tmem_client_pers_share(a), ==, 128 * PS);
    check_store(s);
    tmem_client_free(a);
    tmem_client_free(b);

    /* alone, the whole store */
    lone = tmem_client_new(s, 128, 0);
    g_assert_cmpuint(tmem_client_pers_share(lone), ==, 256 * PS);
    tmem_store_free(s);
}

/* A migration restores persistent pages beyond the share: they existed. */
static void test_persistent_restore_unlimited(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *a = tmem_client_new(s, 1, 0);
    TmemClient *b = tmem_client_new(s, 255, 0);
    uint32_t ha = new_pool(a, true);
    uint64_t page[PWORDS];
    unsigned i;

    for (i = 0; i < 64; i++) {
        TmemOid o = oid_of(1);

        fill(page, 500 + i);
        g_assert_cmpint(tmem_restore_page(a, ha, &o, i, page), ==,
                        VIRTIO_TMEM_OK);
    }
    g_assert_cmpuint(cinfo(a).pers_pages, ==, 64);
    /* ... but the guest's own puts stay within the share */
    g_assert_cmpint(put_id(a, ha, 2, 0, 600), ==, VIRTIO_TMEM_NOSPACE);
    (void)b;
    tmem_store_free(s);
}

static void test_cap_mixed(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *c = tmem_client_new(s, 1, page_bytes(20, 20));
    uint32_t hp = new_pool(c, true), he = new_pool(c, false);
    unsigned n = 100;

    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(put_id(c, hp, i, 0, 100 + i), ==, VIRTIO_TMEM_OK);
    }
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(put_id(c, he, i, 0, 1000 + i), ==, VIRTIO_TMEM_OK);
        check_cap(c);
    }
    g_assert_cmpuint(cinfo(c).eph_pages, ==, 10);
    g_assert_cmpuint(cinfo(c).pers_pages, ==, 10);
    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(get_id(c, hp, i, 0), ==, 100 + i);
    }
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(get_id(c, he, i, 0), ==, i < n - 10 ? 0 : 1000 + i);
    }
    check_store(s);
    tmem_store_free(s);
}

static void test_set_cap(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t hp = new_pool(c, true), he = new_pool(c, false);
    uint64_t ev;

    for (unsigned i = 0; i < 5; i++) {
        g_assert_cmpint(put_id(c, hp, i, 0, 100 + i), ==, VIRTIO_TMEM_OK);
    }
    for (unsigned i = 0; i < 30; i++) {
        g_assert_cmpint(put_id(c, he, i, 0, 1000 + i), ==, VIRTIO_TMEM_OK);
    }
    /* room for the persistent pages and 10 ephemeral ones */
    tmem_client_set_cap(c, page_bytes(15, 15));
    g_assert_cmpuint(cinfo(c).cap, ==, page_bytes(15, 15));
    g_assert_cmpuint(cinfo(c).c.evictions, ==, 20);
    g_assert_cmpuint(cinfo(c).eph_pages, ==, 10);
    check_cap(c);
    check_store(s);
    for (unsigned i = 0; i < 30; i++) {
        g_assert_cmpint(get_id(c, he, i, 0), ==, i < 20 ? 0 : 1000 + i);
    }
    for (unsigned i = 0; i < 30; i++) {
        g_assert_cmpint(put_id(c, he, i, 0, 2000 + i), ==, VIRTIO_TMEM_OK);
    }
    /* below the persistent pages: ephemeral ones go, persistent stay */
    ev = cinfo(c).c.evictions;
    tmem_client_set_cap(c, page_bytes(2, 2));
    g_assert_cmpuint(cinfo(c).eph_pages, ==, 0);
    g_assert_cmpuint(cinfo(c).c.evictions, ==, ev + 10);
    g_assert_cmpuint(cinfo(c).pers_pages, ==, 5);
    for (unsigned i = 0; i < 5; i++) {
        g_assert_cmpint(get_id(c, hp, i, 0), ==, 100 + i);
    }
    g_assert_cmpint(put_id(c, he, 99, 0, 3000), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(c, hp, 99, 0, 3001), ==, VIRTIO_TMEM_NOSPACE);
    /* raising it again lets puts in */
    tmem_client_set_cap(c, 0);
    g_assert_cmpint(put_id(c, he, 99, 0, 3002), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 99, 0, 3003), ==, VIRTIO_TMEM_OK);
    check_store(s);
    tmem_store_free(s);
}

/*
 * The whole store full of persistent pages: ephemeral puts are refused.
 * Only a client whose cap allows it gets there (the default fair share
 * keeps it to its weight's part: test_persistent_fair_share).
 */
static void test_store_full_persistent(void)
{
    uint64_t size = 32 * PS;
    unsigned n = (size - tmem_object_cost()) / tmem_page_cost();
    TmemStore *s = tmem_store_new(size);
    TmemClient *a = tmem_client_new(s, 1, size);
    TmemClient *b = tmem_client_new(s, 1, 0);
    uint32_t hp = new_pool(a, true), he = new_pool(a, false);
    uint32_t hb = new_pool(b, false);

    g_assert_cmpint(put_id(b, hb, 0, 0, 50), ==, VIRTIO_TMEM_OK);
    for (unsigned i = 0; i < n; i++) {
        /* b's ephemeral page gives way to a's persistent ones */
        g_assert_cmpint(put_id(a, hp, 0, i, 100 + i), ==, VIRTIO_TMEM_OK);
        check_store(s);
    }
    g_assert_cmpuint(cinfo(b).c.evictions, ==, 1);
    g_assert_cmpint(put_id(a, hp, 0, n, 999), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(a, he, 0, 0, 998), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(b, hb, 0, 0, 997), ==, VIRTIO_TMEM_NOSPACE);
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(get_id(a, hp, 0, i), ==, 100 + i);
    }
    g_assert_cmpuint(cinfo(b).c.puts_nospace, ==, 1);
    tmem_store_free(s);
}

/* ---- weights ------------------------------------------------------------ */

/* a and b alternately put distinct ephemeral pages, rounds times each. */
static void weight_flood(unsigned wa, unsigned wb, unsigned rounds,
                         uint64_t *pa, uint64_t *pb)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *a = tmem_client_new(s, wa, 0);
    TmemClient *b = tmem_client_new(s, wb, 0);
    uint32_t ha = new_pool(a, false), hb = new_pool(b, false);
    TmemStoreInfo si;

    for (unsigned i = 0; i < rounds; i++) {
        g_assert_cmpint(put_id(a, ha, i / 8, i % 8, 2 * i + 1), ==,
                        VIRTIO_TMEM_OK);
        g_assert_cmpint(put_id(b, hb, i / 8, i % 8, 2 * i + 2), ==,
                        VIRTIO_TMEM_OK);
        check_store(s);
    }
    si = sinfo(s);
    *pa = cinfo(a).eph_pages;
    *pb = cinfo(b).eph_pages;
    g_test_message("weights %u:%u -> pages %" PRIu64 ":%" PRIu64
                   ", evictions %" PRIu64 ":%" PRIu64, wa, wb, *pa, *pb,
                   cinfo(a).c.evictions, cinfo(b).c.evictions);
    /* the store is full: nothing else fits */
    g_assert_cmpuint(si.used + page_bytes(1, 1), >, si.size);
    g_assert_cmpuint(si.evictions, ==,
                     cinfo(a).c.evictions + cinfo(b).c.evictions);
    /* no gets: every page put and not held was evicted */
    g_assert_cmpuint(si.evictions, ==, 2 * rounds - si.pages);
    g_assert_cmpuint(cinfo(b).c.evictions, >, 0);
    tmem_store_free(s);
}

static void test_weights(void)
{
    uint64_t a, b;

    weight_flood(1, 3, 1024, &a, &b);
    g_assert_cmpuint(a, >, 0);
    g_assert_cmpuint(2 * b, >=, 5 * a);
    g_assert_cmpuint(2 * b, <=, 7 * a);

    weight_flood(2, 2, 1024, &a, &b);
    g_assert_cmpuint(a, <=, b + 2);
    g_assert_cmpuint(b, <=, a + 2);

    /* a weight of 0 keeps next to nothing while the other one floods */
    weight_flood(0, 1, 1024, &a, &b);
    g_assert_cmpuint(a, <=, 1);
    g_assert_cmpuint(b, >, 200);
}

/* ---- frozen ------------------------------------------------------------- */

static void test_frozen(void)
{
    TmemStore *s = tmem_store_new(64 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t he = new_pool(c, false), hp = new_pool(c, true);
    uint32_t found;
    uint64_t used;

    g_assert_cmpint(put_id(c, he, 1, 0, 10), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, he, 1, 1, 11), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, he, 1, 2, 12), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 1, 0, 20), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 1, 1, 21), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 1, 2, 22), ==, VIRTIO_TMEM_OK);

    tmem_client_set_frozen(c, true);
    g_assert_true(cinfo(c).frozen);
    used = sinfo(s).used;
    g_assert_cmpint(put_id(c, he, 2, 0, 30), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpint(put_id(c, hp, 2, 0, 31), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpuint(sinfo(s).used, ==, used);
    /* a refused duplicate must not leave the older copy readable */
    g_assert_cmpint(put_id(c, he, 1, 0, 32), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpint(put_id(c, hp, 1, 0, 33), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpuint(sinfo(s).used, ==, used - 2 * tmem_page_cost());
    /* gets and flushes still work */
    g_assert_cmpint(get_id(c, he, 2, 0), ==, 0);
    g_assert_cmpint(get_id(c, he, 1, 1), ==, 11);
    g_assert_cmpint(get_id(c, hp, 1, 1), ==, 21);
    g_assert_cmpint(flush_page(c, hp, 1, 2, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 1);
    g_assert_cmpint(flush_page(c, he, 1, 2, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 1);
    g_assert_cmpuint(cinfo(c).c.puts_frozen, ==, 4);

    tmem_client_set_frozen(c, false);
    g_assert_false(cinfo(c).frozen);
    g_assert_cmpint(get_id(c, he, 1, 0), ==, 0);
    g_assert_cmpint(get_id(c, hp, 1, 0), ==, 0);
    g_assert_cmpint(get_id(c, hp, 2, 0), ==, 0);
    g_assert_cmpint(get_id(c, hp, 1, 1), ==, 21);
    g_assert_cmpint(get_id(c, hp, 1, 2), ==, 0);
    g_assert_cmpint(put_id(c, he, 1, 0, 40), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(get_id(c, he, 1, 0), ==, 40);
    check_store(s);
    tmem_store_free(s);
}

/* ---- dropping and resetting ---------------------------------------------- */

static void test_drop_ephemeral(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *a = tmem_client_new(s, 1, 0);
    TmemClient *b = tmem_client_new(s, 1, 0);
    uint32_t ae = new_pool(a, false), ap = new_pool(a, true);
    uint32_t be = new_pool(b, false), bp = new_pool(b, true);
    uint32_t ae2 = new_pool(a, false), found;
    uint64_t used, freed;
    uint32_t ea = tmem_client_epoch(a), eb = tmem_client_epoch(b);

    for (unsigned i = 0; i < 20; i++) {
        g_assert_cmpint(put_id(a, ae, i / 4, i % 4, 100 + i), ==, 0);
        g_assert_cmpint(put_id(a, ap, i / 4, i % 4, 200 + i), ==, 0);
        g_assert_cmpint(put_id(b, be, i / 4, i % 4, 300 + i), ==, 0);
        g_assert_cmpint(put_id(b, bp, i / 4, i % 4, 400 + i), ==, 0);
    }
    /* flushed but not yet freed content counts as freed by the drop */
    for (unsigned i = 0; i < 80; i++) {
        g_assert_cmpint(put_id(a, ae2, 7, i, 500 + i), ==, 0);
    }
    g_assert_cmpint(flush_object(a, ae2, 7, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 80);
    g_assert_cmpuint(cinfo(a).dead_pages, ==, 80);

    used = sinfo(s).used;
    freed = tmem_client_drop_ephemeral(a);
    g_assert_cmpuint(freed, ==, used - sinfo(s).used);
    g_assert_cmpuint(freed, ==, page_bytes(100, 6));
    g_assert_cmpuint(cinfo(a).eph_pages, ==, 0);
    g_assert_cmpuint(cinfo(a).dead_pages, ==, 0);
    g_assert_cmpuint(cinfo(a).pers_pages, ==, 20);
    g_assert_cmpuint(cinfo(a).pools, ==, 3);
    g_assert_cmpuint(tmem_client_epoch(a), ==, ea + 1);
    g_assert_cmpuint(cinfo(a).epoch, ==, ea + 1);
    g_assert_cmpuint(tmem_client_epoch(b), ==, eb);
    check_store(s);
    for (unsigned i = 0; i < 20; i++) {
        g_assert_cmpint(get_id(a, ae, i / 4, i % 4), ==, 0);
        g_assert_cmpint(get_id(a, ap, i / 4, i % 4), ==, 200 + i);
    }
    /* the pools stay usable */
    g_assert_cmpint(put_id(a, ae, 0, 0, 600), ==, VIRTIO_TMEM_OK);

    used = sinfo(s).used;
    freed = tmem_store_drop_ephemeral(s);
    g_assert_cmpuint(freed, ==, used - sinfo(s).used);
    g_assert_cmpuint(freed, ==, page_bytes(21, 6));
    g_assert_cmpuint(tmem_client_epoch(a), ==, ea + 2);
    g_assert_cmpuint(tmem_client_epoch(b), ==, eb + 1);
    g_assert_cmpuint(cinfo(b).eph_pages, ==, 0);
    g_assert_cmpuint(sinfo(s).pages, ==, 40);
    for (unsigned i = 0; i < 20; i++) {
        g_assert_cmpint(get_id(b, be, i / 4, i % 4), ==, 0);
        g_assert_cmpint(get_id(b, bp, i / 4, i % 4), ==, 400 + i);
        g_assert_cmpint(get_id(a, ap, i / 4, i % 4), ==, 200 + i);
    }
    g_assert_cmpint(get_id(a, ae, 0, 0), ==, 0);
    /* nothing left to drop */
    g_assert_cmpuint(tmem_store_drop_ephemeral(s), ==, 0);
    check_store(s);
    tmem_store_free(s);
}

static void test_reset_and_free(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *a = tmem_client_new(s, 1, 128 * PS);
    TmemClient *b = tmem_client_new(s, 2, 0);
    uint32_t ae = new_pool(a, false), ap = new_pool(a, true);
    uint32_t bp = new_pool(b, true), found;
    uint32_t ea = tmem_client_epoch(a);
    uint64_t used, bytes;
    TmemClientStats ci;

    for (unsigned i = 0; i < 90; i++) {
        g_assert_cmpint(put_id(a, ae, i / 30, i, 100 + i), ==, 0);
        g_assert_cmpint(put_id(a, ap, i / 30, i, 200 + i), ==, 0);
        g_assert_cmpint(put_id(b, bp, 5, i, 300 + i), ==, 0);
    }
    g_assert_cmpint(tmem_client_pool_flush(a, ap, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 90);

    tmem_client_reset(a);
    ci = cinfo(a);
    g_assert_cmpuint(ci.bytes, ==, 0);
    g_assert_cmpuint(ci.eph_pages + ci.pers_pages + ci.objects, ==, 0);
    g_assert_cmpuint(ci.dead_pages, ==, 0);
    g_assert_cmpuint(ci.pools, ==, 0);
    g_assert_cmpuint(ci.epoch, ==, ea + 1);
    g_assert_cmpuint(sinfo(s).used, ==, cinfo(b).bytes);
    g_assert_cmpuint(sinfo(s).used, ==, page_bytes(90, 1));
    check_store(s);

    /* the client lives on after a reset */
    ae = new_pool(a, false);
    g_assert_cmpint(put_id(a, ae, 0, 0, 700), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(get_id(a, ae, 0, 0), ==, 700);
    g_assert_cmpint(put_id(a, ae, 0, 0, 701), ==, VIRTIO_TMEM_OK);

    /* freeing a client returns its bytes, pending flushes included */
    g_assert_cmpint(tmem_client_pool_flush(b, bp, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(b, bp, 6, 0, 800), ==, VIRTIO_TMEM_OK);
    used = sinfo(s).used;
    bytes = cinfo(b).bytes;
    g_assert_cmpuint(bytes, ==, page_bytes(91, 2));
    tmem_client_free(b);
    g_assert_cmpuint(sinfo(s).used, ==, used - bytes);
    g_assert_cmpuint(sinfo(s).clients, ==, 1);
    g_assert_cmpint(get_id(a, ae, 0, 0), ==, 701);
    tmem_client_free(NULL);
    check_store(s);
    /* the store frees its remaining client */
    tmem_store_free(s);
    tmem_store_free(NULL);
}

/* ---- deferred flushes ---------------------------------------------------- */

static void test_deferred_flush(void)
{
    TmemStore *s = tmem_store_new(256 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0);
    uint32_t he = new_pool(c, false), hp = new_pool(c, true), found;
    uint64_t used;

    for (unsigned i = 0; i < 100; i++) {
        g_assert_cmpint(put_id(c, he, 1, i, 100 + i), ==, VIRTIO_TMEM_OK);
    }
    for (unsigned i = 0; i < TMEM_FLUSH_INLINE; i++) {
        g_assert_cmpint(put_id(c, hp, 2, i, 300 + i), ==, VIRTIO_TMEM_OK);
    }
    used = sinfo(s).used;

    /* a big object leaves lookup at once, its pages are freed later */
    g_assert_cmpint(flush_object(c, he, 1, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 100);
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 100);
    g_assert_cmpuint(sinfo(s).used, ==, used);
    g_assert_cmpint(flush_object(c, he, 1, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 0);
    for (unsigned i = 0; i < 100; i += 9) {
        g_assert_cmpint(get_id(c, he, 1, i), ==, 0);
        g_assert_cmpint(flush_page(c, he, 1, i, &found), ==, 0);
        g_assert_cmpuint(found, ==, 0);
    }
    g_assert_cmpint(put_id(c, he, 1, 5, 999), ==, VIRTIO_TMEM_OK);

    /* a small one is freed inline */
    g_assert_cmpint(flush_object(c, hp, 2, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, TMEM_FLUSH_INLINE);
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 100);
    g_assert_cmpuint(cinfo(c).pers_pages, ==, 0);
    g_assert_cmpint(get_id(c, hp, 2, 0), ==, 0);
    check_store(s);

    g_assert_true(tmem_store_reap(s, 10));
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 90);
    g_assert_true(tmem_store_reap(s, 0));
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 90);
    g_assert_cmpint(get_id(c, he, 1, 20), ==, 0);
    g_assert_false(tmem_store_reap(s, UINT_MAX));
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 0);
    g_assert_cmpuint(sinfo(s).used, ==, page_bytes(1, 1));
    check_store(s);
    g_assert_cmpint(get_id(c, he, 1, 5), ==, 999);

    /* a pool flush is deferred whatever its size; the pool stays usable */
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpint(put_id(c, hp, i, 0, 400 + i), ==, VIRTIO_TMEM_OK);
    }
    g_assert_cmpint(tmem_client_pool_flush(c, hp, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(found, ==, 3);
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpint(get_id(c, hp, i, 0), ==, 0);
    }
    g_assert_cmpint(put_id(c, hp, 1, 0, 500), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(get_id(c, hp, 1, 0), ==, 500);
    g_assert_false(tmem_store_reap(s, UINT_MAX));
    g_assert_cmpint(get_id(c, hp, 1, 0), ==, 500);
    check_store(s);
    tmem_store_free(s);
}

/* Room is made from flushed content before any live page is evicted. */
static void test_reap_before_evict(void)
{
    uint64_t size = 128 * PS;
    unsigned n = (size - tmem_object_cost()) / tmem_page_cost();
    TmemStore *s = tmem_store_new(size);
    TmemClient *a = tmem_client_new(s, 1, 0);
    TmemClient *b = tmem_client_new(s, 1, 0);
    uint32_t ha = new_pool(a, false), hb = new_pool(b, false), found;

    g_assert_cmpint(put_id(b, hb, 0, 0, 7), ==, VIRTIO_TMEM_OK);
    for (unsigned i = 0; i < n - 1; i++) {
        g_assert_cmpint(put_id(a, ha, 1, i, 100 + i), ==, VIRTIO_TMEM_OK);
    }
    g_assert_cmpint(flush_object(a, ha, 1, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(cinfo(a).dead_pages, ==, n - 1);
    /* b's puts reclaim a's flushed pages, not b's own live page */
    for (unsigned i = 0; i < 50; i++) {
        g_assert_cmpint(put_id(b, hb, 0, i + 1, 200 + i), ==, 0);
        check_store(s);
    }
    g_assert_cmpuint(sinfo(s).evictions, ==, 0);
    g_assert_cmpint(get_id(b, hb, 0, 0), ==, 7);
    tmem_store_free(s);
}

/* ---- migration ---------------------------------------------------------- */

typedef struct PoolRec {
    unsigned slot;
    uint16_t gen;
    bool persistent;
} PoolRec;

typedef struct PageRec {
    unsigned slot;
    TmemOid oid;
    uint32_t index;
    uint64_t data[PWORDS];
} PageRec;

static void record_page(void *opaque, unsigned slot, const TmemOid *oid,
                        uint32_t index, const void *data)
{
    PageRec *r = g_new(PageRec, 1);

    r->slot = slot;
    r->oid = *oid;
    r->index = index;
    memcpy(r->data, data, PS);
    g_ptr_array_add(opaque, r);
}

static char *page_key(unsigned slot, uint64_t oid, uint32_t index)
{
    return g_strdup_printf("%u/%" PRIu64 "/%u", slot, oid, index);
}

/* Key of a recorded page; the oid is mapped back through oid_of(). */
static char *rec_key(const PageRec *r)
{
    uint64_t k = r->oid.v[0] | (r->oid.v[1] << 1) | (r->oid.v[2] << 2);
    TmemOid o = oid_of(k);

    g_assert_true(!memcmp(&o, &r->oid, sizeof(o)));
    return page_key(r->slot, k, r->index);
}

static void test_migration(void)
{
    TmemStore *s = tmem_store_new(1024 * PS), *d = tmem_store_new(512 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0), *dc = tmem_client_new(d, 1, 0);
    static const PoolRec want[] = {
        { 0, 0, false }, { 1, 0, true }, { 2, 1, true }, { 3, 0, false },
        { 4, 0, true }, { 5, 0, true },
    };
    g_autoptr(GArray) pools = g_array_new(false, false, sizeof(PoolRec));
    g_autoptr(GPtrArray) pages = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) expect = g_hash_table_new_full(g_str_hash,
                                                         g_str_equal,
                                                         g_free, NULL);
    uint32_t h[6], found;
    uint64_t id = 1;

    for (unsigned i = 0; i < 6; i++) {
        h[i] = new_pool(c, i != 0 && i != 3);
    }
    g_assert_cmpint(tmem_client_pool_destroy(c, h[2], &found), ==, 0);
    h[2] = new_pool(c, true);
    g_assert_cmpuint(h[2], ==, H(2, 1));

    for (unsigned p = 0; p < 6; p++) {
        for (unsigned k = 0; k < 12; k++) {
            uint64_t oid = k % 5, index = k * 3 + p;

            g_assert_cmpint(put_id(c, h[p], oid, index, id), ==, 0);
            if (want[p].persistent && p != 5) {
                g_hash_table_insert(expect, page_key(p, oid, index),
                                    GUINT_TO_POINTER(id));
            }
            id++;
        }
    }
    /* pending flushes must not travel: a big object and a whole pool */
    for (unsigned i = 0; i < 80; i++) {
        g_assert_cmpint(put_id(c, h[4], 9, i, 5000 + i), ==, 0);
    }
    g_assert_cmpint(flush_object(c, h[4], 9, &found), ==, 0);
    g_assert_cmpuint(found, ==, 80);
    g_assert_cmpint(tmem_client_pool_flush(c, h[5], &found), ==, 0);
    g_assert_cmpuint(found, ==, 12);
    g_assert_cmpint(put_id(c, h[5], 1, 1, 6000), ==, 0);
    g_hash_table_insert(expect, page_key(5, 1, 1), GUINT_TO_POINTER(6000));
    g_assert_cmpuint(cinfo(c).dead_pages, ==, 92);

    /* the pool slots as the device sends them */
    for (unsigned slot = 0; slot < TMEM_MAX_POOLS; slot++) {
        int kind = tmem_client_slot_kind(c, slot);
        PoolRec r = { slot, tmem_client_slot_gen(c, slot),
                      kind == TMEM_SLOT_PERSISTENT };

        if (kind != TMEM_SLOT_FREE) {
            g_array_append_val(pools, r);
        }
    }
    g_assert_cmpuint(pools->len, ==, ARRAY_SIZE(want));
    for (unsigned i = 0; i < pools->len; i++) {
        PoolRec *r = &g_array_index(pools, PoolRec, i);

        g_assert_cmpuint(r->slot, ==, want[i].slot);
        g_assert_cmpuint(r->gen, ==, want[i].gen);
        g_assert_cmpint(r->persistent, ==, want[i].persistent);
    }

    tmem_client_foreach_persistent(c, record_page, pages);
    g_assert_cmpuint(pages->len, ==, g_hash_table_size(expect));
    for (unsigned i = 0; i < pages->len; i++) {
        PageRec *r = g_ptr_array_index(pages, i);
        g_autofree char *key = rec_key(r);
        gpointer val;

        /* each expected page exactly once, with its data */
        g_assert_true(g_hash_table_lookup_extended(expect, key, NULL, &val));
        g_assert_cmpuint(r->data[0], ==, GPOINTER_TO_UINT(val));
        g_assert_true(page_intact(r->data));
        g_hash_table_insert(expect, g_strdup(key), GUINT_TO_POINTER(0));
    }
    /* the count written ahead of the pages must match what follows */
    g_assert_cmpuint(tmem_client_count_persistent(c), ==, pages->len);

    /* restore into a second store, as the device's migration does */
    for (unsigned i = 0; i < pools->len; i++) {
        PoolRec *r = &g_array_index(pools, PoolRec, i);

        tmem_client_set_slot(dc, r->slot, r->persistent ? TMEM_SLOT_PERSISTENT
                                                        : TMEM_SLOT_EPHEMERAL,
                             r->gen);
    }
    for (unsigned i = 0; i < pages->len; i++) {
        PageRec *r = g_ptr_array_index(pages, i);
        uint32_t handle = H(r->slot, want[r->slot].gen);

        g_assert_cmpint(tmem_restore_page(dc, handle, &r->oid, r->index,
                                          r->data), ==, VIRTIO_TMEM_OK);
    }
    g_assert_cmpuint(tmem_client_count_persistent(dc), ==, pages->len);
    g_assert_cmpuint(cinfo(dc).pools, ==, ARRAY_SIZE(want));
    check_store(d);

    /* same answers for every persistent key, and the same stale handle */
    for (unsigned p = 0; p < 6; p++) {
        if (!want[p].persistent) {
            continue;
        }
        for (uint64_t oid = 0; oid < 10; oid++) {
            for (uint32_t index = 0; index < 80; index++) {
                g_assert_cmpint(get_id(dc, h[p], oid, index), ==,
                                get_id(c, h[p], oid, index));
            }
        }
    }
    g_assert_cmpint(get_id(dc, H(2, 0), 0, 2), ==, -VIRTIO_TMEM_STALE);
    g_assert_cmpint(get_id(dc, H(6, 0), 0, 2), ==, -VIRTIO_TMEM_NOPOOL);
    g_assert_cmpint(get_id(dc, h[0], 0, 0), ==, 0);

    /* once the flushes are reaped, the count agrees again */
    g_assert_false(tmem_store_reap(s, UINT_MAX));
    g_assert_cmpuint(tmem_client_count_persistent(c), ==, pages->len);
    tmem_store_free(s);
    tmem_store_free(d);
}

/*
 * The device's save/load path: slot kinds and generations (free slots
 * too), then the persistent pages, then the epoch.
 */
static void copy_page(void *opaque, unsigned slot, const TmemOid *oid,
                      uint32_t index, const void *data)
{
    TmemClient *dst = opaque;

    g_assert_cmpint(tmem_client_slot_kind(dst, slot), ==,
                    TMEM_SLOT_PERSISTENT);
    g_assert_cmpint(tmem_put(dst, H(slot, tmem_client_slot_gen(dst, slot)),
                             oid, index, data), ==, VIRTIO_TMEM_OK);
}

static void test_migration_slots(void)
{
    TmemStore *s = tmem_store_new(256 * PS), *d = tmem_store_new(256 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0), *dc = tmem_client_new(d, 1, 0);
    static const int kind[] = {
        TMEM_SLOT_EPHEMERAL, TMEM_SLOT_PERSISTENT, TMEM_SLOT_FREE,
        TMEM_SLOT_PERSISTENT,
    };
    static const uint16_t gen[] = { 0, 0, 2, 1 };
    uint32_t h[4], found, hs, hd;

    for (unsigned i = 0; i < 4; i++) {
        h[i] = new_pool(c, i == 1 || i == 2);
    }
    g_assert_cmpint(tmem_client_pool_destroy(c, h[3], &found), ==, 0);
    h[3] = new_pool(c, true);
    g_assert_cmpuint(h[3], ==, H(3, 1));
    /* slot 2 ends up free with generation 2 */
    g_assert_cmpint(tmem_client_pool_destroy(c, H(2, 0), &found), ==, 0);
    g_assert_cmpuint(new_pool(c, true), ==, H(2, 1));
    g_assert_cmpint(tmem_client_pool_destroy(c, H(2, 1), &found), ==, 0);
    for (unsigned k = 0; k < 40; k++) {
        g_assert_cmpint(put_id(c, h[0], k % 3, k, 100 + k), ==, 0);
        g_assert_cmpint(put_id(c, h[1], k % 3, k, 200 + k), ==, 0);
        g_assert_cmpint(put_id(c, h[3], k % 4, k, 300 + k), ==, 0);
    }
    tmem_client_drop_ephemeral(c);
    g_assert_cmpint(put_id(c, h[0], 0, 0, 400), ==, 0);

    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        g_assert_cmpint(tmem_client_slot_kind(c, i), ==,
                        i < 4 ? kind[i] : TMEM_SLOT_FREE);
        g_assert_cmpuint(tmem_client_slot_gen(c, i), ==, i < 4 ? gen[i] : 0);
    }

    /* the destination had content of its own before the load */
    hd = new_pool(dc, true);
    g_assert_cmpint(put_id(dc, hd, 0, 0, 999), ==, 0);
    tmem_client_reset(dc);
    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        tmem_client_set_slot(dc, i, tmem_client_slot_kind(c, i),
                             tmem_client_slot_gen(c, i));
    }
    g_assert_cmpuint(cinfo(dc).pools, ==, 3);
    tmem_client_foreach_persistent(c, copy_page, dc);
    tmem_client_set_epoch(dc, tmem_client_epoch(c) + 1);
    g_assert_cmpuint(tmem_client_epoch(dc), ==, tmem_client_epoch(c) + 1);
    g_assert_cmpuint(cinfo(dc).epoch, ==, tmem_client_epoch(c) + 1);
    g_assert_cmpuint(tmem_client_count_persistent(dc), ==, 80);
    check_store(d);

    for (unsigned p = 1; p < 4; p += 2) {
        for (uint64_t oid = 0; oid < 4; oid++) {
            for (uint32_t index = 0; index < 40; index++) {
                g_assert_cmpint(get_id(dc, h[p], oid, index), ==,
                                get_id(c, h[p], oid, index));
            }
        }
    }
    /* ephemeral pages stay behind; stale and free handles agree */
    g_assert_cmpint(get_id(dc, h[0], 0, 0), ==, 0);
    g_assert_cmpint(get_id(dc, H(3, 0), 0, 0), ==, -VIRTIO_TMEM_STALE);
    g_assert_cmpint(get_id(dc, H(2, 1), 0, 0), ==, -VIRTIO_TMEM_NOPOOL);
    /* the next pool gets the same handle on both sides */
    hs = new_pool(c, false);
    hd = new_pool(dc, false);
    g_assert_cmpuint(hs, ==, H(2, 2));
    g_assert_cmpuint(hd, ==, hs);
    tmem_store_free(s);
    tmem_store_free(d);
}

/* ---- counters ----------------------------------------------------------- */

static void test_counters(void)
{
    TmemStore *s = tmem_store_new(64 * PS);
    TmemClient *c = tmem_client_new(s, 1, page_bytes(3, 1));
    uint32_t he = new_pool(c, false), hp = new_pool(c, true), found;
    TmemClientStats ci;

    g_assert_cmpint(put_id(c, hp, 0, 0, 1), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 0, 1, 2), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 0, 2, 3), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 0, 2, 4), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(put_id(c, hp, 0, 3, 5), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(c, he, 0, 3, 5), ==, VIRTIO_TMEM_NOSPACE);
    g_assert_cmpint(put_id(c, H(9, 0), 0, 3, 5), ==, VIRTIO_TMEM_NOPOOL);
    tmem_client_set_frozen(c, true);
    g_assert_cmpint(put_id(c, hp, 0, 1, 6), ==, VIRTIO_TMEM_FROZEN);
    tmem_client_set_frozen(c, false);

    g_assert_cmpint(get_id(c, hp, 0, 0), ==, 1);
    g_assert_cmpint(get_id(c, hp, 0, 2), ==, 4);
    g_assert_cmpint(get_id(c, hp, 0, 1), ==, 0);
    g_assert_cmpint(get_id(c, he, 0, 0), ==, 0);
    g_assert_cmpint(get_id(c, H(1, 1), 0, 0), ==, -VIRTIO_TMEM_STALE);

    g_assert_cmpint(flush_page(c, hp, 0, 0, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(flush_page(c, hp, 0, 0, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(flush_object(c, hp, 0, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(tmem_client_pool_flush(c, he, &found), ==, VIRTIO_TMEM_OK);
    g_assert_cmpint(tmem_client_pool_destroy(c, he, &found), ==,
                    VIRTIO_TMEM_OK);
    tmem_client_count_invalid(c);

    ci = cinfo(c);
    g_assert_cmpuint(ci.c.puts, ==, 8);
    g_assert_cmpuint(ci.c.puts_ok, ==, 4);
    g_assert_cmpuint(ci.c.puts_replaced, ==, 1);
    g_assert_cmpuint(ci.c.puts_nospace, ==, 2);
    g_assert_cmpuint(ci.c.puts_frozen, ==, 1);
    g_assert_cmpuint(ci.c.gets, ==, 5);
    g_assert_cmpuint(ci.c.hits, ==, 2);
    g_assert_cmpuint(ci.c.misses, ==, 3);
    g_assert_cmpuint(ci.c.flushes, ==, 5);
    g_assert_cmpuint(ci.c.flushed_pages, ==, 2);
    g_assert_cmpuint(ci.c.evictions, ==, 0);
    g_assert_cmpuint(ci.c.invalid, ==, 1);
    g_assert_cmpuint(ci.weight, ==, 1);
    tmem_client_set_weight(c, 1000);
    g_assert_cmpuint(cinfo(c).weight, ==, TMEM_WEIGHT_MAX);
    tmem_store_free(s);
}

static void test_store_new_limits(void)
{
    TmemStore *s;

    errno = 0;
    g_assert_null(tmem_store_new(PS - 1));
    g_assert_cmpint(errno, ==, EINVAL);
    /* a page's metadata does not fit in one page of budget */
    s = tmem_store_new(PS);
    g_assert_nonnull(s);
    {
        TmemClient *c = tmem_client_new(s, 1, 0);
        uint32_t h = new_pool(c, false);

        g_assert_cmpint(put_id(c, h, 0, 0, 1), ==, VIRTIO_TMEM_NOSPACE);
    }
    tmem_store_trim(s);
    check_store(s);
    tmem_store_free(s);
}

/* ---- reference-model property test --------------------------------------- */

enum {
    P_CLIENTS = 3,
    P_POOLS = 3,
    P_OIDS = 10,            /* 0-7 small objects, 8-9 big ones */
    P_SMALL_OIDS = 8,
    P_SMALL_IDX = 8,
    P_BIG_IDX = 96,         /* more than TMEM_FLUSH_INLINE */
    P_SEEDS = 20,
    P_OPS = 5000,
    P_LOG = 24,
};

typedef struct MPool {
    uint32_t handle;
    bool persistent;
    unsigned present;                       /* keys the model may have */
    uint64_t content[P_OIDS][P_BIG_IDX];    /* content id, 0: absent */
    uint64_t stamp[P_OIDS][P_BIG_IDX];      /* client evictions at put */
} MPool;

typedef struct PClient {
    TmemClient *c;
    uint64_t cap;
    MPool pool[P_POOLS];
    uint64_t thaw_at;                       /* 0: not frozen */
    uint32_t epoch;
    TmemCounters n;                         /* what the test asked for */
} PClient;

typedef struct Prop {
    TmemStore *s;
    GRand *rand;
    uint32_t seed;
    uint64_t op;
    uint64_t next_id;
    bool failed;
    PClient cl[P_CLIENTS];
    char log[P_LOG][160];
    unsigned nlog;
    /* coverage, summed over seeds */
    uint64_t *deferred, *evictions, *nospace, *eph_hits, *pers_hits,
             *certain_checks;
} Prop;

static void G_GNUC_PRINTF(2, 3) plog(Prop *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->log[r->nlog++ % P_LOG], sizeof(r->log[0]), fmt, ap);
    va_end(ap);
}

static void G_GNUC_PRINTF(3, 4) prop_fail(Prop *r, const char *what,
                                          const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (r->failed) {
        return;
    }
    r->failed = true;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_test_message("FAIL seed 0x%x op %" PRIu64 ": %s: %s", r->seed, r->op,
                   what, msg);
    g_test_message("last operations (c=client p=pool o=oid i=index):");
    for (unsigned i = r->nlog > P_LOG ? r->nlog - P_LOG : 0; i < r->nlog;
         i++) {
        g_test_message("  %s", r->log[i % P_LOG]);
    }
    g_test_fail();
}

#define PCHECK(r, cond, ...) \
    do { \
        if (!(cond)) { \
            prop_fail(r, #cond, __VA_ARGS__); \
            return; \
        } \
    } while (0)

static uint64_t client_evictions(PClient *pc)
{
    return cinfo(pc->c).c.evictions;
}

/* The store must have the key: persistent, or no eviction since the put. */
static bool certain(PClient *pc, MPool *p, unsigned o, unsigned i)
{
    return p->content[o][i] &&
           (p->persistent || p->stamp[o][i] == client_evictions(pc));
}

static void model_set(MPool *p, unsigned o, unsigned i, uint64_t id,
                      uint64_t stamp)
{
    p->present += !p->content[o][i];
    p->content[o][i] = id;
    p->stamp[o][i] = stamp;
}

static void model_clear(MPool *p, unsigned o, unsigned i)
{
    p->present -= !!p->content[o][i];
    p->content[o][i] = 0;
}

static void model_clear_pool(MPool *p)
{
    memset(p->content, 0, sizeof(p->content));
    p->present = 0;
}

/* Keys of object o the model may have, and how many it must have. */
static void model_count_obj(PClient *pc, MPool *p, unsigned o,
                            unsigned *maybe, unsigned *sure)
{
    *maybe = *sure = 0;
    for (unsigned i = 0; i < P_BIG_IDX; i++) {
        *maybe += !!p->content[o][i];
        *sure += certain(pc, p, o, i);
    }
}

static unsigned model_pers(PClient *pc)
{
    unsigned n = 0;

    for (unsigned p = 0; p < P_POOLS; p++) {
        n += pc->pool[p].persistent ? pc->pool[p].present : 0;
    }
    return n;
}

static unsigned model_eph(PClient *pc)
{
    unsigned n = 0;

    for (unsigned p = 0; p < P_POOLS; p++) {
        n += pc->pool[p].persistent ? 0 : pc->pool[p].present;
    }
    return n;
}

static void p_put(Prop *r, unsigned ci, unsigned pi, unsigned o, unsigned i)
{
    PClient *pc = &r->cl[ci];
    MPool *p = &pc->pool[pi];
    uint64_t id = ++r->next_id, page[PWORDS];
    TmemOid oid = oid_of(o);
    bool was_sure = certain(pc, p, o, i);
    int ret;

    fill(page, id);
    ret = tmem_put(pc->c, p->handle, &oid, i, page);
    plog(r, "%" PRIu64 ": put c%u p%u%s o%u i%u id %" PRIu64 " -> %d",
         r->op, ci, pi, p->persistent ? "(pers)" : "", o, i, id, ret);
    pc->n.puts++;
    if (pc->thaw_at) {
        pc->n.puts_frozen++;
        PCHECK(r, ret == VIRTIO_TMEM_FROZEN, "frozen put returned %d", ret);
        model_clear(p, o, i);
        return;
    }
    if (ret == VIRTIO_TMEM_OK) {
        pc->n.puts_ok++;
        model_set(p, o, i, id, client_evictions(pc));
        return;
    }
    PCHECK(r, ret == VIRTIO_TMEM_NOSPACE, "put returned %d", ret);
    {
        TmemClientStats info = cinfo(pc->c);
        TmemStoreInfo si = sinfo(r->s);
        uint64_t cap = pc->cap ? pc->cap : si.size;

        pc->n.puts_nospace++;
        (*r->nospace)++;
        /* a duplicate is replaced in place and needs no room */
        PCHECK(r, !was_sure, "NOSPACE for a present key (id %" PRIu64 ")",
               p->content[o][i]);
        /* persistent pages past an uncapped client's fair share */
        if (p->persistent && !pc->cap &&
            (info.pers_pages + 1) * tmem_page_cost() >
            tmem_client_pers_share(pc->c)) {
            model_clear(p, o, i);
            return;
        }
        /* refused only with nothing of its own left to evict or reap */
        PCHECK(r, info.eph_pages == 0 && info.dead_pages == 0,
               "NOSPACE with eph %" PRIu64 " dead %" PRIu64,
               info.eph_pages, info.dead_pages);
        PCHECK(r, info.bytes + page_bytes(1, 1) > cap ||
               si.used + page_bytes(1, 1) > si.size,
               "NOSPACE with room: bytes %" PRIu64 " used %" PRIu64,
               info.bytes, si.used);
        model_clear(p, o, i);
    }
}

static void p_get(Prop *r, unsigned ci, unsigned pi, unsigned o, unsigned i)
{
    PClient *pc = &r->cl[ci];
    MPool *p = &pc->pool[pi];
    uint64_t page[PWORDS];
    TmemOid oid = oid_of(o);
    bool sure = certain(pc, p, o, i);
    uint64_t want = p->content[o][i];
    int ret;

    page[0] = 0;
    ret = tmem_get(pc->c, p->handle, &oid, i, page);
    plog(r, "%" PRIu64 ": get c%u p%u%s o%u i%u -> %d id %" PRIu64
         " (model %" PRIu64 "%s)", r->op, ci, pi,
         p->persistent ? "(pers)" : "", o, i, ret,
         ret == VIRTIO_TMEM_OK ? page[0] : 0, want, sure ? " sure" : "");
    pc->n.gets++;
    *r->certain_checks += sure;
    if (ret == VIRTIO_TMEM_OK) {
        pc->n.hits++;
        PCHECK(r, want, "hit on a key the model does not have: got id %"
               PRIu64, page[0]);
        PCHECK(r, page[0] == want, "got id %" PRIu64 ", last put %" PRIu64,
               page[0], want);
        PCHECK(r, page_intact(page), "page of id %" PRIu64 " corrupted",
               page[0]);
        if (p->persistent) {
            (*r->pers_hits)++;
        } else {
            /* exclusive: the guest has it now */
            (*r->eph_hits)++;
            model_clear(p, o, i);
        }
        return;
    }
    pc->n.misses++;
    PCHECK(r, ret == VIRTIO_TMEM_MISS, "get returned %d", ret);
    PCHECK(r, !sure, "miss, model has id %" PRIu64, want);
    model_clear(p, o, i);
}

static void p_flush_page(Prop *r, unsigned ci, unsigned pi, unsigned o,
                         unsigned i)
{
    PClient *pc = &r->cl[ci];
    MPool *p = &pc->pool[pi];
    TmemOid oid = oid_of(o);
    bool sure = certain(pc, p, o, i);
    uint32_t found = 77;
    int ret;

    ret = tmem_flush_page(pc->c, p->handle, &oid, i, &found);
    plog(r, "%" PRIu64 ": flush_page c%u p%u o%u i%u -> %d found %u",
         r->op, ci, pi, o, i, ret, found);
    pc->n.flushes++;
    PCHECK(r, ret == VIRTIO_TMEM_OK, "flush_page returned %d", ret);
    PCHECK(r, found <= 1 && (!sure || found == 1) &&
           (p->content[o][i] || found == 0),
           "found %u, model %" PRIu64 "%s", found, p->content[o][i],
           sure ? " sure" : "");
    model_clear(p, o, i);
}

/* Flushed keys must miss at once, before the reaper has run. */
static void p_probe_flushed(Prop *r, unsigned ci, unsigned pi, unsigned o)
{
    for (unsigned k = 0; k < 3 && !r->failed; k++) {
        p_get(r, ci, pi, o, g_rand_int_range(r->rand, 0, P_BIG_IDX));
    }
}

static void p_flush_object(Prop *r, unsigned ci, unsigned pi, unsigned o)
{
    PClient *pc = &r->cl[ci];
    MPool *p = &pc->pool[pi];
    TmemOid oid = oid_of(o);
    uint64_t dead = cinfo(pc->c).dead_pages;
    unsigned maybe, sure;
    uint32_t found = 77;
    int ret;

    model_count_obj(pc, p, o, &maybe, &sure);
    ret = tmem_flush_object(pc->c, p->handle, &oid, &found);
    plog(r, "%" PRIu64 ": flush_object c%u p%u%s o%u -> %d found %u "
         "(model %u..%u)", r->op, ci, pi, p->persistent ? "(pers)" : "",
         o, ret, found, sure, maybe);
    pc->n.flushes++;
    PCHECK(r, ret == VIRTIO_TMEM_OK, "flush_object returned %d", ret);
    PCHECK(r, found >= sure && found <= maybe, "found %u, model %u..%u",
           found, sure, maybe);
    PCHECK(r, cinfo(pc->c).dead_pages ==
           dead + (found > TMEM_FLUSH_INLINE ? found : 0),
           "dead pages %" PRIu64 " -> %" PRIu64 " after finding %u", dead,
           cinfo(pc->c).dead_pages, found);
    for (unsigned i = 0; i < P_BIG_IDX; i++) {
        model_clear(p, o, i);
    }
    if (found > TMEM_FLUSH_INLINE) {
        (*r->deferred)++;
        p_probe_flushed(r, ci, pi, o);
    }
}

/* FLUSH_POOL or DESTROY_POOL (then NEW_POOL into the same slot). */
static void p_flush_pool(Prop *r, unsigned ci, unsigned pi, bool destroy)
{
    PClient *pc = &r->cl[ci];
    MPool *p = &pc->pool[pi];
    uint64_t dead = cinfo(pc->c).dead_pages;
    unsigned maybe = 0, sure = 0, m, k;
    uint32_t found = 77, old = p->handle;
    int ret;

    for (unsigned o = 0; o < P_OIDS; o++) {
        model_count_obj(pc, p, o, &m, &k);
        maybe += m;
        sure += k;
    }
    ret = destroy ? tmem_client_pool_destroy(pc->c, p->handle, &found)
                  : tmem_client_pool_flush(pc->c, p->handle, &found);
    plog(r, "%" PRIu64 ": %s c%u p%u%s -> %d found %u (model %u..%u)",
         r->op, destroy ? "destroy_pool" : "flush_pool", ci, pi,
         p->persistent ? "(pers)" : "", ret, found, sure, maybe);
    pc->n.flushes++;
    PCHECK(r, ret == VIRTIO_TMEM_OK, "pool flush returned %d", ret);
    PCHECK(r, found >= sure && found <= maybe, "found %u, model %u..%u",
           found, sure, maybe);
    PCHECK(r, cinfo(pc->c).dead_pages == dead + found,
           "dead pages %" PRIu64 " -> %" PRIu64 " after finding %u", dead,
           cinfo(pc->c).dead_pages, found);
    model_clear_pool(p);
    if (!destroy) {
        if (found) {
            (*r->deferred)++;
        }
        p_probe_flushed(r, ci, pi, g_rand_int_range(r->rand, 0, P_OIDS));
        return;
    }

    {
        uint64_t page[PWORDS] = { 0 };
        TmemOid oid = oid_of(0);
        bool pers = pi == 2 ? g_rand_boolean(r->rand) : p->persistent;
        uint32_t h = 0;

        ret = tmem_get(pc->c, old, &oid, 0, page);
        pc->n.gets++;
        pc->n.misses++;
        PCHECK(r, ret == VIRTIO_TMEM_NOPOOL, "get on destroyed pool: %d",
               ret);
        ret = tmem_client_pool_new(pc->c, pers, &h);
        plog(r, "%" PRIu64 ": new_pool c%u%s -> %d handle 0x%x", r->op, ci,
             pers ? " pers" : "", ret, h);
        PCHECK(r, ret == VIRTIO_TMEM_OK, "new_pool returned %d", ret);
        PCHECK(r, h == H(VIRTIO_TMEM_POOL_SLOT(old),
                         (uint16_t)(VIRTIO_TMEM_POOL_GEN(old) + 1)),
               "new handle 0x%x after 0x%x", h, old);
        ret = tmem_put(pc->c, old, &oid, 0, page);
        pc->n.puts++;
        PCHECK(r, ret == VIRTIO_TMEM_STALE, "put on stale handle: %d", ret);
        ret = tmem_flush_page(pc->c, old, &oid, 0, &found);
        pc->n.flushes++;
        PCHECK(r, ret == VIRTIO_TMEM_STALE, "flush on stale handle: %d", ret);
        p->handle = h;
        p->persistent = pers;
    }
}

static void p_reap(Prop *r)
{
    unsigned budget = g_rand_int_range(r->rand, 0, 40);
    uint64_t dead = 0, after = 0;
    bool more;

    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        dead += cinfo(r->cl[ci].c).dead_pages;
    }
    more = tmem_store_reap(r->s, budget);
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        after += cinfo(r->cl[ci].c).dead_pages;
    }
    plog(r, "%" PRIu64 ": reap %u: dead %" PRIu64 " -> %" PRIu64 " more %d",
         r->op, budget, dead, after, more);
    PCHECK(r, after == dead - MIN(dead, budget), "reaped %" PRIu64
           " of %" PRIu64 " with budget %u", dead - after, dead, budget);
    PCHECK(r, more == (after > 0), "reap says more=%d with %" PRIu64
           " pending", more, after);
}

static void p_drop_client(Prop *r, unsigned ci)
{
    PClient *pc = &r->cl[ci];
    uint64_t used = sinfo(r->s).used, freed;
    TmemClientStats info;

    freed = tmem_client_drop_ephemeral(pc->c);
    plog(r, "%" PRIu64 ": drop_ephemeral c%u -> %" PRIu64, r->op, ci, freed);
    pc->epoch++;
    for (unsigned p = 0; p < P_POOLS; p++) {
        if (!pc->pool[p].persistent) {
            model_clear_pool(&pc->pool[p]);
        }
    }
    info = cinfo(pc->c);
    PCHECK(r, freed == used - sinfo(r->s).used, "freed %" PRIu64
           ", used went %" PRIu64 " -> %" PRIu64, freed, used,
           sinfo(r->s).used);
    PCHECK(r, info.eph_pages == 0 && info.dead_pages == 0,
           "eph %" PRIu64 " dead %" PRIu64 " after drop", info.eph_pages,
           info.dead_pages);
    PCHECK(r, info.pers_pages == model_pers(pc), "pers %" PRIu64
           " model %u", info.pers_pages, model_pers(pc));
}

static void p_drop_store(Prop *r)
{
    uint64_t used = sinfo(r->s).used, freed;

    freed = tmem_store_drop_ephemeral(r->s);
    plog(r, "%" PRIu64 ": store drop_ephemeral -> %" PRIu64, r->op, freed);
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        PClient *pc = &r->cl[ci];

        pc->epoch++;
        for (unsigned p = 0; p < P_POOLS; p++) {
            if (!pc->pool[p].persistent) {
                model_clear_pool(&pc->pool[p]);
            }
        }
        PCHECK(r, cinfo(pc->c).eph_pages == 0, "c%u keeps %" PRIu64
               " ephemeral pages", ci, cinfo(pc->c).eph_pages);
    }
    PCHECK(r, freed == used - sinfo(r->s).used, "freed %" PRIu64
           ", used went %" PRIu64 " -> %" PRIu64, freed, used,
           sinfo(r->s).used);
}

static void p_reset(Prop *r, unsigned ci)
{
    PClient *pc = &r->cl[ci];
    TmemClientStats info;

    tmem_client_reset(pc->c);
    plog(r, "%" PRIu64 ": reset c%u", r->op, ci);
    pc->epoch++;
    info = cinfo(pc->c);
    PCHECK(r, info.bytes == 0 && info.pools == 0 && info.objects == 0 &&
           info.eph_pages + info.pers_pages + info.dead_pages == 0,
           "after reset: bytes %" PRIu64 " pools %u objects %" PRIu64,
           info.bytes, info.pools, info.objects);
    for (unsigned p = 0; p < P_POOLS; p++) {
        MPool *mp = &pc->pool[p];
        uint32_t h = 0;

        PCHECK(r, tmem_client_pool_new(pc->c, mp->persistent, &h) ==
                  VIRTIO_TMEM_OK,
               "new_pool after reset");
        PCHECK(r, h == H(VIRTIO_TMEM_POOL_SLOT(mp->handle),
                         (uint16_t)(VIRTIO_TMEM_POOL_GEN(mp->handle) + 1)),
               "handle 0x%x after reset, was 0x%x", h, mp->handle);
        mp->handle = h;
        model_clear_pool(mp);
    }
}

static void p_check(Prop *r)
{
    TmemStoreInfo si = sinfo(r->s);
    uint64_t bytes = 0, pages = 0, objects = 0, evictions = 0;

    PCHECK(r, si.used <= si.size, "used %" PRIu64 " > size %" PRIu64,
           si.used, si.size);
    PCHECK(r, si.used == page_bytes(si.pages, si.objects),
           "used %" PRIu64 " != %" PRIu64 " pages + %" PRIu64 " objects",
           si.used, si.pages, si.objects);
    PCHECK(r, si.clients == P_CLIENTS, "clients %u", si.clients);
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        PClient *pc = &r->cl[ci];
        TmemClientStats i = cinfo(pc->c);
        TmemCounters *n = &pc->n;

        bytes += i.bytes;
        pages += i.eph_pages + i.pers_pages + i.dead_pages;
        objects += i.objects;
        evictions += i.c.evictions;
        PCHECK(r, !pc->cap || i.bytes <= pc->cap, "c%u bytes %" PRIu64
               " > cap %" PRIu64, ci, i.bytes, pc->cap);
        PCHECK(r, i.pools == P_POOLS, "c%u pools %u", ci, i.pools);
        PCHECK(r, i.epoch == pc->epoch, "c%u epoch %u, want %u", ci,
               i.epoch, pc->epoch);
        PCHECK(r, i.frozen == !!pc->thaw_at, "c%u frozen %d", ci, i.frozen);
        /* live pages only: flushed pages awaiting the reaper are apart */
        PCHECK(r, i.pers_pages == model_pers(pc),
               "c%u pers %" PRIu64 " dead %" PRIu64 " model %u", ci,
               i.pers_pages, i.dead_pages, model_pers(pc));
        PCHECK(r, i.eph_pages <= model_eph(pc),
               "c%u eph %" PRIu64 " dead %" PRIu64 " model %u", ci,
               i.eph_pages, i.dead_pages, model_eph(pc));
        PCHECK(r, i.c.puts == n->puts && i.c.puts_ok == n->puts_ok &&
               i.c.puts_nospace == n->puts_nospace &&
               i.c.puts_frozen == n->puts_frozen,
               "c%u puts %" PRIu64 "/%" PRIu64 " ok %" PRIu64 "/%" PRIu64
               " nospace %" PRIu64 "/%" PRIu64 " frozen %" PRIu64 "/%"
               PRIu64, ci, i.c.puts, n->puts, i.c.puts_ok, n->puts_ok,
               i.c.puts_nospace, n->puts_nospace, i.c.puts_frozen,
               n->puts_frozen);
        PCHECK(r, i.c.gets == n->gets && i.c.hits == n->hits &&
               i.c.misses == n->misses && i.c.flushes == n->flushes,
               "c%u gets %" PRIu64 "/%" PRIu64 " hits %" PRIu64 "/%" PRIu64
               " misses %" PRIu64 "/%" PRIu64 " flushes %" PRIu64 "/%"
               PRIu64, ci, i.c.gets, n->gets, i.c.hits, n->hits,
               i.c.misses, n->misses, i.c.flushes, n->flushes);
    }
    PCHECK(r, bytes == si.used, "clients' bytes %" PRIu64 ", used %" PRIu64,
           bytes, si.used);
    PCHECK(r, pages == si.pages && objects == si.objects,
           "clients' pages %" PRIu64 " objects %" PRIu64 ", store %" PRIu64
           " %" PRIu64, pages, objects, si.pages, si.objects);
    PCHECK(r, evictions == si.evictions, "clients' evictions %" PRIu64
           ", store %" PRIu64, evictions, si.evictions);
}

typedef struct PersWalk {
    PClient *pc;
    unsigned n;
    char *bad;                              /* first mismatch */
} PersWalk;

static void p_walk_page(void *opaque, unsigned slot, const TmemOid *oid,
                        uint32_t index, const void *data)
{
    PersWalk *w = opaque;
    const uint64_t *page = data;
    uint64_t k = oid->v[0] | (oid->v[1] << 1) | (oid->v[2] << 2);
    TmemOid o = oid_of(k);
    MPool *p = NULL;

    w->n++;
    for (unsigned i = 0; i < P_POOLS; i++) {
        if (VIRTIO_TMEM_POOL_SLOT(w->pc->pool[i].handle) == slot) {
            p = &w->pc->pool[i];
        }
    }
    if (w->bad) {
        return;
    }
    if (!p || !p->persistent || memcmp(&o, oid, sizeof(o)) ||
        k >= P_OIDS || index >= P_BIG_IDX ||
        p->content[k][index] != page[0] || !page_intact(page)) {
        w->bad = g_strdup_printf("slot %u%s o%" PRIu64 " i%u id %" PRIu64
                                 " (model %" PRIu64 ")", slot,
                                 p && p->persistent ? "" : " (not persistent)",
                                 k, index, page[0], p && k < P_OIDS &&
                                 index < P_BIG_IDX ?
                                 p->content[k][index] : 0);
    }
}

/* Migration sees exactly the persistent pages of the model. */
static void p_check_persistent(Prop *r)
{
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        PersWalk w = { .pc = &r->cl[ci] };
        g_autofree char *bad = NULL;

        tmem_client_foreach_persistent(w.pc->c, p_walk_page, &w);
        bad = w.bad;
        PCHECK(r, !bad, "c%u foreach_persistent gave %s", ci, bad);
        PCHECK(r, w.n == model_pers(w.pc), "c%u foreach_persistent gave %u"
               " pages, model %u", ci, w.n, model_pers(w.pc));
    }
}

static void p_pick(Prop *r, unsigned *ci, unsigned *pi, unsigned *o,
                   unsigned *i)
{
    *ci = g_rand_int_range(r->rand, 0, P_CLIENTS);
    *pi = g_rand_int_range(r->rand, 0, P_POOLS);
    *o = g_rand_int_range(r->rand, 0, 100) < 85
         ? g_rand_int_range(r->rand, 0, P_SMALL_OIDS)
         : g_rand_int_range(r->rand, P_SMALL_OIDS, P_OIDS);
    *i = g_rand_int_range(r->rand, 0,
                          *o < P_SMALL_OIDS ? P_SMALL_IDX : P_BIG_IDX);
}

/* Mostly a key the model has, so that hits are checked often. */
static void p_pick_present(Prop *r, unsigned *ci, unsigned *pi, unsigned *o,
                           unsigned *i)
{
    for (unsigned tries = 0; tries < 16; tries++) {
        p_pick(r, ci, pi, o, i);
        if (r->cl[*ci].pool[*pi].content[*o][*i]) {
            return;
        }
    }
}

static void p_step(Prop *r)
{
    unsigned ci, pi, o, i, x = g_rand_int_range(r->rand, 0, 1000);
    PClient *pc;

    if (x >= 420 && x < 780 && g_rand_int_range(r->rand, 0, 3)) {
        p_pick_present(r, &ci, &pi, &o, &i);
    } else {
        p_pick(r, &ci, &pi, &o, &i);
    }
    pc = &r->cl[ci];
    if (x < 420) {
        p_put(r, ci, pi, o, i);
        /* put-put-get: only the newer copy may come back */
        if (g_rand_int_range(r->rand, 0, 5) == 0 && !r->failed) {
            p_put(r, ci, pi, o, i);
        }
    } else if (x < 700) {
        p_get(r, ci, pi, o, i);
        /* get-get: an exclusive get leaves nothing behind */
        if (g_rand_int_range(r->rand, 0, 3) == 0 && !r->failed) {
            p_get(r, ci, pi, o, i);
        }
    } else if (x < 780) {
        p_flush_page(r, ci, pi, o, i);
    } else if (x < 830) {
        p_flush_object(r, ci, pi, o);
    } else if (x < 838) {
        p_flush_pool(r, ci, pi, false);
    } else if (x < 846) {
        p_flush_pool(r, ci, pi, true);
    } else if (x < 900) {
        p_reap(r);
    } else if (x < 912) {
        /* a big object, so flushing it is deferred */
        unsigned n = g_rand_int_range(r->rand, TMEM_FLUSH_INLINE + 1,
                                      P_BIG_IDX + 1);
        o = g_rand_int_range(r->rand, P_SMALL_OIDS, P_OIDS);
        if (pc->pool[pi].persistent && !pc->cap) {
            pi = 0;     /* uncapped persistent bulk would fill the store */
        }
        for (i = 0; i < n && !r->failed; i++) {
            p_put(r, ci, pi, o, i);
        }
    } else if (x < 918) {
        if (!pc->thaw_at) {
            pc->thaw_at = r->op + g_rand_int_range(r->rand, 5, 60);
            tmem_client_set_frozen(pc->c, true);
            plog(r, "%" PRIu64 ": freeze c%u until %" PRIu64, r->op, ci,
                 pc->thaw_at);
        }
    } else if (x < 921) {
        p_drop_client(r, ci);
    } else if (x < 922) {
        p_drop_store(r);
    } else if (x < 923) {
        p_reset(r, ci);
    } else if (x < 930) {
        tmem_store_trim(r->s);
        plog(r, "%" PRIu64 ": trim", r->op);
    } else {
        p_get(r, ci, pi, o, i);
    }
}

/* End of a run: every key the model is sure of must read back. */
static void p_sweep(Prop *r)
{
    for (unsigned ci = 0; ci < P_CLIENTS && !r->failed; ci++) {
        PClient *pc = &r->cl[ci];
        TmemClientStats i;

        if (pc->thaw_at) {
            tmem_client_set_frozen(pc->c, false);
            pc->thaw_at = 0;
        }
        i = cinfo(pc->c);
        PCHECK(r, i.dead_pages == 0 && i.pers_pages == model_pers(pc),
               "c%u after reaping: pers %" PRIu64 " dead %" PRIu64
               " model %u", ci, i.pers_pages, i.dead_pages, model_pers(pc));
        for (unsigned p = 0; p < P_POOLS; p++) {
            MPool *mp = &pc->pool[p];

            for (unsigned o = 0; o < P_OIDS; o++) {
                for (unsigned k = 0; k < P_BIG_IDX && !r->failed; k++) {
                    if (mp->content[o][k] && certain(pc, mp, o, k)) {
                        p_get(r, ci, p, o, k);
                    }
                }
            }
        }
    }
}

static void prop_run(Prop *r, unsigned store_pages)
{
    static const unsigned weights[] = { 0, 1, 1, 2, 3 };
    static const unsigned caps[] = { 0, 0, 48, 96 };

    r->s = tmem_store_new((uint64_t)store_pages * PS);
    g_assert_nonnull(r->s);
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        PClient *pc = &r->cl[ci];
        unsigned w = weights[g_rand_int_range(r->rand, 0,
                                              ARRAY_SIZE(weights))];
        unsigned cap = caps[g_rand_int_range(r->rand, 0, ARRAY_SIZE(caps))];

        pc->cap = cap ? page_bytes(cap, cap / 4) : 0;
        pc->c = tmem_client_new(r->s, w, pc->cap);
        plog(r, "client %u: weight %u cap %" PRIu64, ci, w, pc->cap);
        for (unsigned p = 0; p < P_POOLS; p++) {
            MPool *mp = &pc->pool[p];

            mp->persistent = p == 1 || (p == 2 && g_rand_boolean(r->rand));
            mp->handle = new_pool(pc->c, mp->persistent);
            g_assert_cmpuint(mp->handle, ==, H(p, 0));
        }
    }

    for (r->op = 0; r->op < P_OPS && !r->failed; r->op++) {
        for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
            PClient *pc = &r->cl[ci];

            if (pc->thaw_at && r->op >= pc->thaw_at) {
                pc->thaw_at = 0;
                tmem_client_set_frozen(pc->c, false);
                plog(r, "%" PRIu64 ": thaw c%u", r->op, ci);
            }
        }
        p_step(r);
        if (!r->failed) {
            p_check(r);
        }
        if (!r->failed && r->op % 64 == 0) {
            p_check_persistent(r);
        }
    }
    *r->evictions += sinfo(r->s).evictions;

    if (!r->failed) {
        bool more = tmem_store_reap(r->s, UINT_MAX);

        PCHECK(r, !more, "reap with an unlimited budget left work");
        p_check_persistent(r);
        p_sweep(r);
    }
    if (!r->failed) {
        p_check(r);
    }
    {
        uint64_t puts = 0, nospace = 0, hits = 0, gets = 0;

        for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
            TmemCounters *n = &r->cl[ci].n;

            puts += n->puts;
            nospace += n->puts_nospace;
            gets += n->gets;
            hits += n->hits;
        }
        g_test_message("  puts %" PRIu64 " (nospace %" PRIu64 "), gets %"
                       PRIu64 " (hits %" PRIu64 "), evictions %" PRIu64,
                       puts, nospace, gets, hits, sinfo(r->s).evictions);
    }
    /* freeing each client gives back exactly its bytes */
    for (unsigned ci = 0; ci < P_CLIENTS; ci++) {
        uint64_t used = sinfo(r->s).used, bytes = cinfo(r->cl[ci].c).bytes;

        tmem_client_free(r->cl[ci].c);
        r->cl[ci].c = NULL;
        if (!r->failed) {
            PCHECK(r, sinfo(r->s).used == used - bytes,
                   "freeing c%u: used %" PRIu64 " -> %" PRIu64 ", bytes %"
                   PRIu64, ci, used, sinfo(r->s).used, bytes);
        }
    }
    g_assert_cmpuint(sinfo(r->s).used, ==, 0);
    g_assert_cmpuint(sinfo(r->s).pages, ==, 0);
    g_assert_cmpuint(sinfo(r->s).objects, ==, 0);
    tmem_store_free(r->s);
}

static void test_model(void)
{
    uint64_t deferred = 0, evictions = 0, nospace = 0, eph_hits = 0;
    uint64_t pers_hits = 0, certain_checks = 0;
    const char *env = g_getenv("TMEM_TEST_SEED");
    uint32_t first = env ? g_ascii_strtoull(env, NULL, 0) : 0x7e3e0001;
    unsigned nseeds = env ? 1 : P_SEEDS;

    for (unsigned k = 0; k < nseeds; k++) {
        g_autofree Prop *r = g_new0(Prop, 1);
        /* small stores evict all the time, bigger ones rarely */
        unsigned pages = (first + k) % 3 ? 256 : 1024;

        r->seed = first + k;
        r->rand = g_rand_new_with_seed(r->seed);
        r->deferred = &deferred;
        r->evictions = &evictions;
        r->nospace = &nospace;
        r->eph_hits = &eph_hits;
        r->pers_hits = &pers_hits;
        r->certain_checks = &certain_checks;
        g_test_message("seed 0x%x, store of %u pages (TMEM_TEST_SEED=0x%x "
                       "repeats it)", r->seed, pages, r->seed);
        prop_run(r, pages);
        g_rand_free(r->rand);
    }
    g_test_message("deferred flushes %" PRIu64 ", evictions %" PRIu64
                   ", nospace %" PRIu64 ", hits eph %" PRIu64 " pers %"
                   PRIu64 ", certain checks %" PRIu64, deferred, evictions,
                   nospace, eph_hits, pers_hits, certain_checks);
    /* the runs must have reached the interesting paths */
    if (!env) {
        g_assert_cmpuint(deferred, >, 0);
        g_assert_cmpuint(evictions, >, 0);
        g_assert_cmpuint(eph_hits, >, 0);
        g_assert_cmpuint(pers_hits, >, 0);
        g_assert_cmpuint(certain_checks, >, 0);
    }
}

/* ---- migration while the guest runs ------------------------------------- */

#define T_BATCH     16
#define T_OIDS      4
#define T_INDEXES   100     /* objects beyond TMEM_FLUSH_INLINE pages */

/*
 * Take what is due, at most max records a time, and apply it to dc;
 * counts the records of each type in seen[] (if set).  Returns the
 * number of takes.
 */
static unsigned track_sync(TmemClient *c, TmemClient *dc, unsigned max,
                           unsigned *seen)
{
    TmemTrackRecord rec[T_BATCH];
    g_autofree uint8_t *data = g_malloc(T_BATCH * PS);
    unsigned n, takes = 0;
    bool more;

    g_assert(max >= 1 && max <= T_BATCH);
    do {
        more = tmem_track_take(c, rec, data, max, &n);
        g_assert_cmpuint(n, <=, max);
        for (unsigned k = 0; k < n; k++) {
            g_assert_cmpint(tmem_track_apply(dc, &rec[k], data + k * PS),
                            ==, VIRTIO_TMEM_OK);
            if (seen) {
                seen[rec[k].type]++;
            }
        }
        takes++;
    } while (more);
    return takes;
}

/* The same slots, and the same answer for every persistent key. */
static void track_check_same(TmemClient *c, TmemClient *dc)
{
    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        uint32_t h = H(i, tmem_client_slot_gen(c, i));

        g_assert_cmpint(tmem_client_slot_kind(dc, i), ==,
                        tmem_client_slot_kind(c, i));
        g_assert_cmpuint(tmem_client_slot_gen(dc, i), ==,
                         tmem_client_slot_gen(c, i));
        if (tmem_client_slot_kind(c, i) != TMEM_SLOT_PERSISTENT) {
            continue;
        }
        for (uint64_t o = 0; o < T_OIDS; o++) {
            for (uint32_t x = 0; x < T_INDEXES; x++) {
                g_assert_cmpint(get_id(dc, h, o, x), ==, get_id(c, h, o, x));
            }
        }
    }
    g_assert_cmpuint(tmem_client_count_persistent(dc), ==,
                     tmem_client_count_persistent(c));
}

static void track_pending(TmemClient *c, uint64_t pages, uint64_t records)
{
    uint64_t p, r;

    tmem_track_pending(c, &p, &r);
    g_assert_cmpuint(p, ==, pages);
    g_assert_cmpuint(r, ==, records);
}

/* Only the record types in want (a bit per type) were taken, n of them. */
static void track_expect(TmemClient *c, TmemClient *dc, unsigned want,
                         unsigned n)
{
    unsigned seen[TMEM_TRACK_PAGE + 1] = { 0 }, total = 0;

    track_sync(c, dc, T_BATCH, seen);
    for (unsigned t = 0; t <= TMEM_TRACK_PAGE; t++) {
        if (!(want & (1u << t))) {
            g_assert_cmpuint(seen[t], ==, 0);
        }
        total += seen[t];
    }
    g_assert_cmpuint(total, ==, n);
    track_check_same(c, dc);
}

#define BIT(t)  (1u << (t))

/* Each change the guest can make while pages are sent, one at a time. */
static void test_track_changes(void)
{
    TmemStore *s = tmem_store_new(1024 * PS), *d = tmem_store_new(1024 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0), *dc = tmem_client_new(d, 1, 0);
    uint32_t h0 = new_pool(c, true), h1 = new_pool(c, true);
    uint32_t h2 = new_pool(c, false), found;
    unsigned seen[TMEM_TRACK_PAGE + 1] = { 0 };
    uint64_t id = 1;

    for (unsigned k = 0; k < 200; k++) {
        g_assert_cmpint(put_id(c, h0, k % T_OIDS, k / T_OIDS, id++), ==, 0);
    }
    for (unsigned k = 0; k < T_INDEXES; k++) {
        g_assert_cmpint(put_id(c, h1, 1, k, id++), ==, 0);
    }
    g_assert_cmpint(put_id(c, h2, 0, 0, id++), ==, 0);

    tmem_track_start(c);
    track_pending(c, 300, 0);
    /* a tight batch: the 16 slots first, no page before them */
    g_assert_cmpuint(track_sync(c, dc, 1, seen), ==, 16 + 300);
    g_assert_cmpuint(seen[TMEM_TRACK_SLOT], ==, 16);
    g_assert_cmpuint(seen[TMEM_TRACK_PAGE], ==, 300);
    track_pending(c, 0, 0);
    track_check_same(c, dc);
    /* nothing due: the same stays the same */
    track_expect(c, dc, 0, 0);

    /* an ephemeral put is never due */
    g_assert_cmpint(put_id(c, h2, 0, 1, id++), ==, 0);
    track_pending(c, 0, 0);
    track_expect(c, dc, 0, 0);

    /* a sent page put again goes again */
    g_assert_cmpint(put_id(c, h0, 0, 0, id++), ==, 0);
    g_assert_cmpint(put_id(c, h0, 0, 0, id++), ==, 0);
    track_pending(c, 1, 0);
    track_expect(c, dc, BIT(TMEM_TRACK_PAGE), 1);

    /* a sent page flushed: a flush record */
    g_assert_cmpint(flush_page(c, h0, 1, 0, &found), ==, 0);
    track_pending(c, 0, 1);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_PAGE), 1);

    /* put again and flushed before the round: the old copy is flushed */
    g_assert_cmpint(put_id(c, h0, 0, 1, id++), ==, 0);
    g_assert_cmpint(flush_page(c, h0, 0, 1, &found), ==, 0);
    track_pending(c, 0, 1);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_PAGE), 1);

    /* a page put and flushed between two rounds: nothing at all */
    g_assert_cmpint(put_id(c, h0, 3, 99, id++), ==, 0);
    track_pending(c, 1, 0);
    g_assert_cmpint(flush_page(c, h0, 3, 99, &found), ==, 0);
    track_pending(c, 0, 0);
    track_expect(c, dc, 0, 0);

    /* flushed, then put again before the round: the flush goes first */
    g_assert_cmpint(flush_page(c, h0, 2, 0, &found), ==, 0);
    g_assert_cmpint(put_id(c, h0, 2, 0, id++), ==, 0);
    track_pending(c, 1, 1);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_PAGE) | BIT(TMEM_TRACK_PAGE),
                 2);

    /* a big object flushed (deferred): one record for all its pages */
    g_assert_cmpint(flush_object(c, h1, 1, &found), ==, 0);
    g_assert_cmpuint(found, ==, T_INDEXES);
    track_pending(c, 0, 1);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_OBJECT), 1);
    /* ... and reaping those pages later says nothing more */
    g_assert_false(tmem_store_reap(s, UINT_MAX));
    track_pending(c, 0, 0);

    /* a small object flushed inline: a record per sent page */
    g_assert_cmpint(flush_object(c, h0, 3, &found), ==, 0);
    g_assert_cmpuint(found, ==, 50);
    track_pending(c, 0, 50);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_PAGE), 50);

    /* a big object partly sent, put to and flushed before the round */
    for (unsigned k = 0; k < T_INDEXES; k++) {
        g_assert_cmpint(put_id(c, h1, 2, k, id++), ==, 0);
    }
    g_assert_cmpuint(track_sync(c, dc, T_BATCH, NULL), >, 1);
    g_assert_cmpint(put_id(c, h1, 2, 0, id++), ==, 0);
    g_assert_cmpint(flush_object(c, h1, 2, &found), ==, 0);
    /* the page put again stays queued, unsent, until taken or reaped */
    track_pending(c, 1, 1);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_OBJECT), 1);
    track_pending(c, 0, 0);

    /* a pool flushed, then filled again: its slot goes before the pages */
    g_assert_cmpint(tmem_client_pool_flush(c, h0, &found), ==, 0);
    g_assert_cmpint(put_id(c, h0, 0, 7, id++), ==, 0);
    track_expect(c, dc, BIT(TMEM_TRACK_SLOT) | BIT(TMEM_TRACK_PAGE), 2);

    /* an ephemeral pool destroyed, a persistent one in its slot */
    g_assert_cmpint(tmem_client_pool_destroy(c, h2, &found), ==, 0);
    g_assert_cmpuint(new_pool(c, true), ==, H(2, 1));
    g_assert_cmpint(put_id(c, H(2, 1), 0, 0, id++), ==, 0);
    track_expect(c, dc, BIT(TMEM_TRACK_SLOT) | BIT(TMEM_TRACK_PAGE), 2);

    /* a frozen client drops the page of a refused put: a flush record */
    tmem_client_set_frozen(c, true);
    g_assert_cmpint(put_id(c, h0, 0, 7, id++), ==, VIRTIO_TMEM_FROZEN);
    track_expect(c, dc, BIT(TMEM_TRACK_FLUSH_PAGE), 1);
    tmem_client_set_frozen(c, false);

    /* a device reset: the slots in use go again */
    tmem_client_reset(c);
    track_expect(c, dc, BIT(TMEM_TRACK_SLOT), 3);
    g_assert_cmpuint(cinfo(dc).pools, ==, 0);

    /* a new migration sends everything again */
    h0 = new_pool(c, true);
    g_assert_cmpint(put_id(c, h0, 0, 0, id++), ==, 0);
    track_expect(c, dc, BIT(TMEM_TRACK_SLOT) | BIT(TMEM_TRACK_PAGE), 2);
    tmem_track_stop(c);
    tmem_client_reset(dc);
    tmem_track_start(c);
    track_pending(c, 1, 0);
    track_expect(c, dc, BIT(TMEM_TRACK_SLOT) | BIT(TMEM_TRACK_PAGE), 17);
    tmem_track_stop(c);
    check_store(s);
    check_store(d);
    tmem_store_free(s);
    tmem_store_free(d);
}

/* The destination takes what the source held, whatever its own limits. */
static void test_track_apply(void)
{
    TmemStore *s = tmem_store_new(256 * PS), *d = tmem_store_new(64 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0);
    TmemClient *dc = tmem_client_new(d, 1, 2 * tmem_page_cost());
    TmemTrackRecord r = { .type = TMEM_TRACK_SLOT, .slot = 3,
                          .slot_kind = TMEM_SLOT_PERSISTENT, .gen = 7 };
    uint64_t page[PWORDS];
    uint32_t h = new_pool(c, true);
    unsigned k;

    /* a frozen destination over its cap restores anyway ... */
    tmem_client_set_frozen(dc, true);
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_OK);
    r.type = TMEM_TRACK_PAGE;
    for (k = 0; k < 64; k++) {
        r.oid = oid_of(k % 3);
        r.index = k;
        fill(page, 100 + k);
        if (tmem_track_apply(dc, &r, page) != VIRTIO_TMEM_OK) {
            break;
        }
    }
    /* ... up to the store's size */
    g_assert_cmpuint(k, ==, (64 * PS - 3 * tmem_object_cost()) /
                            tmem_page_cost());
    g_assert_cmpint(get_id(dc, H(3, 7), 0, 0), ==, 100);
    g_assert_cmpuint(cinfo(dc).bytes, >, cinfo(dc).cap);

    /* records that do not fit the slots */
    r.slot = 4;
    g_assert_cmpint(tmem_track_apply(dc, &r, page), ==, VIRTIO_TMEM_INVALID);
    r.slot = TMEM_MAX_POOLS;
    g_assert_cmpint(tmem_track_apply(dc, &r, page), ==, VIRTIO_TMEM_INVALID);
    r = (TmemTrackRecord) { .type = TMEM_TRACK_SLOT, .slot = 5,
                            .slot_kind = TMEM_SLOT_PERSISTENT + 1 };
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_INVALID);
    r.type = 0;
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_INVALID);
    /* flushes of what is not there are fine */
    r = (TmemTrackRecord) { .type = TMEM_TRACK_FLUSH_PAGE, .slot = 9 };
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_OK);
    r.type = TMEM_TRACK_FLUSH_OBJECT;
    r.slot = 3;
    r.oid = oid_of(9);
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_OK);

    /* a slot record empties what the slot held */
    r = (TmemTrackRecord) { .type = TMEM_TRACK_SLOT, .slot = 3,
                            .slot_kind = TMEM_SLOT_EPHEMERAL, .gen = 8 };
    g_assert_cmpint(tmem_track_apply(dc, &r, NULL), ==, VIRTIO_TMEM_OK);
    g_assert_cmpuint(tmem_client_count_persistent(dc), ==, 0);
    g_assert_false(tmem_store_reap(d, UINT_MAX));
    g_assert_cmpuint(cinfo(dc).bytes, ==, 0);
    (void)h;
    check_store(d);
    tmem_store_free(s);
    tmem_store_free(d);
}

/*
 * Random guest operations while random rounds of records go to a
 * destination: once everything due is taken, both agree on every
 * persistent key.  TMEM_TEST_SEED=N repeats one run.
 */
static void track_model_run(uint32_t seed, unsigned *seen)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    TmemStore *s = tmem_store_new(512 * PS), *d = tmem_store_new(512 * PS);
    TmemClient *c = tmem_client_new(s, 1, 0), *dc = tmem_client_new(d, 1, 0);
    uint32_t h[TMEM_MAX_POOLS] = { 0 };
    uint64_t id = 1;
    bool on = false;

    for (unsigned op = 0; op < 3000; op++) {
        unsigned p = g_rand_int_range(rand, 0, 4);
        /* mostly one object, so that some grow past TMEM_FLUSH_INLINE */
        uint64_t o = g_rand_boolean(rand) ? 0 : g_rand_int_range(rand, 0,
                                                                 T_OIDS);
        uint32_t x = g_rand_int_range(rand, 0, T_INDEXES), found;
        unsigned what = g_rand_int_range(rand, 0, 100);

        if (!h[p] && what >= 8) {
            g_assert_cmpint(tmem_client_pool_new(c, p % 3 != 2, &h[p]), ==,
                            0);
            continue;
        }
        if (what < 48) {
            put_id(c, h[p], o, x, id++);
        } else if (what < 50) {
            /* a whole object: big enough to be flushed in the background */
            for (x = 0; x < T_INDEXES; x++) {
                put_id(c, h[p], o, x, id++);
            }
        } else if (what < 60) {
            flush_page(c, h[p], o, x, &found);
        } else if (what < 63) {
            flush_object(c, h[p], o, &found);
        } else if (what < 65) {
            tmem_client_pool_flush(c, h[p], &found);
        } else if (what < 66) {
            tmem_client_pool_destroy(c, h[p], &found);
            h[p] = 0;
        } else if (what < 68) {
            tmem_client_set_frozen(c, what == 66);
        } else if (what < 75) {
            tmem_store_reap(s, g_rand_int_range(rand, 1, 200));
        } else if (what < 76 && g_rand_int_range(rand, 0, 10) == 0) {
            tmem_client_reset(c);
            memset(h, 0, sizeof(h));
        } else if (what < 77 && on) {
            /* a failed migration, then a new one to a fresh destination */
            tmem_track_stop(c);
            on = false;
        } else if (!on) {
            tmem_client_reset(dc);
            tmem_track_start(c);
            on = true;
        } else if (what < 95) {
            unsigned n, max = g_rand_int_range(rand, 1, T_BATCH + 1);
            TmemTrackRecord rec[T_BATCH];
            uint8_t data[T_BATCH * PS];

            tmem_track_take(c, rec, data, max, &n);
            for (unsigned k = 0; k < n; k++) {
                g_assert_cmpint(tmem_track_apply(dc, &rec[k], data + k * PS),
                                ==, VIRTIO_TMEM_OK);
                seen[rec[k].type]++;
            }
        } else {
            track_sync(c, dc, g_rand_int_range(rand, 1, T_BATCH + 1), seen);
            track_check_same(c, dc);
        }
        if (g_test_failed()) {
            g_test_message("track model: seed 0x%x op %u", seed, op);
            break;
        }
    }
    if (!on) {
        tmem_client_reset(dc);
        tmem_track_start(c);
    }
    track_sync(c, dc, T_BATCH, seen);
    track_check_same(c, dc);
    tmem_track_stop(c);
    check_store(s);
    check_store(d);
    tmem_store_free(s);
    tmem_store_free(d);
}

static void test_track_model(void)
{
    const char *env = g_getenv("TMEM_TEST_SEED");
    unsigned seen[TMEM_TRACK_PAGE + 1] = { 0 };

    if (env) {
        track_model_run(g_ascii_strtoull(env, NULL, 0), seen);
        return;
    }
    for (uint32_t seed = 0x7e3e0100; seed < 0x7e3e0100 + 40; seed++) {
        track_model_run(seed, seen);
        if (g_test_failed()) {
            break;
        }
    }
    g_test_message("records: %u slot, %u flush page, %u flush object, %u "
                   "page", seen[TMEM_TRACK_SLOT], seen[TMEM_TRACK_FLUSH_PAGE],
                   seen[TMEM_TRACK_FLUSH_OBJECT], seen[TMEM_TRACK_PAGE]);
    /* the runs must have sent every kind of record */
    for (unsigned t = TMEM_TRACK_SLOT; t <= TMEM_TRACK_PAGE; t++) {
        g_assert_cmpuint(seen[t], >, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* report every broken semantic in one run, not just the first */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/tmem-store/handles", test_handles);
    g_test_add_func("/tmem-store/store-new-limits", test_store_new_limits);
    g_test_add_func("/tmem-store/lru/order", test_lru_order);
    g_test_add_func("/tmem-store/lru/replace", test_lru_replace);
    g_test_add_func("/tmem-store/lru/objects", test_lru_objects);
    g_test_add_func("/tmem-store/cap/flood", test_cap_flood);
    g_test_add_func("/tmem-store/cap/persistent", test_cap_persistent);
    g_test_add_func("/tmem-store/cap/mixed", test_cap_mixed);
    g_test_add_func("/tmem-store/persistent/fair-share",
                    test_persistent_fair_share);
    g_test_add_func("/tmem-store/persistent/restore-unlimited",
                    test_persistent_restore_unlimited);
    g_test_add_func("/tmem-store/cap/set-cap", test_set_cap);
    g_test_add_func("/tmem-store/cap/store-full-persistent",
                    test_store_full_persistent);
    g_test_add_func("/tmem-store/weights", test_weights);
    g_test_add_func("/tmem-store/frozen", test_frozen);
    g_test_add_func("/tmem-store/drop-ephemeral", test_drop_ephemeral);
    g_test_add_func("/tmem-store/reset-and-free", test_reset_and_free);
    g_test_add_func("/tmem-store/deferred-flush", test_deferred_flush);
    g_test_add_func("/tmem-store/reap-before-evict", test_reap_before_evict);
    g_test_add_func("/tmem-store/counters", test_counters);
    g_test_add_func("/tmem-store/migration", test_migration);
    g_test_add_func("/tmem-store/migration-slots", test_migration_slots);
    g_test_add_func("/tmem-store/model", test_model);
    g_test_add_func("/tmem-store/track/changes", test_track_changes);
    g_test_add_func("/tmem-store/track/apply", test_track_apply);
    g_test_add_func("/tmem-store/track/model", test_track_model);
    return g_test_run();
}
