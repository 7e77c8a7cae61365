/*
 * b-tmem: guest-visible throughput of one virtio-tmem-ccw device under
 * TCG, from a bare-metal loop.
 *
 * One device, one ephemeral and one persistent guest pool.  Timed with
 * the TOD clock around the loop of each phase, driver work included
 * (filling the operation list, building the chain, notifying, polling
 * the used ring); only the sampled content checks of the GET phases are
 * left out.  An untimed warm-up (2 N ephemeral PUTs and GETs) comes first.
 *
 *   put-b1       N ephemeral PUTs, one per chain (distinct keys)
 *   put-b64      N ephemeral PUTs, 64 per chain (other distinct keys)
 *   get-b1       GET of the put-b1 keys, one per chain (all hit)
 *   get-b64      GET of the put-b64 keys, 64 per chain (all hit)
 *   pput-b64     N persistent PUTs, 64 per chain
 *   pget-b64     GET of those persistent keys, 64 per chain (all hit)
 *   flush-b64    FLUSH_PAGE of the persistent keys, 64 per chain
 *   newdestroy   NEW_POOL + DESTROY_POOL, one per chain each
 *
 * The PUT/GET/FLUSH sequence runs ROUNDS times (N = 8192 keys per phase
 * and round; the rates are over all rounds), then the PAIRS
 * NEW_POOL/DESTROY_POOL pairs.  A GET from a (private) ephemeral pool is
 * exclusive, so each ephemeral key is got once.
 *
 * Prints "bench: NAME VALUE" lines for bench/tmem-guest.sh: PHASE-ops/s
 * and PHASE-MiB/s (newdestroy-pairs/s), then "bench: verify-errors N"
 * (sampled GETs with wrong content, GETs that missed, unexpected
 * statuses) and "bench: done", and stops with rt_exit() (QEMU exits 0
 * if nothing failed).
 *
 * Pool use peaks at 2 N ephemeral pages (2 x 32 MiB + metadata for
 * N = 8192): run it with -object tmem-pool,size=128M or larger.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE            TMEM_PAGE
#define N               8192u       /* operations per phase */
#define B               64u         /* batch size */
#define ROUNDS          6u          /* every phase, results summed */
#define PAIRS           2048u       /* NEW_POOL/DESTROY_POOL pairs */
#define OBJ_PAGES       64u         /* pages per object (index 0..63) */
#define VERIFY_EVERY    7u          /* verify every 7th key got */

static struct vccw_ring ring;
static struct tmem_dev D;
static uint8_t src[B][PAGE] __attribute__((aligned(4096)));
static uint8_t dst[B][PAGE] __attribute__((aligned(4096)));
static struct tmem_op ops[B];
static unsigned errors;

static inline uint64_t tod(void)
{
    uint64_t t;

    asm volatile("stck %0" : "=Q"(t) : : "cc");
    return t;
}

/*
 * Key k (a 32-bit number) lives at object {0x746d656d, space, k / 64},
 * index k % 64.  Its content is source page k % 64 (filled once with
 * tmem_fill(seed k % 64)) with words 0 and 511 replaced by a stamp of
 * (space, k), so that a page that comes back under the wrong key shows.
 */
static struct tmem_oid key_oid(unsigned space, uint32_t k)
{
    struct tmem_oid o = { { 0x746d656d, space, k / OBJ_PAGES } };

    return o;
}

static uint64_t stamp(unsigned space, uint32_t k)
{
    return ((uint64_t)space << 32) | k;
}

static void *put_src(unsigned space, uint32_t k)
{
    uint64_t *w = (uint64_t *)src[k % B];

    w[0] = stamp(space, k);
    w[PAGE / 8 - 1] = ~stamp(space, k);
    return w;
}

/*
 * Check a page got for key k: both stamps, and every other word as
 * tmem_fill(k % 64) wrote it (tmem_check() then counts exactly the two
 * stamp words as different).
 */
static void verify(const void *page, unsigned space, uint32_t k)
{
    const uint64_t *w = page;

    if (w[0] != stamp(space, k) || w[PAGE / 8 - 1] != ~stamp(space, k) ||
        tmem_check(page, k % B) != 2) {
        if (errors++ < 5) {
            diag("key %u/%u: wrong content (stamp 0x%lx, %u words differ)",
                 space, k, w[0], tmem_check(page, k % B));
        }
    }
}

