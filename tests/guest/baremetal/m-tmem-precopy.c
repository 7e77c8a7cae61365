/*
 * m-tmem-precopy: guest half of tests/qtest/tmem-migration-test.c, which
 * migrates it while it works.  Not a run.py test.
 *
 * QEMU arguments (given by the qtest):
 *   -object tmem-pool,id=tp0,size=...
 *   -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 *
 * Mailbox: the PC_* words of tests/qtest/tmem-mailbox.h, 8-byte
 * big-endian words at TMEM_MB_BASE (the image is linked at 0x40000, so
 * 0x30000-0x30fff is free).  Each command runs once, when PC_CMD changes
 * to it; while waiting the guest counts in PC_TICKS and dirties 64
 * pages of its own.
 *
 * START   persistent pool A: PC_PAGES pages, page i at oid
 *         {0x707265, 0xa, i / PC_OBJ_PAGES}, index i % PC_OBJ_PAGES;
 *         persistent pool B: PC_B_PAGES pages of one object; ephemeral
 *         pool E: 16 pages.  Then READY.
 * CHANGE  needs PC_PAGES >= 2 * PC_OBJ_PAGES.  A: pages 0 to
 *         PC_CHANGED - 1 put again with new content, the next PC_CHANGED
 *         pages flushed one by one, object 1 flushed (more pages than the
 *         device flushes inline); B: flushed as a pool, then PC_B_NEW pages
 *         at new indexes; E: destroyed, and a persistent pool C made (in
 *         E's slot, a new generation) with PC_C_PAGES pages.  Then CHANGED.
 * VERIFY  GET every key of A, every old and new key of B, and C's; PC_OK
 *         counts the keys that hold what they should (or miss if they
 *         should), PC_BAD the others.  Then DONE.
 * STOP    the program ends (disabled wait, QEMU shuts down).
 *
 * A failure writes the status to PC_STATUS and PC_ST_FAILED to PC_STATE.
 * Content: page i of pool p in generation g is tmem_fill()'s pattern of
 * p << 56 | g << 48 | i.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#include "../../qtest/tmem-mailbox.h"

#define PAGE            TMEM_PAGE
#define BATCH           VIRTIO_TMEM_MAX_BATCH
#define E_PAGES         16
#define B_NEW_BASE      100     /* B's new pages: indexes from here */

enum { POOL_A = 0xa, POOL_B = 0xb, POOL_C = 0xc, POOL_E = 0xe };

/* the image's bounds, from the linker script */
extern char _start[], __bss_end[];

static struct vccw_ring ring;
static struct tmem_dev D;
static uint8_t bufs[BATCH][PAGE] __attribute__((aligned(4096)));
static struct tmem_op ops[BATCH];
static uint32_t pool_a, pool_b, pool_c, pool_e;
static uint64_t npages;
static bool changed;

/* volatile: the qtest reads and writes the mailbox behind our back */
static volatile uint64_t *mb(unsigned off)
{
    return (volatile uint64_t *)(uintptr_t)(TMEM_MB_BASE + off);
}

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

/* The content of page i of pool p in generation g: tmem_fill()'s seed. */
static uint64_t seed(unsigned p, unsigned g, uint64_t i)
{
    return (uint64_t)p << 56 | (uint64_t)g << 48 | i;
}

static void __noreturn fail(const char *what, int status)
{
    diag("%s: %s", what, tmem_status_name(status));
    *mb(PC_STATUS) = (uint64_t)(int64_t)status;
    sync_mem();
    *mb(PC_STATE) = PC_ST_FAILED;
    sync_mem();
    rt_bail("%s failed", what);
}

static void report(uint64_t state)
{
    sync_mem();
    *mb(PC_STATE) = state;
    sync_mem();
}

static uint64_t wait_cmd(uint64_t last)
{
    uint64_t cmd;
    unsigned k = 0;

    while ((cmd = *mb(PC_CMD)) == last) {
        /*
         * A guest at work dirties memory: 64 pages between two dirty
         * syncs, more than a downtime limit of 1 ms lets go at once.
         */
        (*(volatile uint8_t *)&bufs[k++ % BATCH][0])++;
        (*mb(PC_TICKS))++;
    }
    sync_mem();
    return cmd;
}

