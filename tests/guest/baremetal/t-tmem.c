/*
 * t-tmem: every virtio-tmem operation with its status and value, the
 * coherence rules, the config space, a full batch, the pool-slot limit,
 * stale and destroyed handles, a persistent=off device and the
 * separation of two devices on one pool object.
 *
 * Devices: A (fe.0.0005) and B (fe.0.0006) share the pool object; C
 * (fe.0.0007) has persistent=off.
 *
 * qemu-args: -object tmem-pool,id=tp0,size=64M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0006
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,persistent=off,devno=fe.0.0007
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE        TMEM_PAGE
#define EPH         TMEM_POOL_FLAGS(false)
#define PERS        TMEM_POOL_FLAGS(true)
#define NGET        40

static struct vccw_ring ring_a, ring_b, ring_c;
static struct tmem_dev A, B, C;

static uint8_t src[4][PAGE] __attribute__((aligned(4096)));
static uint8_t dst[PAGE] __attribute__((aligned(4096)));
static uint8_t gbuf[NGET][PAGE] __attribute__((aligned(4096)));

static struct tmem_oid oid(uint64_t n)
{
    /* all three words matter: keep them different and non-zero */
    struct tmem_oid o = { { n, ~n, 0x1234000000000000UL | n } };

    return o;
}

/* GET into dst (pre-filled with garbage so that zero-fill shows). */
static int get(struct tmem_dev *d, uint32_t pool, uint64_t obj,
               uint32_t index)
{
    struct tmem_oid o = oid(obj);

    memset(dst, 0xa5, PAGE);
    return tmem_get(d, pool, &o, index, dst);
}

static int put(struct tmem_dev *d, uint32_t pool, uint64_t obj,
               uint32_t index, uint64_t seed)
{
    struct tmem_oid o = oid(obj);

    tmem_fill(src[0], seed);
    return tmem_put(d, pool, &o, index, src[0]);
}

/* GET must hit with the data of seed. */
static bool get_hit(struct tmem_dev *d, uint32_t pool, uint64_t obj,
                    uint32_t index, uint64_t seed, const char *what)
{
    int st = get(d, pool, obj, index);
    unsigned bad = tmem_check(dst, seed);

    if (!ok(st == VIRTIO_TMEM_OK && !bad, "%s: GET hits with the right data",
            what)) {
        diag("  status %s, %u words wrong", tmem_status_name(st), bad);
        return false;
    }
    return true;
}

/* GET must miss with a zero-filled buffer. */
static bool get_miss(struct tmem_dev *d, uint32_t pool, uint64_t obj,
                     uint32_t index, const char *what)
{
    int st = get(d, pool, obj, index);
    bool zero = tmem_is_zero(dst);

    if (!ok(st == VIRTIO_TMEM_MISS && zero,
            "%s: GET misses, buffer zero-filled", what)) {
        diag("  status %s, buffer %s", tmem_status_name(st),
             zero ? "zero" : "not zero");
        return false;
    }
    return true;
}

static void test_setup(void)
{
    uint64_t f;

    if (!ok(tmem_find(&A, 5, 0, &ring_a), "device A (devno 0x0005) found, "
            "CU model 0x3f") ||
        !ok(tmem_find(&B, 6, 0, &ring_b), "device B (devno 0x0006) found") ||
        !ok(tmem_find(&C, 7, 0, &ring_c), "device C (devno 0x0007) found")) {
        rt_bail("virtio-tmem devices missing");
    }
    if (!is_eq(tmem_init(&A, TMEM_FEATURES_ALL), 0, "device A set up")) {
        rt_bail("device A unusable");
    }
    f = A.v.host_features;
    ok(f & (1UL << VIRTIO_F_VERSION_1), "VERSION_1 offered");
    ok(f & (1UL << VIRTIO_TMEM_F_PERSISTENT), "F_PERSISTENT offered");
    ok(f & (1UL << VIRTIO_TMEM_F_BATCH), "F_BATCH offered");
    ok(f & (1UL << VIRTIO_TMEM_F_EPOCH), "F_EPOCH offered");
    is_eq(A.v.features, TMEM_FEATURES_ALL | (1UL << VIRTIO_F_VERSION_1),
          "all three device features negotiated");
    /* QEMU 10.0's virtio core reports VIRTQUEUE_MAX_SIZE for every queue,
     * whatever size the device asked for; the driver uses 128 */
    ok(A.v.vq_max >= VIRTIO_TMEM_QUEUE_SIZE && A.v.vq_num == 128,
       "queue 0: READ_VQ_CONF says %u (>= %u), a 128-entry ring accepted",
       A.v.vq_max, VIRTIO_TMEM_QUEUE_SIZE);

    ok(A.cfg.page_shifts & (1u << 12), "config: page_shifts has bit 12 "
       "(0x%x)", A.cfg.page_shifts);
    is_eq(A.cfg.max_pools, 16, "config: max_pools");
    is_eq(A.cfg.num_queues, 1, "config: num_queues");
    is_eq(A.cfg.max_batch, 64, "config: max_batch");
    ok(A.cfg.pers_limit_pages > 0, "config: pers_limit_pages %lu > 0",
       A.cfg.pers_limit_pages);
    is_eq(A.cfg.status & VIRTIO_TMEM_S_FROZEN, 0, "config: not frozen");
    diag("config: epoch %u, eph_target_pages %lu, status 0x%x",
         A.cfg.epoch, A.cfg.eph_target_pages, A.cfg.status);
}

