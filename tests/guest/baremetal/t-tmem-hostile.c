/*
 * t-tmem-hostile: malformed chains and operations, odd descriptor
 * splits, bad pool handles and PUT floods against virtio-tmem.  After
 * every hostile case the device must still answer a normal PUT/GET.
 *
 * Chain-level errors: one INVALID footer in the last 8 bytes of the
 * writable area (if it has 8 bytes), nothing else written, used length
 * = writable length (0 below 8 bytes).  Per-operation errors: INVALID
 * (or NOPOOL/STALE) in that operation's footer only.
 *
 * Device A (fe.0.0005) takes the malformed requests; device F
 * (fe.0.0006, cap=1M) takes the floods.
 *
 * qemu-args: -object tmem-pool,id=tp0,size=64M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,cap=1M,devno=fe.0.0006
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE        TMEM_PAGE
#define EPH         TMEM_POOL_FLAGS(false)
#define PERS        TMEM_POOL_FLAGS(true)
#define HDR         sizeof(struct virtio_tmem_hdr)
#define PRE         sizeof(struct virtio_tmem_batch)
#define FT          sizeof(struct virtio_tmem_footer)
#define SENTINEL    0x5c
#define EPH_FLOOD   2000
#define PERS_FLOOD  600

static struct vccw_ring ring_a, ring_f;
static struct tmem_dev A, F;

/* readable request bytes and writable area of a hand-built chain */
static uint8_t rq[16384] __attribute__((aligned(4096)));
static uint32_t rlen;
static uint8_t wr[16384] __attribute__((aligned(4096)));
static uint8_t page[2][PAGE] __attribute__((aligned(4096)));
static uint8_t dst[PAGE] __attribute__((aligned(4096)));
static struct vq_seg segs[VQ_MAX];

static uint32_t sp;             /* A's persistent pool for sanity checks */
static uint32_t ap;             /* A's pool the hostile requests use */
static uint64_t sane_seed = 1000000;

static struct tmem_oid oid(uint64_t n)
{
    struct tmem_oid o = { { n, n ^ 0x5555, ~n } };

    return o;
}

/* ---- building chains ---------------------------------------------------- */

static void rq_reset(void)
{
    rlen = 0;
}

static void *rq_add(const void *p, uint32_t n)
{
    void *at = rq + rlen;

    if (p) {
        memcpy(at, p, n);
    } else {
        memset(at, 0, n);
    }
    rlen += n;
    return at;
}

static struct virtio_tmem_batch *rq_prefix(uint16_t count)
{
    struct virtio_tmem_batch *b = rq_add(NULL, PRE);

    b->count = le16(count);
    return b;
}

static struct virtio_tmem_hdr *rq_hdr(uint8_t op, uint32_t pool,
                                      uint64_t obj, uint32_t index,
                                      uint32_t len)
{
    struct virtio_tmem_hdr *h = rq_add(NULL, HDR);
    struct tmem_oid o = oid(obj);

    tmem_hdr(h, op, pool, &o, index, len);
    return h;
}

static void wr_reset(void)
{
    memset(wr, SENTINEL, sizeof(wr));
}

static const struct virtio_tmem_footer *wr_footer(uint32_t off)
{
    return (const struct virtio_tmem_footer *)(wr + off);
}

static bool wr_untouched(uint32_t from, uint32_t to)
{
    uint32_t i;

    for (i = from; i < to; i++) {
        if (wr[i] != SENTINEL) {
            return false;
        }
    }
    return true;
}

/*
 * Send rq[0..rlen) readable and wr[0..wlen) writable, split into
 * descriptors of the lengths in rs / ws (0-terminated; NULL: one
 * descriptor).  Returns the transport result; *used gets the used length.
 */