static struct tmem_oid oid_of(unsigned p, uint64_t obj)
{
    struct tmem_oid o = { { 0x707265, p, obj } };

    return o;
}

/* Where page i of a pool lives. */
static void key(unsigned p, uint64_t i, struct tmem_oid *o, uint32_t *index)
{
    if (p == POOL_A) {
        *o = oid_of(p, i / PC_OBJ_PAGES);
        *index = i % PC_OBJ_PAGES;
    } else {
        *o = oid_of(p, 0);
        *index = i;
    }
}

/* What page i of pool p must hold: its generation, or -1 for nothing. */
static int expect(unsigned p, uint64_t i)
{
    switch (p) {
    case POOL_A:
        if (!changed) {
            return 0;
        }
        if (i < PC_CHANGED) {
            return 1;
        }
        if (i < 2 * PC_CHANGED ||
            (i >= PC_OBJ_PAGES && i < 2 * PC_OBJ_PAGES)) {
            return -1;
        }
        return 0;
    case POOL_B:
        if (!changed) {
            return i < PC_B_PAGES ? 0 : -1;
        }
        return i >= B_NEW_BASE ? 2 : -1;
    default:
        return 3;
    }
}

/*
 * PUT (generation g) or GET pages first..first+n-1 of a pool, a batch at
 * a time.  A PUT must succeed; a GET counts in good and bad whether the
 * page is what expect() says.
 */
static void range(uint8_t op, uint32_t pool, unsigned p, unsigned g,
                  uint64_t first, uint64_t n, uint64_t *good, uint64_t *bad)
{
    while (n) {
        unsigned b = n < BATCH ? n : BATCH;
        int rc;

        for (unsigned k = 0; k < b; k++) {
            ops[k] = (struct tmem_op) { .op = op, .pool = pool,
                                        .page = bufs[k] };
            key(p, first + k, &ops[k].oid, &ops[k].index);
            if (op == VIRTIO_TMEM_OP_PUT) {
                tmem_fill(bufs[k], seed(p, g, first + k));
            }
        }
        rc = tmem_batch(&D, ops, b);
        if (rc) {
            fail("batch", rc);
        }
        for (unsigned k = 0; k < b; k++) {
            int want = expect(p, first + k);
            bool right;

            if (op == VIRTIO_TMEM_OP_PUT) {
                if (ops[k].status != VIRTIO_TMEM_OK) {
                    fail("PUT", ops[k].status);
                }
                continue;
            }
            right = want < 0 ? ops[k].status == VIRTIO_TMEM_MISS :
                    ops[k].status == VIRTIO_TMEM_OK &&
                    !tmem_check(bufs[k], seed(p, want, first + k));
            if (right) {
                (*good)++;
            } else if (!(*bad)++) {
                diag("pool 0x%x page %lu: status %s, expected generation %d",
                     p, first + k, tmem_status_name(ops[k].status), want);
            }
        }
        first += b;
        n -= b;
    }
}

static void put_range(uint32_t pool, unsigned p, unsigned g, uint64_t first,
                      uint64_t n)
{
    range(VIRTIO_TMEM_OP_PUT, pool, p, g, first, n, NULL, NULL);
}

static void check_range(uint32_t pool, unsigned p, uint64_t first,
                        uint64_t n, uint64_t *good, uint64_t *bad)
{
    range(VIRTIO_TMEM_OP_GET, pool, p, 0, first, n, good, bad);
}

static uint32_t new_pool(bool persistent)
{
    uint32_t h;
    int st = tmem_new_pool(&D, TMEM_POOL_FLAGS(persistent), &h);

    if (st) {
        fail("NEW_POOL", st);
    }
    return h;
}