/* Two devices on one pool object are separate namespaces. */
static void test_namespaces(void)
{
    uint32_t pa = 0, pb = 0, ea = 0, eb = 0, found = 0;

    if (!is_eq(tmem_init(&B, TMEM_FEATURES_ALL), 0, "device B set up")) {
        return;
    }
    is_st(tmem_new_pool(&A, PERS, &pa), VIRTIO_TMEM_OK, "A: persistent pool");
    is_st(tmem_new_pool(&B, PERS, &pb), VIRTIO_TMEM_OK, "B: persistent pool");
    is_st(tmem_new_pool(&A, EPH, &ea), VIRTIO_TMEM_OK, "A: ephemeral pool");
    is_st(tmem_new_pool(&B, EPH, &eb), VIRTIO_TMEM_OK, "B: ephemeral pool");
    diag("handles: A 0x%x 0x%x, B 0x%x 0x%x", pa, ea, pb, eb);

    is_st(put(&A, pa, 1, 0, 0xa1), VIRTIO_TMEM_OK, "A: PUT persistent");
    get_miss(&B, pb, 1, 0, "B, same key as A's persistent page");
    if (pa != pb) {
        /* A's handle value on B names no pool of B, or another one */
        int st = get(&B, pa, 1, 0);

        ok(st != VIRTIO_TMEM_OK, "B with A's handle value: %s",
           tmem_status_name(st));
    }
    is_st(put(&B, pb, 1, 0, 0xb1), VIRTIO_TMEM_OK, "B: PUT same key");
    get_hit(&A, pa, 1, 0, 0xa1, "A keeps its own page");
    get_hit(&B, pb, 1, 0, 0xb1, "B sees its own page");

    is_st(put(&A, ea, 2, 3, 0xa2), VIRTIO_TMEM_OK, "A: PUT ephemeral");
    get_miss(&B, eb, 2, 3, "B, same key as A's ephemeral page");
    get_hit(&A, ea, 2, 3, 0xa2, "A's ephemeral page untouched by B's GET");

    is_st(tmem_flush_pool(&B, pb, &found), VIRTIO_TMEM_OK,
          "B: FLUSH_POOL persistent");
    is_eq(found, 1, "B: FLUSH_POOL found only B's page");
    get_hit(&A, pa, 1, 0, 0xa1, "A's page survives B's FLUSH_POOL");
    is_st(tmem_destroy_pool(&B, pb), VIRTIO_TMEM_OK, "B: DESTROY_POOL");
    get_hit(&A, pa, 1, 0, 0xa1, "A's page survives B's DESTROY_POOL");
    is_st(tmem_destroy_pool(&B, eb), VIRTIO_TMEM_OK, "B: DESTROY_POOL eph");

    /* leave A clean for the next tests */
    is_st(tmem_destroy_pool(&A, pa), VIRTIO_TMEM_OK, "A: DESTROY_POOL");
    is_st(tmem_destroy_pool(&A, ea), VIRTIO_TMEM_OK, "A: DESTROY_POOL eph");
}

