/*
 * t-tmem-race: the PUT source page changes while the device copies it.
 *
 * CPU 1 keeps rewriting the source page with two byte patterns in turn
 * (8 bytes at a time, in both directions).  CPU 0 puts the page under
 * many keys and gets every key back: each GET must hit, and each byte
 * must be one of the two pattern bytes (a torn page is allowed, garbage
 * is not).  Afterwards the device must still store a stable page exactly.
 *
 * qemu-args: -smp 2 -object tmem-pool,id=tp0,size=64M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define PAGE        TMEM_PAGE
#define CPU1        1
#define ROUNDS      40
#define KEYS        48              /* per round */
#define PAT_A       0x5a
#define PAT_B       0xc3

static struct vccw_ring ring;
static struct tmem_dev A;
static uint8_t srcpage[PAGE] __attribute__((aligned(4096)));
static uint8_t dst[PAGE] __attribute__((aligned(4096)));

static struct {
    volatile uint32_t stop, running;
    volatile uint64_t passes;
} mb;

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

/* CPU 1: rewrite the page until told to stop. */
static void writer(void)
{
    volatile uint64_t *p = (volatile uint64_t *)srcpage;
    uint64_t a = 0x0101010101010101UL * PAT_A;
    uint64_t b = 0x0101010101010101UL * PAT_B;
    uint64_t n = 0;
    int w;

    mb.running = 1;
    sync_mem();
    while (!mb.stop) {
        for (w = 0; w < (int)(PAGE / 8); w++) {
            p[w] = b;
        }
        for (w = (int)(PAGE / 8) - 1; w >= 0; w--) {
            p[w] = a;
        }
        n++;
    }
    mb.passes = n;
    sync_mem();
}

static struct tmem_oid oid(uint32_t k)
{
    struct tmem_oid o = { { 0x7ace, k, 0 } };

    return o;
}

int main(void)
{
    uint32_t status = 0, pool = 0, r, k;
    unsigned put_bad = 0, get_bad = 0, garbage = 0, torn = 0, pure = 0;
    int st;

    if (!ok(rt_sigp(CPU1, SIGP_SENSE, 0, &status) == 1 &&
            (status & SIGP_STATUS_STOPPED), "CPU 1 exists and is stopped")) {
        return 0;
    }
    if (!ok(tmem_find(&A, 5, 0, &ring), "device found") ||
        !is_eq(tmem_init(&A, TMEM_FEATURES_ALL), 0, "device set up")) {
        return 0;
    }
    is_eq(tmem_new_pool(&A, TMEM_POOL_FLAGS(true), &pool), VIRTIO_TMEM_OK,
          "persistent pool");

    memset(srcpage, PAT_A, PAGE);
    sync_mem();
    if (!ok(rt_cpu_start(CPU1, writer), "CPU 1 started")) {
        return 0;
    }
    while (!mb.running) {
    }

    for (r = 0; r < ROUNDS; r++) {
        for (k = 0; k < KEYS; k++) {
            struct tmem_oid o = oid(k);

            st = tmem_put(&A, pool, &o, r, srcpage);
            if (st != VIRTIO_TMEM_OK && put_bad++ < 4) {
                diag("  PUT round %u key %u: %s", r, k, tmem_status_name(st));
            }
        }
        for (k = 0; k < KEYS; k++) {
            struct tmem_oid o = oid(k);
            unsigned i, na = 0, nb = 0;

            memset(dst, 0, PAGE);
            st = tmem_get(&A, pool, &o, r, dst);
            if (st != VIRTIO_TMEM_OK) {
                if (get_bad++ < 4) {
                    diag("  GET round %u key %u: %s", r, k,
                         tmem_status_name(st));
                }
                continue;
            }
            for (i = 0; i < PAGE; i++) {
                na += dst[i] == PAT_A;
                nb += dst[i] == PAT_B;
            }
            if (na + nb != PAGE) {
                if (garbage++ < 4) {
                    diag("  round %u key %u: %u bytes are neither pattern",
                         r, k, PAGE - na - nb);
                }
            } else if (na && nb) {
                torn++;
            } else {
                pure++;
            }
        }
    }
    mb.stop = 1;
    sync_mem();
    ok(rt_cpu_wait_stopped(CPU1, 5000000), "CPU 1 stopped");
    diag("CPU 1 rewrote the page %lu times; %u pages torn, %u whole",
         mb.passes, torn, pure);
    ok(mb.passes > 0, "CPU 1 ran during the PUTs");

    is_eq(put_bad, 0, "%u PUTs of a changing page: all OK", ROUNDS * KEYS);
    is_eq(get_bad, 0, "%u GETs: all OK", ROUNDS * KEYS);
    is_eq(garbage, 0, "every byte of every page is one of the two patterns");

    /* the device still stores a stable page exactly */
    {
        struct tmem_oid o = oid(KEYS);
        uint32_t found = 0;

        tmem_fill(srcpage, 99);
        is_eq(tmem_put(&A, pool, &o, 0, srcpage), VIRTIO_TMEM_OK,
              "PUT of a stable page afterwards");
        memset(dst, 0, PAGE);
        ok(tmem_get(&A, pool, &o, 0, dst) == VIRTIO_TMEM_OK &&
           !tmem_check(dst, 99), "GET returns it exactly");
        is_eq(tmem_flush_pool(&A, pool, &found), VIRTIO_TMEM_OK,
              "FLUSH_POOL");
        is_eq(found, ROUNDS * KEYS + 1, "FLUSH_POOL found every page");
    }
    return 0;
}