static void status_error(const char *what, uint32_t k, int st)
{
    if (errors++ < 5) {
        diag("%s key %u: %s", what, k, tmem_status_name(st));
    }
}

/* ---- reporting -------------------------------------------------------- */

/* TOD units are 2^-12 microseconds. */
static void report(const char *name, const char *unit, uint64_t n,
                   uint64_t d, bool pages)
{
    uint64_t ops, mib10;

    if (!d) {
        d = 1;
    }
    ops = n * 4096000000UL / d;
    rt_printf("bench: %s-%s/s %lu\n", name, unit, ops);
    if (pages) {
        /* n * 4 KiB / (d / 4096e6 s) in MiB/s, times 10 */
        mib10 = n * 160000000UL / d;
        rt_printf("bench: %s-MiB/s %lu.%lu\n", name, mib10 / 10, mib10 % 10);
    }
}

/* ---- phases ----------------------------------------------------------- */

/* Send one chain of b operations op on keys [k, k + b) of space. */
static void run_chain(uint8_t op, uint32_t pool, unsigned space, uint32_t k,
                      unsigned b, const char *what)
{
    unsigned i;

    for (i = 0; i < b; i++) {
        ops[i] = (struct tmem_op){
            .op = op, .pool = pool,
            .oid = key_oid(space, k + i), .index = (k + i) % OBJ_PAGES,
            .page = op == VIRTIO_TMEM_OP_PUT ? put_src(space, k + i) :
                    op == VIRTIO_TMEM_OP_GET ? dst[i] : NULL,
        };
    }
    if (tmem_batch(&D, ops, b)) {
        rt_bail("%s: chain at key %u failed", what, k);
    }
}

/* PUT keys [k0, k0 + n) of space into pool, batch b (n a multiple of b);
 * returns the TOD delta. */
static uint64_t put_phase(uint32_t pool, unsigned space, uint32_t k0,
                          uint32_t n, unsigned b, const char *what)
{
    uint64_t t0 = tod();
    uint32_t k;
    unsigned i;

    for (k = k0; k < k0 + n; k += b) {
        run_chain(VIRTIO_TMEM_OP_PUT, pool, space, k, b, what);
        for (i = 0; i < b; i++) {
            if (ops[i].status != VIRTIO_TMEM_OK) {
                status_error(what, k + i, ops[i].status);
            }
        }
    }
    return tod() - t0;
}

/* GET keys [k0, k0 + n) of space from pool, batch b; all must hit.  The
 * sampled content checks run outside the timed loop. */
static uint64_t get_phase(uint32_t pool, unsigned space, uint32_t k0,
                          uint32_t n, unsigned b, const char *what)
{
    uint64_t d = 0, t0;
    uint32_t k;
    unsigned i;

    for (k = k0; k < k0 + n; k += b) {
        t0 = tod();
        run_chain(VIRTIO_TMEM_OP_GET, pool, space, k, b, what);
        d += tod() - t0;
        for (i = 0; i < b; i++) {
            if (ops[i].status != VIRTIO_TMEM_OK) {
                status_error(what, k + i, ops[i].status);
            } else if ((k + i) % VERIFY_EVERY == 0) {
                verify(dst[i], space, k + i);
            }
        }
    }
    return d;
}

/* FLUSH_PAGE keys [k0, k0 + n) of space, batch b; each must be found. */
static uint64_t flush_phase(uint32_t pool, unsigned space, uint32_t k0,
                            uint32_t n, unsigned b, const char *what)
{
    uint64_t t0 = tod();
    uint32_t k;
    unsigned i;

    for (k = k0; k < k0 + n; k += b) {
        run_chain(VIRTIO_TMEM_OP_FLUSH_PAGE, pool, space, k, b, what);
        for (i = 0; i < b; i++) {
            if (ops[i].status != VIRTIO_TMEM_OK || ops[i].value != 1) {
                status_error(what, k + i, ops[i].status);
            }
        }
    }
    return tod() - t0;
}

static uint64_t newdestroy_phase(void)
{
    uint64_t t0 = tod(), t1;
    uint32_t h;
    unsigned i;
    int st;

    for (i = 0; i < PAIRS; i++) {
        st = tmem_new_pool(&D, TMEM_POOL_FLAGS(i & 1), &h);
        if (st != VIRTIO_TMEM_OK) {
            status_error("NEW_POOL", i, st);
            continue;
        }
        st = tmem_destroy_pool(&D, h);
        if (st != VIRTIO_TMEM_OK) {
            status_error("DESTROY_POOL", i, st);
        }
    }
    t1 = tod();
    return t1 - t0;
}