static void test_basic(uint32_t e, uint32_t p)
{
    struct tmem_oid o1 = oid(10), o2 = oid(10);
    uint32_t found = 7;

    /* ephemeral: put, exclusive get, get-get */
    is_st(put(&A, e, 10, 0, 1), VIRTIO_TMEM_OK, "eph: PUT");
    get_hit(&A, e, 10, 0, 1, "eph");
    get_miss(&A, e, 10, 0, "eph: exclusive GET removed the page");
    get_miss(&A, e, 10, 0, "eph: get-get, still a miss");
    get_miss(&A, e, 11, 5, "eph: never-put key");

    /* duplicate put replaces */
    is_st(put(&A, e, 10, 1, 2), VIRTIO_TMEM_OK, "eph: PUT");
    is_st(put(&A, e, 10, 1, 3), VIRTIO_TMEM_OK, "eph: duplicate PUT");
    get_hit(&A, e, 10, 1, 3, "eph: duplicate PUT replaced the data");
    get_miss(&A, e, 10, 1, "eph: after the exclusive GET of the duplicate");

    /* persistent: non-exclusive, duplicate replaces */
    is_st(put(&A, p, 10, 0, 4), VIRTIO_TMEM_OK, "pers: PUT");
    get_hit(&A, p, 10, 0, 4, "pers");
    get_hit(&A, p, 10, 0, 4, "pers: GET is not exclusive");
    is_st(put(&A, p, 10, 0, 5), VIRTIO_TMEM_OK, "pers: duplicate PUT");
    get_hit(&A, p, 10, 0, 5, "pers: duplicate PUT replaced the data");
    get_hit(&A, p, 10, 0, 5, "pers: and still there");

    /* the key is (pool, 192-bit oid, index): every part counts */
    o2.v[2] ^= 1;
    tmem_fill(src[1], 6);
    tmem_fill(src[2], 7);
    is_st(tmem_put(&A, p, &o2, 0, src[1]), VIRTIO_TMEM_OK,
          "pers: PUT oid differing in word 2 only");
    o2 = o1;
    o2.v[0] ^= 1ul << 63;
    is_st(tmem_put(&A, p, &o2, 0, src[2]), VIRTIO_TMEM_OK,
          "pers: PUT oid differing in word 0 bit 63 only");
    is_st(put(&A, p, 10, 0xffffffff, 8), VIRTIO_TMEM_OK,
          "pers: PUT index 0xffffffff");
    get_hit(&A, p, 10, 0, 5, "pers: original key unchanged by neighbours");
    o2 = o1;
    o2.v[2] ^= 1;
    memset(dst, 0xa5, PAGE);
    ok(tmem_get(&A, p, &o2, 0, dst) == VIRTIO_TMEM_OK &&
       !tmem_check(dst, 6), "pers: oid word 2 neighbour has its own data");
    o2 = o1;
    o2.v[0] ^= 1ul << 63;
    memset(dst, 0xa5, PAGE);
    ok(tmem_get(&A, p, &o2, 0, dst) == VIRTIO_TMEM_OK &&
       !tmem_check(dst, 7), "pers: oid word 0 neighbour has its own data");
    get_hit(&A, p, 10, 0xffffffff, 8, "pers: index 0xffffffff");
    get_miss(&A, e, 10, 0xffffffff, "eph pool: same key in another pool");

    /* FLUSH_PAGE: value 1 if present, else 0, always OK */
    is_st(tmem_flush_page(&A, p, &o1, 0, &found), VIRTIO_TMEM_OK,
          "pers: FLUSH_PAGE present");
    is_eq(found, 1, "pers: FLUSH_PAGE value 1");
    get_miss(&A, p, 10, 0, "pers: after FLUSH_PAGE");
    get_miss(&A, p, 10, 0, "pers: get-get after FLUSH_PAGE");
    found = 7;
    is_st(tmem_flush_page(&A, p, &o1, 0, &found), VIRTIO_TMEM_OK,
          "pers: FLUSH_PAGE absent");
    is_eq(found, 0, "pers: FLUSH_PAGE absent value 0");
    is_st(put(&A, e, 12, 0, 9), VIRTIO_TMEM_OK, "eph: PUT");
    found = 7;
    is_st(tmem_flush_page(&A, e, &o1, 0, &found), VIRTIO_TMEM_OK,
          "eph: FLUSH_PAGE absent key");
    is_eq(found, 0, "eph: FLUSH_PAGE absent value 0");
    o2 = oid(12);
    found = 7;
    is_st(tmem_flush_page(&A, e, &o2, 0, &found), VIRTIO_TMEM_OK,
          "eph: FLUSH_PAGE present");
    is_eq(found, 1, "eph: FLUSH_PAGE value 1");
    get_miss(&A, e, 12, 0, "eph: after FLUSH_PAGE");
    is_st(put(&A, e, 12, 0, 10), VIRTIO_TMEM_OK, "eph: PUT after a miss");
    get_hit(&A, e, 12, 0, 10, "eph: new PUT after a miss hits again");
}