static int send_split(struct tmem_dev *d, uint32_t wlen, const uint32_t *rs,
                      const uint32_t *ws, uint32_t *used)
{
    uint32_t off = 0, n = 0;

    if (rs) {
        for (; *rs; rs++) {
            segs[n++] = (struct vq_seg){ (uintptr_t)rq + off, *rs, false };
            off += *rs;
        }
    } else if (rlen) {
        segs[n++] = (struct vq_seg){ (uintptr_t)rq, rlen, false };
        off = rlen;
    }
    if (off != rlen) {
        rt_bail("test bug: readable split %u != %u", off, rlen);
    }
    off = 0;
    if (ws) {
        for (; *ws; ws++) {
            segs[n++] = (struct vq_seg){ (uintptr_t)wr + off, *ws, true };
            off += *ws;
        }
    } else if (wlen) {
        segs[n++] = (struct vq_seg){ (uintptr_t)wr, wlen, true };
        off = wlen;
    }
    if (off != wlen) {
        rt_bail("test bug: writable split %u != %u", off, wlen);
    }
    *used = 0xdeadbeef;
    return tmem_raw(d, segs, n, used);
}

static int send(uint32_t wlen, uint32_t *used)
{
    return send_split(&A, wlen, NULL, NULL, used);
}

/* ---- checks ------------------------------------------------------------- */

/* A normal PUT then GET on A must work. */
static void still_works(const char *after)
{
    struct tmem_oid o = oid(999);
    int p, g;

    sane_seed++;
    tmem_fill(page[1], sane_seed);
    p = tmem_put(&A, sp, &o, 0, page[1]);
    memset(dst, 0xa5, PAGE);
    g = tmem_get(&A, sp, &o, 0, dst);
    if (!ok(p == VIRTIO_TMEM_OK && g == VIRTIO_TMEM_OK &&
            !tmem_check(dst, sane_seed), "device still works after %s",
            after)) {
        diag("  PUT %s, GET %s", tmem_status_name(p), tmem_status_name(g));
    }
}

/* The chain in rq / wr[0..wlen) must be refused as a whole. */
static void expect_chain_invalid(const char *what, uint32_t wlen)
{
    uint32_t used, want_used = wlen >= FT ? wlen : 0;
    uint32_t keep = wlen >= FT ? wlen - FT : wlen;
    bool footer, untouched;
    int rc;

    wr_reset();
    rc = send(wlen, &used);
    footer = wlen < FT ||
             tmem_footer_status(wr_footer(wlen - FT)) == VIRTIO_TMEM_INVALID;
    untouched = wr_untouched(0, keep) && wr_untouched(wlen, wlen + 64);
    if (!ok(rc == 0 && used == want_used && footer && untouched,
            "%s: chain INVALID%s, used length %u", what,
            wlen >= FT ? " in the last 8 bytes" : "", want_used)) {
        diag("  rc %d, used %u, last footer status %u, rest %s", rc, used,
             wlen >= FT ? tmem_footer_status(wr_footer(wlen - FT)) : 0,
             untouched ? "untouched" : "WRITTEN");
    }
    still_works(what);
}

/* ---- chain-level errors ------------------------------------------------- */

