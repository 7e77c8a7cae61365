/*
 * m-tmem-demo: guest half of scripts/demo-tmem.py.  Not a run.py test:
 * the demo script boots it, waits for the mailbox marker over QMP,
 * inspects the pool from the host side and quits QEMU.
 *
 * QEMU arguments (given by the demo script):
 *   -object tmem-pool,id=tp0,size=8M
 *   -device virtio-tmem-ccw,pool=tp0,id=tenant0,weight=1
 *   -device virtio-tmem-ccw,pool=tp0,id=tenant1,weight=3
 *
 * Two virtio-tmem devices on one pool object act as two tenants:
 * "tenant 0" is the first device the channel subsystem lists, "tenant 1"
 * the second (devices without devno= are numbered in creation order).
 *
 *   1. tenant 0 creates a persistent pool and puts PERS pages into it;
 *   2. each tenant creates an ephemeral pool; both put PUTS pages each
 *      (2 x ~11.7 MiB into an 8 MiB pool), interleaved in batches of
 *      BATCH so that they compete and the host must evict;
 *   3. each tenant gets all its ephemeral keys back and counts the hits
 *      (a GET from an ephemeral pool is exclusive: the pool is empty
 *      afterwards), tenant 0 gets its persistent pages back;
 *   4. both tenants put their PUTS pages again (same interleaving), so
 *      that the host finds a full pool to inspect and to drop from;
 *   5. the results go to the mailbox, then the marker; then spin.
 *
 * Every page's content is derived from (tenant, kind, key) and checked
 * on every hit.  Console lines start with "demo: ".
 *
 * Mailbox: physical addresses, 8-byte big-endian words.  The image is
 * linked at 0x40000 (Makefile M_BASE), so 0x30000-0x30fff is free.
 *   0x30000  state: 0x7e3e0003 DONE (everything below is valid),
 *                   0x7e3e00ff FAILED (setup failed; see the console)
 *   0x30008  tenant 0 ephemeral hits (of PUTS)
 *   0x30010  tenant 1 ephemeral hits (of PUTS)
 *   0x30018  tenant 0 persistent pages back intact (of PERS)
 *   0x30020  errors: wrong content, unexpected statuses, failed chains
 *   0x30028  PUTS (ephemeral puts per tenant and wave)
 *   0x30030  PERS (persistent puts of tenant 0)
 *
 * After DONE the guest spins (QEMU treats a wait state of the only CPU
 * as shutdown or panic); the demo script quits QEMU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define MBOX            0x30000UL
#define MB_STATE        0x00
#define MB_HITS0        0x08
#define MB_HITS1        0x10
#define MB_PERS_OK      0x18
#define MB_ERRORS       0x20
#define MB_PUTS         0x28
#define MB_PERS         0x30

#define ST_DONE         0x7e3e0003UL
#define ST_FAILED       0x7e3e00ffUL

#define PAGE            TMEM_PAGE
#define PUTS            3000u   /* ephemeral puts per tenant and wave */
#define PERS            300u    /* persistent puts of tenant 0 */
#define BATCH           32u
#define OBJ_PAGES       64u     /* pages per object */

extern char _start[], __bss_end[];

static struct vccw_ring ring[2];
static struct tmem_dev T[2];
static uint32_t eph[2], pers;
static uint8_t pages[BATCH][PAGE] __attribute__((aligned(4096)));
static struct tmem_op ops[BATCH];
static unsigned errors;

static volatile uint64_t *mb(unsigned off)
{
    return (volatile uint64_t *)(MBOX + off);
}

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

static struct tmem_oid key_oid(uint32_t k)
{
    struct tmem_oid o = { { 0x64656d6f, k / OBJ_PAGES, 0 } };

    return o;
}

/* kind: 0 ephemeral, 1 persistent */
static uint64_t seed(unsigned tenant, unsigned kind, uint32_t k)
{
    return ((uint64_t)tenant << 40) | ((uint64_t)kind << 32) | k;
}

/* status: a tmem/driver status, or 0 if there is none to show */
static void __noreturn fail(const char *what, int status)
{
    if (status) {
        rt_printf("demo: FAILED: %s: %s\n", what, tmem_status_name(status));
    } else {
        rt_printf("demo: FAILED: %s\n", what);
    }
    sync_mem();
    *mb(MB_STATE) = ST_FAILED;
    sync_mem();
    rt_bail("%s failed", what);
}

static void error(const char *what, unsigned tenant, uint32_t k, int st)
{
    if (errors++ < 10) {
        rt_printf("demo: error: tenant %u %s key %u: %s\n", tenant, what, k,
                  tmem_status_name(st));
    }
}

/* PUT keys [k0, k0 + n) of one tenant in one chain; count the refused. */
static void put_batch(unsigned t, uint32_t pool, unsigned kind, uint32_t k0,
                      unsigned n, unsigned *refused)
{
    unsigned i;
    int rc;

    for (i = 0; i < n; i++) {
        tmem_fill(pages[i], seed(t, kind, k0 + i));
        ops[i] = (struct tmem_op){
            .op = VIRTIO_TMEM_OP_PUT, .pool = pool, .oid = key_oid(k0 + i),
            .index = (k0 + i) % OBJ_PAGES, .page = pages[i],
        };
    }
    rc = tmem_batch(&T[t], ops, n);
    if (rc) {
        error("PUT chain", t, k0, rc);
        return;
    }
    for (i = 0; i < n; i++) {
        if (ops[i].status == VIRTIO_TMEM_NOSPACE) {
            (*refused)++;
        } else if (ops[i].status != VIRTIO_TMEM_OK) {
            error("PUT", t, k0 + i, ops[i].status);
        }
    }
}