static void test_flush_object_pool(uint32_t e, uint32_t p)
{
    struct tmem_oid o = oid(20), empty = oid(29);
    uint32_t found = 77, i, bad = 0;

    for (i = 0; i < 5; i++) {
        bad += put(&A, p, 20, i * 7, 100 + i) != VIRTIO_TMEM_OK;
    }
    bad += put(&A, p, 21, 0, 200) != VIRTIO_TMEM_OK;
    is_eq(bad, 0, "pers: 5 PUTs to object 20, 1 to object 21");
    is_st(tmem_flush_object(&A, p, &o, &found), VIRTIO_TMEM_OK,
          "pers: FLUSH_OBJECT");
    is_eq(found, 5, "pers: FLUSH_OBJECT value = 5 pages");
    bad = 0;
    for (i = 0; i < 5; i++) {
        bad += get(&A, p, 20, i * 7) != VIRTIO_TMEM_MISS || !tmem_is_zero(dst);
    }
    is_eq(bad, 0, "pers: every page of the flushed object misses");
    get_hit(&A, p, 21, 0, 200, "pers: other object survives FLUSH_OBJECT");
    found = 77;
    is_st(tmem_flush_object(&A, p, &o, &found), VIRTIO_TMEM_OK,
          "pers: FLUSH_OBJECT again");
    is_eq(found, 0, "pers: FLUSH_OBJECT again value 0");
    found = 77;
    is_st(tmem_flush_object(&A, e, &empty, &found), VIRTIO_TMEM_OK,
          "eph: FLUSH_OBJECT of a never-used object");
    is_eq(found, 0, "eph: FLUSH_OBJECT never-used value 0");

    /* ephemeral object flush */
    bad = 0;
    for (i = 0; i < 3; i++) {
        bad += put(&A, e, 20, i, 300 + i) != VIRTIO_TMEM_OK;
    }
    is_eq(bad, 0, "eph: 3 PUTs to object 20");
    found = 77;
    is_st(tmem_flush_object(&A, e, &o, &found), VIRTIO_TMEM_OK,
          "eph: FLUSH_OBJECT");
    is_eq(found, 3, "eph: FLUSH_OBJECT value 3");
    get_miss(&A, e, 20, 1, "eph: after FLUSH_OBJECT");

    /* FLUSH_POOL keeps the handle */
    bad = 0;
    for (i = 0; i < 4; i++) {
        bad += put(&A, p, 22 + i, 1, 400 + i) != VIRTIO_TMEM_OK;
    }
    is_eq(bad, 0, "pers: 4 more PUTs");
    found = 77;
    is_st(tmem_flush_pool(&A, p, &found), VIRTIO_TMEM_OK, "pers: FLUSH_POOL");
    /* object 21's page + the 4 new ones + the index 0xffffffff page and
     * the two oid neighbours from test_basic */
    is_eq(found, 8, "pers: FLUSH_POOL value = 8 pages");
    get_miss(&A, p, 21, 0, "pers: after FLUSH_POOL");
    get_miss(&A, p, 23, 1, "pers: after FLUSH_POOL (2)");
    is_st(put(&A, p, 21, 0, 500), VIRTIO_TMEM_OK,
          "pers: handle still valid after FLUSH_POOL");
    get_hit(&A, p, 21, 0, 500, "pers: PUT after FLUSH_POOL");

    bad = 0;
    for (i = 0; i < 2; i++) {
        bad += put(&A, e, 30, i, 600 + i) != VIRTIO_TMEM_OK;
    }
    found = 77;
    is_st(tmem_flush_pool(&A, e, &found), VIRTIO_TMEM_OK, "eph: FLUSH_POOL");
    /* plus the page of object 12 left by test_basic?  No: it was taken
     * by the exclusive GET. */
    is_eq(found, 2, "eph: FLUSH_POOL value 2");
    get_miss(&A, e, 30, 0, "eph: after FLUSH_POOL");
    found = 77;
    is_st(tmem_flush_pool(&A, e, &found), VIRTIO_TMEM_OK,
          "eph: FLUSH_POOL of an empty pool");
    is_eq(found, 0, "eph: FLUSH_POOL empty value 0");
}