int main(void)
{
    uint32_t eph = 0, pers = 0;
    uint64_t start = rt_now_us(), t[8] = { 0 };
    unsigned i, r;
    int st;

    if (!tmem_find(&D, -1, 0, &ring)) {
        rt_bail("no virtio-tmem device");
    }
    st = tmem_init(&D, TMEM_FEATURES_ALL);
    if (st) {
        rt_bail("device setup: %s", tmem_status_name(st));
    }
    if (!tmem_has(&D, VIRTIO_TMEM_F_BATCH) || D.cfg.max_batch < B ||
        !tmem_has(&D, VIRTIO_TMEM_F_PERSISTENT)) {
        rt_bail("need F_BATCH with max_batch >= %u and F_PERSISTENT", B);
    }
    if (D.cfg.pers_limit_pages < N) {
        rt_bail("persistent limit %lu pages < %u: pool too small",
                D.cfg.pers_limit_pages, N);
    }
    st = tmem_new_pool(&D, TMEM_POOL_FLAGS(false), &eph);
    if (st) {
        rt_bail("ephemeral NEW_POOL: %s", tmem_status_name(st));
    }
    st = tmem_new_pool(&D, TMEM_POOL_FLAGS(true), &pers);
    if (st) {
        rt_bail("persistent NEW_POOL: %s", tmem_status_name(st));
    }
    for (i = 0; i < B; i++) {
        tmem_fill(src[i], i);
    }
    rt_printf("# b-tmem: %u rounds of %u ops per phase, batch %u, "
              "eph_target %lu pages\n", ROUNDS, N, B,
              D.cfg.eph_target_pages);

    /*
     * Untimed warm-up: the translator sees every path, and the host
     * touches the pool memory of 2 N pages (the most the timed phases
     * hold at once; entries freed by a GET are reused, not trimmed), so
     * that no phase pays for first-touch page faults in the host.
     */
    put_phase(eph, 9, 0, 512, 1, "warm-up PUT");
    put_phase(eph, 9, 512, 2 * N - 512, B, "warm-up PUT");
    get_phase(eph, 9, 0, 512, 1, "warm-up GET");
    get_phase(eph, 9, 512, 2 * N - 512, B, "warm-up GET");

    /* each round uses keys of its own (spaces 16 + r and 32 + r) */
    for (r = 0; r < ROUNDS; r++) {
        t[0] += put_phase(eph, 16 + r, 0, N, 1, "PUT b1");
        t[1] += put_phase(eph, 16 + r, N, N, B, "PUT b64");
        t[2] += get_phase(eph, 16 + r, 0, N, 1, "GET b1");
        t[3] += get_phase(eph, 16 + r, N, N, B, "GET b64");
        t[4] += put_phase(pers, 32 + r, 0, N, B, "persistent PUT b64");
        t[5] += get_phase(pers, 32 + r, 0, N, B, "persistent GET b64");
        t[6] += flush_phase(pers, 32 + r, 0, N, B, "FLUSH_PAGE b64");
    }
    /* last: DESTROY_POOL makes the host reap and trim (madvise) the
     * freed pool memory, which later PUTs would pay for again */
    t[7] = newdestroy_phase();
    report("put-b1", "ops", ROUNDS * N, t[0], true);
    report("put-b64", "ops", ROUNDS * N, t[1], true);
    report("get-b1", "ops", ROUNDS * N, t[2], true);
    report("get-b64", "ops", ROUNDS * N, t[3], true);
    report("pput-b64", "ops", ROUNDS * N, t[4], true);
    report("pget-b64", "ops", ROUNDS * N, t[5], true);
    report("flush-b64", "ops", ROUNDS * N, t[6], false);
    report("newdestroy", "pairs", PAIRS, t[7], false);
    rt_printf("bench: verify-errors %u\n", errors);
    rt_printf("bench: total-ms %lu\n", (rt_now_us() - start) / 1000);

    is_eq(tmem_destroy_pool(&D, eph), VIRTIO_TMEM_OK, "ephemeral pool gone");
    is_eq(tmem_destroy_pool(&D, pers), VIRTIO_TMEM_OK, "persistent pool gone");
    is_eq(errors, 0, "every operation as expected, sampled pages correct");
    rt_printf("bench: done\n");
    return 0;
}