static void cmd_start(void)
{
    npages = *mb(PC_PAGES);
    pool_a = new_pool(true);
    pool_b = new_pool(true);
    pool_e = new_pool(false);
    put_range(pool_a, POOL_A, 0, 0, npages);
    put_range(pool_b, POOL_B, 0, 0, PC_B_PAGES);
    put_range(pool_e, POOL_E, 0, 0, E_PAGES);
    ok(true, "stored %lu pages in A, %u in B, %u in E", npages, PC_B_PAGES,
       E_PAGES);
}

static void cmd_change(void)
{
    struct tmem_oid o;
    uint32_t index, found;
    int st;

    if (npages < 2 * PC_OBJ_PAGES) {
        fail("CHANGE with too few pages", TMEM_ERR_ARGS);
    }
    put_range(pool_a, POOL_A, 1, 0, PC_CHANGED);
    for (uint64_t i = PC_CHANGED; i < 2 * PC_CHANGED; i++) {
        key(POOL_A, i, &o, &index);
        st = tmem_flush_page(&D, pool_a, &o, index, &found);
        if (st || found != 1) {
            fail("FLUSH_PAGE", st ? st : TMEM_ERR_ARGS);
        }
    }
    o = oid_of(POOL_A, 1);
    st = tmem_flush_object(&D, pool_a, &o, &found);
    if (st || found != PC_OBJ_PAGES) {
        fail("FLUSH_OBJECT", st ? st : TMEM_ERR_ARGS);
    }
    st = tmem_flush_pool(&D, pool_b, &found);
    if (st || found != PC_B_PAGES) {
        fail("FLUSH_POOL", st ? st : TMEM_ERR_ARGS);
    }
    put_range(pool_b, POOL_B, 2, B_NEW_BASE, PC_B_NEW);
    st = tmem_destroy_pool(&D, pool_e);
    if (st) {
        fail("DESTROY_POOL", st);
    }
    pool_c = new_pool(true);
    if (VIRTIO_TMEM_POOL_SLOT(pool_c) != VIRTIO_TMEM_POOL_SLOT(pool_e)) {
        fail("pool C in pool E's slot", TMEM_ERR_ARGS);
    }
    put_range(pool_c, POOL_C, 3, 0, PC_C_PAGES);
    changed = true;
    ok(true, "changed A, B and E while migrating");
}

static void cmd_verify(void)
{
    uint64_t good = 0, bad = 0;

    check_range(pool_a, POOL_A, 0, npages, &good, &bad);
    check_range(pool_b, POOL_B, 0, PC_B_PAGES, &good, &bad);
    check_range(pool_b, POOL_B, B_NEW_BASE, PC_B_NEW, &good, &bad);
    if (changed) {
        check_range(pool_c, POOL_C, 0, PC_C_PAGES, &good, &bad);
    }
    *mb(PC_OK) = good;
    *mb(PC_BAD) = bad;
    ok(!bad, "%lu keys as expected, %lu not", good, bad);
}

int main(void)
{
    uint64_t cmd = 0;
    int st;

    /* the mailbox must not overlap the image, its .bss or stack */
    if ((uintptr_t)_start <= TMEM_MB_BASE + 0xfff &&
        (uintptr_t)__bss_end > TMEM_MB_BASE) {
        rt_bail("image %p-%p overlaps the mailbox", _start, __bss_end);
    }
    if (!tmem_find(&D, 5, 0, &ring)) {
        fail("finding the device", TMEM_ERR_ARGS);
    }
    st = tmem_init(&D, TMEM_FEATURES_ALL);
    if (st) {
        fail("device setup", st);
    }
    for (;;) {
        cmd = wait_cmd(cmd);
        switch (cmd) {
        case PC_CMD_START:
            cmd_start();
            report(PC_ST_READY);
            break;
        case PC_CMD_CHANGE:
            cmd_change();
            report(PC_ST_CHANGED);
            break;
        case PC_CMD_VERIFY:
            cmd_verify();
            report(PC_ST_DONE);
            break;
        case PC_CMD_STOP:
            return 0;
        default:
            fail("unknown command", TMEM_ERR_ARGS);
        }
    }
}
