/*
 * t-tmem-evict: two clients of one pool object with weights 1 and 3.
 *
 * Both put more ephemeral pages than the pool holds, interleaved, so the
 * pool must evict.  It evicts first from the client with the largest
 * pages/weight ratio, so in the end the weight-3 client must hold
 * noticeably more pages (at least twice as many) than the weight-1
 * client.  Counted by getting every key back.
 *
 * qemu-args: -object tmem-pool,id=tp0,size=4M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,weight=1,devno=fe.0.0005
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,weight=3,devno=fe.0.0006
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE        TMEM_PAGE
#define POOL_PAGES  ((4u << 20) / PAGE) /* upper bound, without metadata */
#define PUTS        1500                /* per client, ~1.5x the pool */
#define BATCH       32

static struct vccw_ring ring1, ring3;
static struct tmem_dev W1, W3;
static uint8_t pages[BATCH][PAGE] __attribute__((aligned(4096)));
static struct tmem_op ops[BATCH];

static struct tmem_oid oid(uint32_t k)
{
    struct tmem_oid o = { { 0xe71c, k, 0 } };

    return o;
}

static uint64_t seed(unsigned client, uint32_t k)
{
    return ((uint64_t)client << 32) | k;
}

/* PUT keys [k0, k0 + n) of one client in one batch. */
static void put_batch(struct tmem_dev *d, unsigned client, uint32_t pool,
                      uint32_t k0, unsigned n, unsigned *bad)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        tmem_fill(pages[i], seed(client, k0 + i));
        ops[i] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_PUT, .pool = pool,
                                   .oid = oid(k0 + i), .page = pages[i] };
    }
    if (tmem_batch(d, ops, n)) {
        *bad += n;
        return;
    }
    for (i = 0; i < n; i++) {
        if (ops[i].status != VIRTIO_TMEM_OK &&
            ops[i].status != VIRTIO_TMEM_NOSPACE) {
            (*bad)++;
        }
    }
}

/* GET every key of one client; count exact hits. */
static unsigned count_hits(struct tmem_dev *d, unsigned client,
                           uint32_t pool, unsigned *bad)
{
    unsigned hits = 0, i;
    uint32_t k;

    for (k = 0; k < PUTS; k += BATCH) {
        unsigned n = PUTS - k < BATCH ? PUTS - k : BATCH;

        for (i = 0; i < n; i++) {
            ops[i] = (struct tmem_op){ .op = VIRTIO_TMEM_OP_GET,
                                       .pool = pool, .oid = oid(k + i),
                                       .page = pages[i] };
        }
        if (tmem_batch(d, ops, n)) {
            *bad += n;
            continue;
        }
        for (i = 0; i < n; i++) {
            if (ops[i].status == VIRTIO_TMEM_OK) {
                if (tmem_check(pages[i], seed(client, k + i))) {
                    (*bad)++;
                } else {
                    hits++;
                }
            } else if (ops[i].status != VIRTIO_TMEM_MISS) {
                (*bad)++;
            }
        }
    }
    return hits;
}

int main(void)
{
    uint32_t p1 = 0, p3 = 0, k;
    unsigned bad = 0, h1, h3;
    uint64_t t0;

    if (!ok(tmem_find(&W1, 5, 0, &ring1) && tmem_find(&W3, 6, 0, &ring3),
            "both devices found")) {
        return 0;
    }
    if (!is_eq(tmem_init(&W1, TMEM_FEATURES_ALL), 0, "weight-1 device up") ||
        !is_eq(tmem_init(&W3, TMEM_FEATURES_ALL), 0, "weight-3 device up") ||
        !ok(tmem_has(&W1, VIRTIO_TMEM_F_BATCH) &&
            tmem_has(&W3, VIRTIO_TMEM_F_BATCH), "F_BATCH negotiated")) {
        return 0;
    }
    is_eq(tmem_new_pool(&W1, TMEM_POOL_FLAGS(false), &p1), VIRTIO_TMEM_OK,
          "weight 1: ephemeral pool");
    is_eq(tmem_new_pool(&W3, TMEM_POOL_FLAGS(false), &p3), VIRTIO_TMEM_OK,
          "weight 3: ephemeral pool");
    diag("eph_target_pages: weight 1 %lu, weight 3 %lu",
         W1.cfg.eph_target_pages, W3.cfg.eph_target_pages);

    /* interleave the two clients so that they compete all the way */
    t0 = rt_now_us();
    for (k = 0; k < PUTS; k += BATCH) {
        unsigned n = PUTS - k < BATCH ? PUTS - k : BATCH;

        put_batch(&W1, 1, p1, k, n, &bad);
        put_batch(&W3, 3, p3, k, n, &bad);
    }
    diag("2 x %u PUTs in %lu ms", PUTS, (rt_now_us() - t0) / 1000);
    is_eq(bad, 0, "every PUT OK or NOSPACE");

    tmem_read_config(&W1);
    tmem_read_config(&W3);
    diag("epochs after the flood: %u, %u; targets %lu, %lu", W1.cfg.epoch,
         W3.cfg.epoch, W1.cfg.eph_target_pages, W3.cfg.eph_target_pages);

    bad = 0;
    h1 = count_hits(&W1, 1, p1, &bad);
    h3 = count_hits(&W3, 3, p3, &bad);
    diag("pages kept: weight 1 %u, weight 3 %u (pool <= %u pages)", h1, h3,
         POOL_PAGES);
    is_eq(bad, 0, "every GET OK with the right data, or MISS");
    ok(h1 + h3 <= POOL_PAGES, "no more pages kept than the pool holds");
    ok(h1 + h3 >= POOL_PAGES / 2, "the pool was used (%u pages)", h1 + h3);
    ok(h1 > 0, "the weight-1 client keeps some pages");
    ok(h3 >= 2 * h1, "the weight-3 client keeps at least twice as many "
       "(%u vs %u)", h3, h1);
    return 0;
}
