/*
 * t-tmem-storm: a hostile guest at scale against virtio-tmem.  A million
 * random chains: random batch prefixes and operation headers (any op,
 * pool handles of the guest's pools or made up, any length), random
 * payloads, readable and writable areas of random lengths split over
 * random descriptors.  The device must answer every chain; the pages of a
 * persistent pool the storm never names stay intact; a normal PUT/GET
 * works throughout; run.py checks QEMU's peak RSS (max-rss-mib below).
 *
 * qemu-args: -object tmem-pool,id=tp0,size=64M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 * timeout: 600
 * max-rss-mib: 512
 * heavy: 1 (about 50 s: make check-sanitize runs it, make check skips it)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE        TMEM_PAGE
#define CHAINS      1000000UL
#define CHECK_EVERY 100000UL
#define KEEP        64                  /* pages of the pool kept aside */
#define HDR         sizeof(struct virtio_tmem_hdr)
#define PRE         sizeof(struct virtio_tmem_batch)

static struct vccw_ring ring;
static struct tmem_dev D;
static uint8_t rq[5 * (HDR + PAGE) + PRE] __attribute__((aligned(4096)));
static uint8_t wr[5 * (PAGE + 8)] __attribute__((aligned(4096)));
static uint8_t page[PAGE] __attribute__((aligned(4096)));
static struct vq_seg segs[VQ_MAX];
static uint64_t x = 0x2545f4914f6cdd1dUL;

static uint64_t rnd(void)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static struct tmem_oid oid(uint64_t n)
{
    struct tmem_oid o = { { n, n * 3, ~n } };

    return o;
}

/* The kept pool's pages: all there, all intact. */
static bool kept_intact(uint32_t kp)
{
    for (unsigned i = 0; i < KEEP; i++) {
        struct tmem_oid o = oid(i);

        memset(page, 0, PAGE);
        if (tmem_get(&D, kp, &o, i, page) != VIRTIO_TMEM_OK ||
            tmem_check(page, 7000 + i)) {
            diag("kept page %u lost or changed", i);
            return false;
        }
    }
    return true;
}

/* Split [base, base + len) into up to @max descriptors. */
static unsigned split(unsigned n, uint64_t base, uint32_t len, bool write,
                      unsigned max)
{
    while (len && n < VQ_MAX) {
        uint32_t part = max > 1 ? rnd() % len + 1 : len;

        if (n == VQ_MAX - 1 || max <= 1) {
            part = len;
        }
        segs[n++] = (struct vq_seg){ base, part, write };
        base += part;
        len -= part;
        max--;
    }
    return n;
}

static int one_chain(const uint32_t *pools, unsigned npools)
{
    struct virtio_tmem_batch *b = (void *)rq;
    unsigned count = rnd() % 5 + 1, i, n;
    uint32_t rlen = PRE, wlen = 0, used;

    memset(b, 0, PRE);
    b->count = le16(rnd() % 16 ? count : rnd());
    if (rnd() % 32 == 0) {
        b->reserved1 = rnd();
    }
    for (i = 0; i < count; i++) {
        struct virtio_tmem_hdr *h = (void *)(rq + rlen);
        struct tmem_oid o = oid(rnd() % 8);
        uint8_t op = rnd() % 9;
        uint32_t pool = rnd() % 8 ? pools[rnd() % npools] : rnd();
        uint32_t len = op == VIRTIO_TMEM_OP_PUT || op == VIRTIO_TMEM_OP_GET ?
                       PAGE : 0;

        if (rnd() % 32 == 0) {
            len = rnd() % (2 * PAGE);
        }
        tmem_hdr(h, op, pool, &o, rnd() % 16, len);
        if (rnd() % 64 == 0) {
            h->flags = rnd();
        }
        rlen += HDR;
        if (op == VIRTIO_TMEM_OP_PUT && len <= PAGE) {
            memset(rq + rlen, rnd(), len);
            rlen += len;
        } else if (op == VIRTIO_TMEM_OP_NEW_POOL) {
            /* payload of a new pool: sometimes a good one */
            tmem_new_pool_payload((void *)(rq + rlen),
                                  TMEM_POOL_FLAGS(rnd() & 1));
            rlen += sizeof(struct virtio_tmem_new_pool);
        }
        if (op == VIRTIO_TMEM_OP_GET && len <= PAGE) {
            wlen += len;
        }
        wlen += sizeof(struct virtio_tmem_footer);
    }
    /* lengths that do not match the headers, now and then */
    if (rnd() % 16 == 0) {
        rlen = rnd() % sizeof(rq);
    }
    if (rnd() % 16 == 0) {
        wlen = rnd() % sizeof(wr);
    }
    n = split(0, (uintptr_t)rq, rlen, false, rnd() % 4 + 1);
    n = split(n, (uintptr_t)wr, wlen, true, rnd() % 4 + 1);
    return n ? tmem_raw(&D, segs, n, &used) : 0;
}

int main(void)
{
    uint32_t kp, pools[4];
    uint64_t errors = 0, start = rt_now_us();
    bool sane = true;

    if (!tmem_find(&D, 5, 0, &ring) ||
        !is_eq(tmem_init(&D, TMEM_FEATURES_ALL), 0, "device set up")) {
        rt_bail("virtio-tmem unusable");
    }
    is_eq(tmem_new_pool(&D, TMEM_POOL_FLAGS(true), &kp), VIRTIO_TMEM_OK,
          "the kept persistent pool");
    for (unsigned i = 0; i < KEEP; i++) {
        struct tmem_oid o = oid(i);

        tmem_fill(page, 7000 + i);
        sane &= tmem_put(&D, kp, &o, i, page) == VIRTIO_TMEM_OK;
    }
    ok(sane, "%u pages put in it", KEEP);
    tmem_new_pool(&D, TMEM_POOL_FLAGS(false), &pools[0]);
    tmem_new_pool(&D, TMEM_POOL_FLAGS(true), &pools[1]);
    pools[2] = pools[0] ^ 0x10000;          /* stale generation */
    pools[3] = 0xffff;                      /* no such slot */

    for (uint64_t c = 1; c <= CHAINS; c++) {
        int ret = one_chain(pools, 4);

        /* the device may refuse a chain, never hang or lose the ring */
        if (ret < 0) {
            if (!errors++) {
                diag("chain %lu: transport error %d", c, ret);
            }
        }
        if (c % CHECK_EVERY == 0) {
            struct tmem_oid o = oid(99);

            /* a normal PUT and GET still work, in the kept pool */
            tmem_fill(page, c);
            sane &= tmem_put(&D, kp, &o, KEEP + 1, page) == VIRTIO_TMEM_OK;
            memset(page, 0, PAGE);
            sane &= tmem_get(&D, kp, &o, KEEP + 1, page) == VIRTIO_TMEM_OK &&
                    !tmem_check(page, c);
            sane &= kept_intact(kp);
        }
    }
    diag("%lu chains in %lu ms", CHAINS, (rt_now_us() - start) / 1000);
    is_eq(errors, 0, "the device answered every chain");
    ok(sane, "normal PUT/GET worked and the kept pages stayed intact "
       "through the storm");
    ok(kept_intact(kp), "... and after it");
    return 0;
}