/* GET keys [0, n) of one tenant's pool; count hits with the right data. */
static unsigned get_all(unsigned t, uint32_t pool, unsigned kind, uint32_t n)
{
    unsigned hits = 0, i, m;
    uint32_t k;
    int rc;

    for (k = 0; k < n; k += m) {
        m = n - k < BATCH ? n - k : BATCH;
        for (i = 0; i < m; i++) {
            ops[i] = (struct tmem_op){
                .op = VIRTIO_TMEM_OP_GET, .pool = pool, .oid = key_oid(k + i),
                .index = (k + i) % OBJ_PAGES, .page = pages[i],
            };
        }
        rc = tmem_batch(&T[t], ops, m);
        if (rc) {
            error("GET chain", t, k, rc);
            continue;
        }
        for (i = 0; i < m; i++) {
            if (ops[i].status == VIRTIO_TMEM_OK) {
                if (tmem_check(pages[i], seed(t, kind, k + i))) {
                    error("GET (wrong content)", t, k + i, ops[i].status);
                } else {
                    hits++;
                }
            } else if (ops[i].status != VIRTIO_TMEM_MISS) {
                error("GET", t, k + i, ops[i].status);
            }
        }
    }
    return hits;
}

/* Both tenants put PUTS ephemeral pages, interleaved batch by batch. */
static void flood(unsigned refused[2])
{
    uint32_t k;
    unsigned t, n;

    refused[0] = refused[1] = 0;
    for (k = 0; k < PUTS; k += BATCH) {
        n = PUTS - k < BATCH ? PUTS - k : BATCH;
        for (t = 0; t < 2; t++) {
            put_batch(t, eph[t], 0, k, n, &refused[t]);
        }
    }
}

int main(void)
{
    unsigned refused[2], hits[2], pers_ok, pers_refused = 0, t;
    uint32_t k;
    int st;

    /* the mailbox must not overlap the image, its .bss or stack */
    if ((uintptr_t)_start <= MBOX + 0xfff && (uintptr_t)__bss_end > MBOX) {
        rt_bail("image %p-%p overlaps the mailbox", _start, __bss_end);
    }
    for (k = 0; k < 8; k++) {
        *mb(8 * k) = 0;
    }
    sync_mem();

    for (t = 0; t < 2; t++) {
        if (!tmem_find(&T[t], -1, t, &ring[t])) {
            fail(t ? "finding the second virtio-tmem device"
                   : "finding a virtio-tmem device", 0);
        }
        st = tmem_init(&T[t], TMEM_FEATURES_ALL);
        if (st) {
            fail("device setup", st);
        }
        if (!tmem_has(&T[t], VIRTIO_TMEM_F_BATCH) ||
            T[t].cfg.max_batch < BATCH) {
            fail("batches of 32", VIRTIO_TMEM_UNSUPPORTED);
        }
        st = tmem_new_pool(&T[t], TMEM_POOL_FLAGS(false), &eph[t]);
        if (st) {
            fail("ephemeral NEW_POOL", st);
        }
        rt_printf("demo: tenant %u is device fe.0.%04x: fair share %lu "
                  "ephemeral pages, persistent limit %lu pages\n", t,
                  (unsigned)T[t].v.devno, T[t].cfg.eph_target_pages,
                  T[t].cfg.pers_limit_pages);
    }
    st = tmem_new_pool(&T[0], TMEM_POOL_FLAGS(true), &pers);
    if (st) {
        fail("persistent NEW_POOL", st);
    }

    /* 1. persistent pages first: they are never evicted */
    for (k = 0; k < PERS; k += BATCH) {
        put_batch(0, pers, 1, k, PERS - k < BATCH ? PERS - k : BATCH,
                  &pers_refused);
    }
    rt_printf("demo: tenant 0: %u persistent puts, %u refused\n", PERS,
              pers_refused);

    /* 2. both tenants flood the pool */
    rt_printf("demo: both tenants put %u ephemeral pages each "
              "(%u MiB together), interleaved\n", PUTS,
              2 * PUTS * PAGE >> 20);
    flood(refused);

    /* 3. what is left? */
    for (t = 0; t < 2; t++) {
        hits[t] = get_all(t, eph[t], 0, PUTS);
        rt_printf("demo: tenant %u: %u ephemeral puts (%u refused), "
                  "%u hits on getting all back (%u%%)\n", t, PUTS,
                  refused[t], hits[t], hits[t] * 100 / PUTS);
    }
    pers_ok = get_all(0, pers, 1, PERS);
    rt_printf("demo: tenant 0: %u of %u persistent pages back intact\n",
              pers_ok, PERS);
    if (pers_ok != PERS - pers_refused) {
        errors++;
    }

    /* 4. fill the pool again for the host to look at */
    flood(refused);
    rt_printf("demo: both tenants put their %u pages again (refused: %u, "
              "%u); left in the pool\n", PUTS, refused[0], refused[1]);
    rt_printf("demo: errors %u\n", errors);

    /* 5. results, then the marker */
    *mb(MB_HITS0) = hits[0];
    *mb(MB_HITS1) = hits[1];
    *mb(MB_PERS_OK) = pers_ok;
    *mb(MB_ERRORS) = errors;
    *mb(MB_PUTS) = PUTS;
    *mb(MB_PERS) = PERS;
    sync_mem();
    *mb(MB_STATE) = ST_DONE;
    sync_mem();
    rt_printf("demo: done, marker 0x%lx at 0x%lx; spinning\n", ST_DONE,
              MBOX + MB_STATE);

    for (;;) {
        asm volatile("" : : : "memory");
    }
}