static void test_chain_errors(void)
{
    struct virtio_tmem_batch *b;
    unsigned i;

    /* count 0 */
    rq_reset();
    rq_prefix(0);
    expect_chain_invalid("count 0, prefix only", FT);
    rq_reset();
    rq_prefix(0);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 1, 0, 0);
    expect_chain_invalid("count 0 with a header and a footer", FT);

    /* count above max_batch */
    rq_reset();
    rq_prefix(65);
    for (i = 0; i < 65; i++) {
        rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 1, i, 0);
    }
    expect_chain_invalid("count 65 (65 headers, 65 footers)", 65 * FT);
    rq_reset();
    rq_prefix(0xffff);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 1, 0, 0);
    expect_chain_invalid("count 0xffff", FT);

    /* reserved prefix fields */
    rq_reset();
    b = rq_prefix(1);
    b->reserved0 = le16(1);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 1, 0, 0);
    expect_chain_invalid("prefix reserved0 = 1", FT);
    rq_reset();
    b = rq_prefix(1);
    b->reserved1 = le32(0x80000000);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 1, 0, 0);
    expect_chain_invalid("prefix reserved1 = 0x80000000", FT);

    /* readable length wrong */
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 2, 0, PAGE);
    rq_add(page[0], PAGE - 1);
    expect_chain_invalid("PUT with 4095 data bytes", FT);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 2, 0, PAGE);
    rq_add(page[0], PAGE + 1);
    expect_chain_invalid("PUT with 4097 data bytes", FT);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 2, 0, 0);
    rq_add(NULL, 1);
    expect_chain_invalid("FLUSH_PAGE with 1 extra readable byte", FT);
    rq_reset();
    rq_prefix(2);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 2, 0, 0);
    expect_chain_invalid("count 2 with only 1 header", 2 * FT);
    rq_reset();
    rq_prefix(1);
    rq_add(NULL, HDR - 1);
    expect_chain_invalid("header 1 byte short", FT);
    rq_reset();
    rq_add(NULL, 4);
    expect_chain_invalid("readable part of 4 bytes", FT);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_NEW_POOL, 0, 0, 0, 0);
    expect_chain_invalid("NEW_POOL without its payload", FT);
    {
        /* no readable part at all: only a writable descriptor */
        rq_reset();
        expect_chain_invalid("no readable part", FT);
    }

    /* writable length wrong */
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 2, 0, PAGE);
    expect_chain_invalid("GET with a 4095-byte buffer", PAGE - 1 + FT);
    expect_chain_invalid("GET with 8 extra writable bytes", PAGE + 2 * FT);
    expect_chain_invalid("GET without its buffer", FT);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 2, 0, 0);
    expect_chain_invalid("FLUSH_PAGE with 16 writable bytes", 2 * FT);
    expect_chain_invalid("FLUSH_PAGE with 9 writable bytes", FT + 1);

    /* writable part below 8 bytes, or none */
    expect_chain_invalid("FLUSH_PAGE with 4 writable bytes", 4);
    expect_chain_invalid("FLUSH_PAGE with 7 writable bytes", 7);
    expect_chain_invalid("FLUSH_PAGE with no writable part", 0);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 3, 0, PAGE);
    rq_add(page[0], PAGE);
    expect_chain_invalid("PUT with no writable part", 0);
    expect_chain_invalid("PUT with a 1-byte writable part", 1);
    /* none of those PUTs may have stored anything */
    {
        struct tmem_oid o = oid(3);

        is_st(tmem_get(&A, ap, &o, 0, dst), VIRTIO_TMEM_MISS,
              "refused PUTs stored nothing");
    }

    /* GET buffer in a device-readable descriptor: layout mismatch */
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 2, 0, PAGE);
    rq_add(NULL, PAGE);
    expect_chain_invalid("GET buffer device-readable", FT);
    /* and a PUT page in a device-writable descriptor */
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 2, 0, PAGE);
    expect_chain_invalid("PUT page device-writable", PAGE + FT);
}

/* count > 1 needs F_BATCH */
static void test_no_batch(void)
{
    static struct tmem_op ops[2];
    int rc;

    if (!is_eq(tmem_init(&A, TMEM_FEATURES_ALL &
                         ~(1UL << VIRTIO_TMEM_F_BATCH)), 0,
               "A set up without F_BATCH")) {
        return;
    }
    ok(!tmem_has(&A, VIRTIO_TMEM_F_BATCH), "F_BATCH not negotiated");
    is_st(tmem_new_pool(&A, PERS, &sp), VIRTIO_TMEM_OK, "count 1 works");
    ap = sp;
    tmem_fill(page[0], 77);
    memset(dst, SENTINEL, PAGE);
    ops[0] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_PUT, .pool = sp,
                               .oid = oid(5), .page = page[0] };
    ops[1] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_GET, .pool = sp,
                               .oid = oid(5), .page = dst };
    rc = tmem_batch(&A, ops, 2);
    ok(rc == 0 && ops[0].status == TMEM_NOT_WRITTEN &&
       ops[1].status == VIRTIO_TMEM_INVALID,
       "count 2 without F_BATCH: chain INVALID (footers %s, %s)",
       tmem_status_name(ops[0].status), tmem_status_name(ops[1].status));
    {
        unsigned i, keep = 1;

        for (i = 0; i < PAGE; i++) {
            keep &= dst[i] == SENTINEL;
        }
        ok(keep, "count 2 without F_BATCH: GET buffer untouched");
    }
    is_st(tmem_get(&A, sp, &ops[0].oid, 0, dst), VIRTIO_TMEM_MISS,
          "count 2 without F_BATCH: the PUT was not done");
    still_works("count 2 without F_BATCH");

    /* back to all features: the reset drops A's pools */
    if (!is_eq(tmem_init(&A, TMEM_FEATURES_ALL), 0, "A set up again")) {
        rt_bail("A unusable");
    }
    is_st(tmem_new_pool(&A, PERS, &sp), VIRTIO_TMEM_OK, "sanity pool again");
    is_st(tmem_new_pool(&A, PERS, &ap), VIRTIO_TMEM_OK, "test pool again");
    /* the reset dropped the old pool: use the new one */
    ops[0].pool = ops[1].pool = sp;
    memset(dst, SENTINEL, PAGE);
    rc = tmem_batch(&A, ops, 2);
    if (!ok(rc == 0 && ops[0].status == VIRTIO_TMEM_OK &&
            ops[1].status == VIRTIO_TMEM_OK && !tmem_check(dst, 77),
            "count 2 with F_BATCH: PUT + GET work")) {
        diag("  rc %d, %s, %s", rc, tmem_status_name(ops[0].status),
             tmem_status_name(ops[1].status));
    }
}