/* NEW_POOL payload checks: one bad thing at a time. */
static void test_new_pool_flags(void)
{
    static const struct {
        uint32_t flags;
        int status;
        const char *what;
    } cases[] = {
        { (1u << 24) | (1u << 2), VIRTIO_TMEM_INVALID, "unknown bit 2" },
        { (1u << 24) | (1u << 3), VIRTIO_TMEM_INVALID, "unknown bit 3" },
        { (1u << 24) | (1u << 8), VIRTIO_TMEM_INVALID, "unknown bit 8" },
        { (1u << 24) | (1u << 23), VIRTIO_TMEM_INVALID, "unknown bit 23" },
        { 0, VIRTIO_TMEM_UNSUPPORTED, "version 0" },
        { 2u << 24, VIRTIO_TMEM_UNSUPPORTED, "version 2" },
        { 0xffu << 24, VIRTIO_TMEM_UNSUPPORTED, "version 255" },
        { (1u << 24) | (1u << 4), VIRTIO_TMEM_UNSUPPORTED, "page shift 13" },
        { (1u << 24) | (0xfu << 4), VIRTIO_TMEM_UNSUPPORTED,
          "page shift 27" },
        { (1u << 24) | VIRTIO_TMEM_POOL_SHARED, VIRTIO_TMEM_UNSUPPORTED,
          "SHARED" },
        { (1u << 24) | VIRTIO_TMEM_POOL_SHARED | VIRTIO_TMEM_POOL_PERSISTENT,
          VIRTIO_TMEM_UNSUPPORTED, "SHARED | PERSISTENT" },
    };
    static struct virtio_tmem_batch pre;
    static struct virtio_tmem_hdr hdr;
    static struct virtio_tmem_new_pool np;
    static struct virtio_tmem_footer ft;
    struct vq_seg s[4];
    uint32_t h, used, i;
    int rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h = 0x5555;
        rc = tmem_new_pool(&A, cases[i].flags, &h);
        is_st(rc, cases[i].status, "NEW_POOL flags 0x%08x (%s)",
              cases[i].flags, cases[i].what);
        if (rc == VIRTIO_TMEM_OK) {
            tmem_destroy_pool(&A, h);
        }
    }

    /* reserved0 and uuid of the payload */
    for (i = 0; i < 3; i++) {
        pre.count = le16(1);
        pre.reserved0 = 0;
        pre.reserved1 = 0;
        tmem_hdr(&hdr, VIRTIO_TMEM_OP_NEW_POOL, 0, NULL, 0, 0);
        tmem_new_pool_payload(&np, EPH);
        if (i == 0) {
            np.reserved0 = le32(1);
        } else if (i == 1) {
            np.uuid[15] = 1;
        } else {
            np.reserved1 = le64(1ul << 63);
        }
        tmem_footer_clear(&ft);
        s[0] = (struct vq_seg){ (uintptr_t)&pre, sizeof(pre), false };
        s[1] = (struct vq_seg){ (uintptr_t)&hdr, sizeof(hdr), false };
        s[2] = (struct vq_seg){ (uintptr_t)&np, sizeof(np), false };
        s[3] = (struct vq_seg){ (uintptr_t)&ft, sizeof(ft), true };
        used = 0;
        rc = tmem_raw(&A, s, 4, &used);
        ok(rc == 0 && used == 8 &&
           tmem_footer_status(&ft) == VIRTIO_TMEM_INVALID,
           "NEW_POOL payload with %s set: INVALID",
           i == 0 ? "reserved0" : i == 1 ? "uuid" : "reserved1");
        if (tmem_footer_status(&ft) == VIRTIO_TMEM_OK) {
            tmem_destroy_pool(&A, tmem_footer_value(&ft));
        }
    }
}

/* One chain with 64 mixed operations, executed in order. */
static void test_batch(uint32_t e, uint32_t p)
{
    static struct tmem_op ops[64];
    static struct { uint16_t st; uint32_t val; int seed; } want[64];
    /* PUT data must stay unchanged until the chain is done */
    static uint8_t pdata[17][PAGE] __attribute__((aligned(4096)));
    unsigned n = 0, g = 0, i, bad = 0, badval = 0, baddata = 0;
    uint32_t newh = 0;
    int rc;

#define OP(o, pl, obj, idx, buf, s, v, sd) do {                         \
        ops[n] = (struct tmem_op){ .op = (o), .pool = (pl),             \
                                   .oid = oid(obj), .index = (idx),     \
                                   .page = (buf),                       \
                                   .pool_flags = EPH };                 \
        want[n].st = (s);                                               \
        want[n].val = (v);                                              \
        want[n].seed = (sd);                                            \
        n++;                                                            \
    } while (0)