/* ---- per-operation errors ----------------------------------------------- */

/* A single-op chain built in rq with wlen writable bytes: the footer is
 * the last 8 bytes; returns its status (or a negative error). */
static int one_op(uint32_t wlen, uint32_t *value)
{
    uint32_t used;
    int rc;

    wr_reset();
    rc = send(wlen, &used);
    if (rc) {
        return rc;
    }
    if (used != wlen) {
        diag("  used length %u, expected %u", used, wlen);
        return TMEM_ERR_USED_LEN;
    }
    if (value) {
        *value = tmem_footer_value(wr_footer(wlen - FT));
    }
    return tmem_footer_status(wr_footer(wlen - FT));
}

static void test_op_errors(void)
{
    static const uint8_t bad_ops[] = { 0, 8, 9, 0x7f, 0x80, 200, 255 };
    struct virtio_tmem_hdr *h;
    struct tmem_oid o = oid(7);
    unsigned i;
    int st;

    /* header fields that must be zero */
    rq_reset();
    rq_prefix(1);
    h = rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 7, 0, PAGE);
    h->flags = 1;
    rq_add(page[0], PAGE);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with flags 1");
    h->flags = 0x80;
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with flags 0x80");
    h->flags = 0;
    h->reserved0 = le16(0x100);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with reserved0 set");
    h->reserved0 = 0;
    h->reserved1 = le64(1);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with reserved1 = 1");
    h->reserved1 = le64(1ul << 63);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID,
          "PUT with reserved1 bit 63");
    is_st(tmem_get(&A, ap, &o, 0, dst), VIRTIO_TMEM_MISS,
          "invalid PUTs stored nothing");

    rq_reset();
    rq_prefix(1);
    h = rq_hdr(VIRTIO_TMEM_OP_GET, ap, 7, 0, PAGE);
    h->flags = 2;
    st = one_op(PAGE + FT, NULL);
    ok(st == VIRTIO_TMEM_INVALID && tmem_is_zero(wr),
       "GET with flags 2: INVALID, buffer zero-filled (%s)",
       tmem_status_name(st));

    rq_reset();
    rq_prefix(1);
    h = rq_hdr(VIRTIO_TMEM_OP_DESTROY_POOL, sp, 0, 0, 0);
    h->flags = 1;
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "DESTROY_POOL with flags");
    still_works("an invalid DESTROY_POOL of the sanity pool");

    /* unknown operations */
    for (i = 0; i < sizeof(bad_ops); i++) {
        rq_reset();
        rq_prefix(1);
        rq_hdr(bad_ops[i], ap, 7, 0, 0);
        is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "unknown op %u",
              bad_ops[i]);
    }
    still_works("unknown ops");

    /* wrong len: the layout follows hdr.len, the op is refused */
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 7, 0, 100);
    rq_add(page[0], 100);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with len 100");
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 7, 0, 0);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with len 0");
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 7, 0, 2 * PAGE);
    rq_add(page[0], 2 * PAGE);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "PUT with len 8192");
    is_st(tmem_get(&A, ap, &o, 0, dst), VIRTIO_TMEM_MISS,
          "PUTs with a wrong len stored nothing");

    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 7, 0, 100);
    st = one_op(100 + FT, NULL);
    ok(st == VIRTIO_TMEM_INVALID && wr_untouched(100 + FT, 200),
       "GET with len 100: INVALID (%s)", tmem_status_name(st));
    {
        bool zero = true;

        for (i = 0; i < 100; i++) {
            zero &= wr[i] == 0;
        }
        ok(zero, "GET with len 100: its 100-byte buffer zero-filled");
    }
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 7, 0, 0);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "GET with len 0");

    {
        static const uint8_t ops[] = {
            VIRTIO_TMEM_OP_FLUSH_PAGE, VIRTIO_TMEM_OP_FLUSH_OBJECT,
            VIRTIO_TMEM_OP_FLUSH_POOL, VIRTIO_TMEM_OP_DESTROY_POOL,
        };
        static const uint32_t lens[] = { 1, PAGE, 0xffffffff };
        unsigned k, bad = 0;

        for (i = 0; i < sizeof(ops); i++) {
            for (k = 0; k < 3; k++) {
                rq_reset();
                rq_prefix(1);
                rq_hdr(ops[i], ap, 7, 0, lens[k]);
                st = one_op(FT, NULL);
                if (st != VIRTIO_TMEM_INVALID) {
                    diag("  op %u len 0x%x: %s", ops[i], lens[k],
                         tmem_status_name(st));
                    bad++;
                }
            }
        }
        is_eq(bad, 0, "FLUSH_*/DESTROY_POOL with len 1, 4096, 0xffffffff: "
              "INVALID");
    }
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_NEW_POOL, 0, 0, 0, 32);
    tmem_new_pool_payload(rq_add(NULL, 32), EPH);
    is_st(one_op(FT, NULL), VIRTIO_TMEM_INVALID, "NEW_POOL with len 32");
    still_works("operations with a wrong len");
    {
        struct tmem_oid s = oid(999);

        is_st(tmem_flush_page(&A, ap, &s, 0, NULL), VIRTIO_TMEM_OK,
              "test pool survived the invalid DESTROY_POOLs");
    }

    /* an invalid op in a batch does not disturb its neighbours */
    rq_reset();
    rq_prefix(3);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 8, 0, PAGE);
    rq_hdr(0, ap, 8, 0, 0);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 8, 0, PAGE);
    tmem_fill(page[0], 88);
    rq_add(page[0], PAGE);
    {
        uint32_t used;
        int rc;

        wr_reset();
        rc = send(PAGE + 3 * FT, &used);
        ok(rc == 0 && used == PAGE + 3 * FT &&
           tmem_footer_status(wr_footer(PAGE)) == VIRTIO_TMEM_OK &&
           tmem_footer_status(wr_footer(PAGE + FT)) == VIRTIO_TMEM_INVALID &&
           tmem_footer_status(wr_footer(PAGE + 2 * FT)) == VIRTIO_TMEM_OK &&
           !tmem_check(wr, 88),
           "batch PUT, op 0, GET: OK, INVALID, OK with the data");
    }
}

/* ---- pool handles --------------------------------------------------------- */

static void test_handles(void)
{
    static const uint8_t ops[] = {
        VIRTIO_TMEM_OP_PUT, VIRTIO_TMEM_OP_GET, VIRTIO_TMEM_OP_FLUSH_PAGE,
        VIRTIO_TMEM_OP_FLUSH_OBJECT, VIRTIO_TMEM_OP_FLUSH_POOL,
        VIRTIO_TMEM_OP_DESTROY_POOL,
    };
    /* A has only sp and ap: any other slot below 16 is free */
    unsigned unused = 15;
    uint32_t handles[5];
    unsigned i, k;

    while (unused == VIRTIO_TMEM_POOL_SLOT(sp) ||
           unused == VIRTIO_TMEM_POOL_SLOT(ap)) {
        unused--;
    }
    handles[0] = VIRTIO_TMEM_POOL_HANDLE(16, VIRTIO_TMEM_POOL_GEN(ap));
    handles[1] = VIRTIO_TMEM_POOL_HANDLE(16, 0);
    handles[2] = VIRTIO_TMEM_POOL_HANDLE(0xffff, 0);
    handles[3] = 0xffffffff;
    handles[4] = VIRTIO_TMEM_POOL_HANDLE(unused, VIRTIO_TMEM_POOL_GEN(ap));

    for (k = 0; k < sizeof(handles) / sizeof(handles[0]); k++) {
        unsigned bad = 0;

        for (i = 0; i < sizeof(ops); i++) {
            bool data = ops[i] == VIRTIO_TMEM_OP_PUT ||
                        ops[i] == VIRTIO_TMEM_OP_GET;
            uint32_t w = ops[i] == VIRTIO_TMEM_OP_GET ? PAGE + FT : FT;
            int st;

            rq_reset();
            rq_prefix(1);
            rq_hdr(ops[i], handles[k], 9, 0, data ? PAGE : 0);
            if (ops[i] == VIRTIO_TMEM_OP_PUT) {
                rq_add(page[0], PAGE);
            }
            st = one_op(w, NULL);
            if (st != VIRTIO_TMEM_NOPOOL ||
                (ops[i] == VIRTIO_TMEM_OP_GET && !tmem_is_zero(wr))) {
                diag("  op %u: %s", ops[i], tmem_status_name(st));
                bad++;
            }
        }
        is_eq(bad, 0, "handle 0x%08x (slot %u): NOPOOL for every op",
              handles[k], VIRTIO_TMEM_POOL_SLOT(handles[k]));
    }

    /* right slot, wrong generation */
    {
        uint32_t h = ap ^ 0x10000, v = 0;
        int st;

        tmem_read_config(&A);
        rq_reset();
        rq_prefix(1);
        rq_hdr(VIRTIO_TMEM_OP_PUT, h, 9, 0, PAGE);
        rq_add(page[0], PAGE);
        st = one_op(FT, &v);
        ok(st == VIRTIO_TMEM_STALE && v == A.cfg.epoch,
           "handle 0x%08x (generation off by one): STALE, value = epoch %u "
           "(%s, %u)", h, A.cfg.epoch, tmem_status_name(st), v);
    }
    still_works("bad pool handles");
}