#define GBUF() (memset(gbuf[g], 0xa5, PAGE), gbuf[g++])

    for (i = 0; i < 16; i++) {
        tmem_fill(pdata[i], 1000 + i);
        OP(VIRTIO_TMEM_OP_PUT, p, 100, i, pdata[i], VIRTIO_TMEM_OK, 0, -1);
    }
    for (i = 0; i < 16; i++) {
        OP(VIRTIO_TMEM_OP_GET, p, 100, i, GBUF(), VIRTIO_TMEM_OK, 0,
           1000 + i);
    }
    for (i = 0; i < 8; i++) {
        OP(VIRTIO_TMEM_OP_FLUSH_PAGE, p, 100, i, NULL, VIRTIO_TMEM_OK, 1, -1);
    }
    for (i = 0; i < 8; i++) {
        OP(VIRTIO_TMEM_OP_GET, p, 100, i, GBUF(), VIRTIO_TMEM_MISS, 0, -2);
    }
    for (i = 8; i < 16; i++) {
        OP(VIRTIO_TMEM_OP_GET, p, 100, i, GBUF(), VIRTIO_TMEM_OK, 0,
           1000 + i);
    }
    OP(VIRTIO_TMEM_OP_FLUSH_OBJECT, p, 101, 0, NULL, VIRTIO_TMEM_OK, 0, -1);
    OP(VIRTIO_TMEM_OP_NEW_POOL, 0, 0, 0, NULL, VIRTIO_TMEM_OK, 0xffffffff,
       -1);
    tmem_fill(pdata[16], 2000);
    OP(VIRTIO_TMEM_OP_PUT, e, 102, 0, pdata[16], VIRTIO_TMEM_OK, 0, -1);
    OP(VIRTIO_TMEM_OP_GET, e, 102, 0, GBUF(), VIRTIO_TMEM_OK, 0, 2000);
    OP(VIRTIO_TMEM_OP_GET, e, 102, 0, GBUF(), VIRTIO_TMEM_MISS, 0, -2);
    OP(VIRTIO_TMEM_OP_FLUSH_OBJECT, p, 100, 0, NULL, VIRTIO_TMEM_OK, 8, -1);
    OP(VIRTIO_TMEM_OP_GET, p, 100, 9, GBUF(), VIRTIO_TMEM_MISS, 0, -2);
    /* left in p: object 21's page from test_flush_object_pool */
    OP(VIRTIO_TMEM_OP_FLUSH_POOL, p, 0, 0, NULL, VIRTIO_TMEM_OK, 1, -1);
#undef OP
#undef GBUF

    if (!is_eq(n, 64, "batch: 64 operations built")) {
        return;
    }
    rc = tmem_batch(&A, ops, n);
    is_eq(rc, 0, "batch of 64: used length = %u GET pages + 64 footers", g);
    for (i = 0; i < n; i++) {
        if (ops[i].status != want[i].st) {
            if (bad++ < 6) {
                diag("  op %u (%u): status %s, expected %s", i, ops[i].op,
                     tmem_status_name(ops[i].status),
                     tmem_status_name(want[i].st));
            }
        } else if (want[i].val == 0xffffffff) {
            newh = ops[i].value;
        } else if (ops[i].value != want[i].val) {
            if (badval++ < 6) {
                diag("  op %u (%u): value %u, expected %u", i, ops[i].op,
                     ops[i].value, want[i].val);
            }
        }
        if (want[i].seed >= 0 && tmem_check(ops[i].page, want[i].seed)) {
            if (baddata++ < 6) {
                diag("  op %u: GET data wrong", i);
            }
        }
        if (want[i].seed == -2 && !tmem_is_zero(ops[i].page)) {
            if (baddata++ < 6) {
                diag("  op %u: missed GET buffer not zero-filled", i);
            }
        }
    }
    is_eq(bad, 0, "batch: every operation's status as expected, in order");
    is_eq(badval, 0, "batch: every FLUSH value as expected");
    is_eq(baddata, 0, "batch: every GET buffer as expected");
    ok(VIRTIO_TMEM_POOL_SLOT(newh) < 16, "batch: NEW_POOL in the batch gave "
       "handle 0x%x", newh);
    is_st(tmem_destroy_pool(&A, newh), VIRTIO_TMEM_OK,
          "batch: pool made in the batch can be destroyed");

    /* a batch of 2 */
    tmem_fill(pdata[0], 3000);
    ops[0] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_PUT, .pool = p,
                               .oid = oid(103), .page = pdata[0] };
    ops[1] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_GET, .pool = p,
                               .oid = oid(103), .page = gbuf[0] };
    memset(gbuf[0], 0xa5, PAGE);
    rc = tmem_batch(&A, ops, 2);
    ok(rc == 0 && ops[0].status == VIRTIO_TMEM_OK &&
       ops[1].status == VIRTIO_TMEM_OK && !tmem_check(gbuf[0], 3000),
       "batch of 2: PUT then GET of the same key");
}