/* ---- odd descriptor splits ---------------------------------------------- */

static void test_splits(void)
{
    static const uint32_t put_rs[] = { 3, 5 + 17, 31 + 1000, 3000, 96, 0 };
    static const uint32_t get_ws[] = { 1, 2047, 2053, 3, 0 };
    static const uint32_t ft_ws[] = { 3, 5, 0 };
    static uint32_t tiny_rs[VQ_MAX];
    uint32_t used, i, n;
    int rc;

    tmem_fill(page[0], 123);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 10, 0, PAGE);
    rq_add(page[0], PAGE);
    wr_reset();
    rc = send_split(&A, FT, put_rs, ft_ws, &used);
    ok(rc == 0 && used == FT &&
       tmem_footer_status(wr_footer(0)) == VIRTIO_TMEM_OK,
       "PUT split 3/22/1031/3000/96 readable (page in 1000/3000/96), "
       "footer split 3/5: OK");

    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 10, 0, PAGE);
    wr_reset();
    rc = send_split(&A, PAGE + FT, NULL, get_ws, &used);
    ok(rc == 0 && used == PAGE + FT &&
       tmem_footer_status(wr_footer(PAGE)) == VIRTIO_TMEM_OK &&
       !tmem_check(wr, 123),
       "GET split 1/2047/2053/3 (footer across descriptors): OK, data "
       "right");

    /* 126 readable descriptors of about 33 bytes + 1 writable */
    tmem_fill(page[0], 124);
    rq_reset();
    rq_prefix(1);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 10, 1, PAGE);
    rq_add(page[0], PAGE);
    n = VQ_MAX - 2;
    for (i = 0; i < n - 1; i++) {
        tiny_rs[i] = rlen / n;
    }
    tiny_rs[n - 1] = rlen - (n - 1) * (rlen / n);
    tiny_rs[n] = 0;
    wr_reset();
    rc = send_split(&A, FT, tiny_rs, NULL, &used);
    ok(rc == 0 && used == FT &&
       tmem_footer_status(wr_footer(0)) == VIRTIO_TMEM_OK,
       "PUT in %u readable descriptors: OK", n);
    {
        struct tmem_oid o = oid(10);

        memset(dst, 0, PAGE);
        ok(tmem_get(&A, ap, &o, 1, dst) == VIRTIO_TMEM_OK &&
           !tmem_check(dst, 124), "and its data reads back");
    }

    /* batch of PUT + GET + NEW_POOL + FLUSH_PAGE: readable in one
     * descriptor, writable (GET page + footers) in one */
    tmem_fill(page[0], 125);
    rq_reset();
    rq_prefix(4);
    rq_hdr(VIRTIO_TMEM_OP_PUT, ap, 11, 0, PAGE);
    rq_hdr(VIRTIO_TMEM_OP_GET, ap, 11, 0, PAGE);
    rq_hdr(VIRTIO_TMEM_OP_NEW_POOL, 0, 0, 0, 0);
    rq_hdr(VIRTIO_TMEM_OP_FLUSH_PAGE, ap, 11, 0, 0);
    rq_add(page[0], PAGE);
    tmem_new_pool_payload(rq_add(NULL, 32), EPH);
    wr_reset();
    rc = send_split(&A, PAGE + 4 * FT, NULL, NULL, &used);
    ok(rc == 0 && used == PAGE + 4 * FT &&
       tmem_footer_status(wr_footer(PAGE)) == VIRTIO_TMEM_OK &&
       tmem_footer_status(wr_footer(PAGE + FT)) == VIRTIO_TMEM_OK &&
       tmem_footer_status(wr_footer(PAGE + 2 * FT)) == VIRTIO_TMEM_OK &&
       tmem_footer_status(wr_footer(PAGE + 3 * FT)) == VIRTIO_TMEM_OK &&
       tmem_footer_value(wr_footer(PAGE + 3 * FT)) == 1 &&
       !tmem_check(wr, 125),
       "PUT+GET+NEW_POOL+FLUSH_PAGE in 2 descriptors: all OK");
    if (tmem_footer_status(wr_footer(PAGE + 2 * FT)) == VIRTIO_TMEM_OK) {
        tmem_destroy_pool(&A, tmem_footer_value(wr_footer(PAGE + 2 * FT)));
    }
    still_works("odd splits");
}

/* ---- floods on F (cap=1M) ----------------------------------------------- */

static void test_floods(void)
{
    uint32_t e = 0, p = 0, found = 0, i;
    unsigned n_ok = 0, n_nospace = 0, n_other = 0, hits = 0;
    int st = 0, first_other = 0;
    uint64_t t0;

    if (!is_eq(tmem_init(&F, TMEM_FEATURES_ALL), 0, "F (cap=1M) set up")) {
        return;
    }
    diag("F: pers_limit_pages %lu, eph_target_pages %lu",
         F.cfg.pers_limit_pages, F.cfg.eph_target_pages);
    is_st(tmem_new_pool(&F, EPH, &e), VIRTIO_TMEM_OK, "F: ephemeral pool");

    t0 = rt_now_us();
    for (i = 0; i < EPH_FLOOD; i++) {
        struct tmem_oid o = oid(0x100000 + i);

        tmem_fill(page[0], 0x100000 + i);
        st = tmem_put(&F, e, &o, 0, page[0]);
        if (st == VIRTIO_TMEM_OK) {
            n_ok++;
        } else if (st == VIRTIO_TMEM_NOSPACE) {
            n_nospace++;
        } else if (!n_other++) {
            first_other = st;
        }
    }
    diag("%u ephemeral PUTs in %lu ms: %u OK, %u NOSPACE, %u other",
         EPH_FLOOD, (rt_now_us() - t0) / 1000, n_ok, n_nospace, n_other);
    ok(n_other == 0, "ephemeral flood: every PUT OK or NOSPACE (first other: "
       "%s)", n_other ? tmem_status_name(first_other) : "none");
    ok(n_ok > EPH_FLOOD / 2, "ephemeral flood: own LRU pages are evicted, "
       "so most PUTs succeed (%u)", n_ok);
    for (i = EPH_FLOOD - 16; i < EPH_FLOOD; i++) {
        struct tmem_oid o = oid(0x100000 + i);

        hits += tmem_get(&F, e, &o, 0, dst) == VIRTIO_TMEM_OK &&
                !tmem_check(dst, 0x100000 + i);
    }
    is_eq(hits, 16, "ephemeral flood: the 16 newest pages are kept");
    {
        struct tmem_oid o = oid(0x100000);

        is_st(tmem_get(&F, e, &o, 0, dst), VIRTIO_TMEM_MISS,
              "ephemeral flood: the oldest page was evicted");
    }
    still_works("F's ephemeral flood");

    /* persistent pages beyond the cap: NOSPACE, never evicted */
    is_st(tmem_new_pool(&F, PERS, &p), VIRTIO_TMEM_OK, "F: persistent pool");
    n_ok = n_nospace = n_other = 0;
    for (i = 0; i < PERS_FLOOD; i++) {
        struct tmem_oid o = oid(0x200000 + i);

        tmem_fill(page[0], 0x200000 + i);
        st = tmem_put(&F, p, &o, 0, page[0]);
        if (st == VIRTIO_TMEM_OK && !n_nospace) {
            n_ok++;
        } else if (st == VIRTIO_TMEM_NOSPACE) {
            n_nospace++;
        } else if (!n_other++) {
            first_other = st;
            diag("  PUT %u: %s", i, tmem_status_name(st));
        }
    }
    diag("%u persistent PUTs: %u OK, then %u NOSPACE, %u other", PERS_FLOOD,
         n_ok, n_nospace, n_other);
    ok(n_nospace > 0 && n_other == 0, "persistent flood over the cap: OK "
       "until NOSPACE, then only NOSPACE");
    ok(n_ok >= 200 && n_ok <= 256, "persistent flood: %u pages fit in 1 MiB "
       "with metadata", n_ok);
    ok(n_ok <= F.cfg.pers_limit_pages || !F.cfg.pers_limit_pages,
       "persistent flood: no more than pers_limit_pages (%lu)",
       F.cfg.pers_limit_pages);
    hits = 0;
    for (i = 0; i < n_ok; i += 17) {
        struct tmem_oid o = oid(0x200000 + i);

        hits += tmem_get(&F, p, &o, 0, dst) == VIRTIO_TMEM_OK &&
                !tmem_check(dst, 0x200000 + i);
    }
    is_eq(hits, (n_ok + 16) / 17, "persistent pages all kept");
    {
        struct tmem_oid o = oid(0x300000);

        tmem_fill(page[0], 1);
        is_st(tmem_put(&F, e, &o, 0, page[0]), VIRTIO_TMEM_NOSPACE,
              "ephemeral PUT with the cap full of persistent pages: NOSPACE");
    }
    is_st(tmem_flush_pool(&F, p, &found), VIRTIO_TMEM_OK,
          "F: FLUSH_POOL persistent");
    is_eq(found, n_ok, "F: FLUSH_POOL found every persistent page");
    {
        /* freeing a large flush may be deferred: allow a moment */
        struct tmem_oid o = oid(0x300001);

        t0 = rt_now_us();
        do {
            st = tmem_put(&F, e, &o, 0, page[0]);
        } while (st == VIRTIO_TMEM_NOSPACE && rt_now_us() - t0 < 3000000);
        is_st(st, VIRTIO_TMEM_OK, "F: ephemeral PUT works again after the "
              "flush (%lu ms)", (rt_now_us() - t0) / 1000);
    }
    still_works("F's persistent flood");
}

int main(void)
{
    struct tmem_oid o = oid(1);

    if (!tmem_find(&A, 5, 0, &ring_a) || !tmem_find(&F, 6, 0, &ring_f)) {
        rt_bail("virtio-tmem devices not found");
    }
    if (!is_eq(tmem_init(&A, TMEM_FEATURES_ALL), 0, "A set up")) {
        rt_bail("A unusable");
    }
    is_st(tmem_new_pool(&A, PERS, &sp), VIRTIO_TMEM_OK, "sanity pool");
    is_st(tmem_new_pool(&A, PERS, &ap), VIRTIO_TMEM_OK, "test pool");
    tmem_fill(page[0], 42);
    still_works("setup");

    test_chain_errors();
    test_no_batch();
    test_op_errors();
    test_handles();
    test_splits();

    /* a page of A that must survive F's floods */
    tmem_fill(page[0], 4242);
    is_st(tmem_put(&A, ap, &o, 77, page[0]), VIRTIO_TMEM_OK,
          "A: page before F's floods");
    test_floods();
    memset(dst, 0, PAGE);
    ok(tmem_get(&A, ap, &o, 77, dst) == VIRTIO_TMEM_OK &&
       !tmem_check(dst, 4242), "A's page survived F's floods");
    return 0;
}