/* 16 pool slots, NOSPACE, destroyed and stale handles. */
static void test_slots(void)
{
    uint32_t h[17], old, fresh, i, bad = 0, slots = 0;
    struct tmem_oid o40 = oid(40);
    int st;

    /* A has no pools at this point (all destroyed by the caller) */
    for (i = 0; i < 16; i++) {
        st = tmem_new_pool(&A, i & 1 ? PERS : EPH, &h[i]);
        if (st != VIRTIO_TMEM_OK || VIRTIO_TMEM_POOL_SLOT(h[i]) >= 16 ||
            (slots & (1u << VIRTIO_TMEM_POOL_SLOT(h[i])))) {
            diag("  pool %u: %s, handle 0x%x", i, tmem_status_name(st), h[i]);
            bad++;
        } else {
            slots |= 1u << VIRTIO_TMEM_POOL_SLOT(h[i]);
        }
    }
    is_eq(bad, 0, "16 NEW_POOLs succeed with 16 distinct slots");
    is_st(tmem_new_pool(&A, EPH, &h[16]), VIRTIO_TMEM_NOSPACE,
          "17th NEW_POOL (ephemeral): NOSPACE");
    is_st(tmem_new_pool(&A, PERS, &h[16]), VIRTIO_TMEM_NOSPACE,
          "17th NEW_POOL (persistent): NOSPACE");

    /* a page in pool 5, then destroy it: the handle is dead */
    old = h[5];
    is_st(put(&A, old, 40, 0, 4000), VIRTIO_TMEM_OK, "PUT into pool 5");
    is_st(tmem_destroy_pool(&A, old), VIRTIO_TMEM_OK, "DESTROY_POOL pool 5");
    is_st(put(&A, old, 40, 0, 4001), VIRTIO_TMEM_NOPOOL,
          "PUT with a destroyed handle: NOPOOL");
    memset(dst, 0xa5, PAGE);
    st = tmem_get(&A, old, &o40, 0, dst);
    ok(st == VIRTIO_TMEM_NOPOOL && tmem_is_zero(dst),
       "GET with a destroyed handle: NOPOOL, buffer zero-filled (%s)",
       tmem_status_name(st));
    is_st(tmem_flush_pool(&A, old, NULL), VIRTIO_TMEM_NOPOOL,
          "FLUSH_POOL with a destroyed handle: NOPOOL");
    is_st(tmem_destroy_pool(&A, old), VIRTIO_TMEM_NOPOOL,
          "DESTROY_POOL twice: NOPOOL");

    /* the only free slot is reused with a new generation */
    is_st(tmem_new_pool(&A, PERS, &fresh), VIRTIO_TMEM_OK,
          "NEW_POOL reuses the freed slot");
    is_eq(VIRTIO_TMEM_POOL_SLOT(fresh), VIRTIO_TMEM_POOL_SLOT(old),
          "same slot");
    ok(VIRTIO_TMEM_POOL_GEN(fresh) != VIRTIO_TMEM_POOL_GEN(old),
       "new generation (0x%x -> 0x%x)", old, fresh);
    tmem_read_config(&A);
    {
        struct tmem_op op = { .op = VIRTIO_TMEM_OP_PUT, .pool = old,
                              .oid = oid(40), .page = src[0] };

        tmem_batch(&A, &op, 1);
        ok(op.status == VIRTIO_TMEM_STALE && op.value == A.cfg.epoch,
           "PUT with the old handle: STALE, value = epoch %u (%s, %u)",
           A.cfg.epoch, tmem_status_name(op.status), op.value);
        op.op = VIRTIO_TMEM_OP_GET;
        op.page = dst;
        memset(dst, 0xa5, PAGE);
        tmem_batch(&A, &op, 1);
        ok(op.status == VIRTIO_TMEM_STALE && op.value == A.cfg.epoch &&
           tmem_is_zero(dst), "GET with the old handle: STALE, value = "
           "epoch, zero-filled (%s, %u)", tmem_status_name(op.status),
           op.value);
        op.op = VIRTIO_TMEM_OP_FLUSH_PAGE;
        op.page = NULL;
        tmem_batch(&A, &op, 1);
        is_st(op.status, VIRTIO_TMEM_STALE, "FLUSH_PAGE with the old handle");
        op.op = VIRTIO_TMEM_OP_FLUSH_OBJECT;
        tmem_batch(&A, &op, 1);
        is_st(op.status, VIRTIO_TMEM_STALE,
              "FLUSH_OBJECT with the old handle");
        op.op = VIRTIO_TMEM_OP_DESTROY_POOL;
        tmem_batch(&A, &op, 1);
        is_st(op.status, VIRTIO_TMEM_STALE,
              "DESTROY_POOL with the old handle");
    }
    get_miss(&A, fresh, 40, 0, "new pool in the old slot is empty");
    is_st(put(&A, fresh, 40, 0, 4002), VIRTIO_TMEM_OK,
          "new handle works after the stale DESTROY");
    get_hit(&A, fresh, 40, 0, 4002, "new handle");
    h[5] = fresh;

    bad = 0;
    for (i = 0; i < 16; i++) {
        bad += tmem_destroy_pool(&A, h[i]) != VIRTIO_TMEM_OK;
    }
    is_eq(bad, 0, "all 16 pools destroyed");
    bad = 0;
    for (i = 0; i < 16; i++) {
        bad += put(&A, h[i], 1, 0, 1) != VIRTIO_TMEM_NOPOOL;
    }
    is_eq(bad, 0, "PUT to each destroyed pool: NOPOOL");
}

/* persistent=off device, and a device whose driver leaves the feature off */
static void test_no_persistent(void)
{
    uint32_t h = 0;

    if (!is_eq(tmem_init(&C, TMEM_FEATURES_ALL), 0, "device C set up")) {
        return;
    }
    ok(!(C.v.host_features & (1UL << VIRTIO_TMEM_F_PERSISTENT)),
       "persistent=off: F_PERSISTENT not offered (0x%lx)",
       C.v.host_features);
    ok(C.v.host_features & (1UL << VIRTIO_TMEM_F_BATCH),
       "persistent=off: F_BATCH still offered");
    is_st(tmem_new_pool(&C, PERS, &h), VIRTIO_TMEM_DENIED,
          "persistent=off: persistent NEW_POOL DENIED");
    is_st(tmem_new_pool(&C, EPH, &h), VIRTIO_TMEM_OK,
          "persistent=off: ephemeral NEW_POOL OK");
    is_st(put(&C, h, 1, 0, 5000), VIRTIO_TMEM_OK, "persistent=off: PUT");
    get_hit(&C, h, 1, 0, 5000, "persistent=off");

    /* B offers the feature but its driver does not take it */
    if (!is_eq(tmem_init(&B, TMEM_FEATURES_ALL &
                         ~(1UL << VIRTIO_TMEM_F_PERSISTENT)), 0,
               "device B set up without F_PERSISTENT")) {
        return;
    }
    is_st(tmem_new_pool(&B, PERS, &h), VIRTIO_TMEM_DENIED,
          "F_PERSISTENT not negotiated: persistent NEW_POOL DENIED");
    is_st(tmem_new_pool(&B, EPH, &h), VIRTIO_TMEM_OK,
          "F_PERSISTENT not negotiated: ephemeral NEW_POOL OK");
}

int main(void)
{
    uint32_t e = 0, p = 0;
    uint32_t ep0;

    test_setup();
    ep0 = A.cfg.epoch;
    test_namespaces();

    is_st(tmem_new_pool(&A, EPH, &e), VIRTIO_TMEM_OK, "NEW_POOL ephemeral");
    is_st(tmem_new_pool(&A, PERS, &p), VIRTIO_TMEM_OK, "NEW_POOL persistent");
    ok(VIRTIO_TMEM_POOL_SLOT(e) < 16 && VIRTIO_TMEM_POOL_SLOT(p) < 16 &&
       VIRTIO_TMEM_POOL_SLOT(e) != VIRTIO_TMEM_POOL_SLOT(p),
       "two pools, two slots (0x%x, 0x%x)", e, p);
    test_basic(e, p);
    test_flush_object_pool(e, p);
    test_new_pool_flags();
    test_batch(e, p);
    is_st(tmem_destroy_pool(&A, e), VIRTIO_TMEM_OK, "DESTROY_POOL ephemeral");
    is_st(tmem_destroy_pool(&A, p), VIRTIO_TMEM_OK, "DESTROY_POOL persistent");
    test_slots();
    test_no_persistent();

    /* the epoch is the host's business; just show it */
    tmem_read_config(&A);
    diag("A's epoch: %u at the start, %u at the end", ep0, A.cfg.epoch);
    return 0;
}
