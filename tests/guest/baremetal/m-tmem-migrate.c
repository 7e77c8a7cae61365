/*
 * m-tmem-migrate: guest half of the virtio-tmem migration qtest.  Not a
 * run.py test: a qtest boots it, migrates the guest and reads the
 * results from a mailbox in guest memory.
 *
 * QEMU arguments (given by the qtest):
 *   -object tmem-pool,id=tp0,size=16M
 *   -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005
 *
 * Mailbox: physical addresses, 8-byte big-endian words.  The image is
 * linked at 0x40000 (Makefile M_BASE), so 0x30000-0x30fff is free.
 *   0x30000  state: 0x7e3e0001 READY (source, pages stored),
 *                   0x7e3e0002 DONE (results below are valid),
 *                   0x7e3e00ff FAILED (setup failed before READY;
 *                   0x30028 holds the failing status)
 *   0x30008  GO: the qtest writes 1 on the destination after migration;
 *            writing 2 after DONE makes the guest stop (see below)
 *   0x30010  persistent pages that hit with exact content (of 64)
 *   0x30018  ephemeral pages that hit (of 64)
 *   0x30020  persistent pages that missed or had wrong content
 *   0x30028  status of the first GET that was neither OK nor MISS
 *            (0 if none; 0x100 if an ephemeral hit had wrong content;
 *            a driver/transport error is stored as a negative number)
 *   0x30030  config epoch before migration
 *   0x30038  config epoch after migration
 *   0x30040  config status after migration (the qtest freezes us)
 *   0x30048  status of a PUT of a new persistent key after that
 *   0x30050  status of a duplicate PUT of persistent page 0
 *   0x30058  status of a GET of persistent page 0 after it
 *
 * Flow: set up the device, create an ephemeral pool (p = 0) and a
 * persistent pool (p = 1), PUT 64 pages into each (oid {0x6d6967, p, 0},
 * index i; every 8-byte word w of page i of pool p is
 * (p << 32) | (i << 16) | w), write READY, spin until GO is nonzero,
 * GET all 128 pages, write the results, then DONE.
 *
 * After DONE the guest keeps running (a spin loop: QEMU treats any wait
 * state of the only CPU as shutdown or panic), so the qtest can read the
 * mailbox at leisure and quit QEMU.  If the qtest writes 2 to GO, the
 * guest stops with rt_exit(): disabled wait at 0xfff, QEMU shuts down.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

/* the qtest's side of the mailbox is in the same header */
#include "../../qtest/tmem-mailbox.h"

#define PAGES           64
#define PAGE            TMEM_PAGE

extern char _start[], __bss_end[];

static struct vccw_ring ring;
static struct tmem_dev D;
static uint8_t buf[PAGE] __attribute__((aligned(4096)));

static volatile uint64_t *mb(unsigned off)
{
    return (volatile uint64_t *)(uintptr_t)(TMEM_MB_BASE + off);
}

static void sync_mem(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

static void fill(unsigned p, unsigned i)
{
    uint64_t *w = (uint64_t *)buf;
    unsigned k;

    for (k = 0; k < PAGE / 8; k++) {
        w[k] = ((uint64_t)p << 32) | ((uint64_t)i << 16) | k;
    }
}

static bool check(unsigned p, unsigned i)
{
    const uint64_t *w = (const uint64_t *)buf;
    unsigned k;

    for (k = 0; k < PAGE / 8; k++) {
        if (w[k] != (((uint64_t)p << 32) | ((uint64_t)i << 16) | k)) {
            return false;
        }
    }
    return true;
}

static struct tmem_oid oid(unsigned p)
{
    struct tmem_oid o = { { 0x6d6967, p, 0 } };

    return o;
}

static void __noreturn fail(const char *what, int status)
{
    diag("setup failed: %s: %s", what, tmem_status_name(status));
    *mb(MB_BAD_STATUS) = (uint64_t)(int64_t)status;
    sync_mem();
    *mb(MB_STATE) = ST_FAILED;
    sync_mem();
    rt_bail("%s failed", what);
}

int main(void)
{
    uint32_t pool[2] = { 0, 0 };
    uint64_t pers_ok = 0, eph_hit = 0, pers_bad = 0, bad_status = 0;
    unsigned p, i;
    int st;

    /* the mailbox must not overlap the image, its .bss or stack */
    if ((uintptr_t)_start <= TMEM_MB_BASE + 0xfff &&
        (uintptr_t)__bss_end > TMEM_MB_BASE) {
        rt_bail("image %p-%p overlaps the mailbox", _start, __bss_end);
    }
    for (i = 0; i < 8; i++) {
        *mb(8 * i) = 0;
    }
    sync_mem();

    if (!tmem_find(&D, 5, 0, &ring)) {
        fail("finding the device", TMEM_ERR_ARGS);
    }
    st = tmem_init(&D, TMEM_FEATURES_ALL);
    if (st) {
        fail("device setup", st);
    }
    st = tmem_new_pool(&D, TMEM_POOL_FLAGS(false), &pool[0]);
    if (st) {
        fail("ephemeral NEW_POOL", st);
    }
    st = tmem_new_pool(&D, TMEM_POOL_FLAGS(true), &pool[1]);
    if (st) {
        fail("persistent NEW_POOL", st);
    }
    for (p = 0; p < 2; p++) {
        struct tmem_oid o = oid(p);

        for (i = 0; i < PAGES; i++) {
            fill(p, i);
            st = tmem_put(&D, pool[p], &o, i, buf);
            if (st) {
                fail(p ? "persistent PUT" : "ephemeral PUT", st);
            }
        }
    }
    st = tmem_read_config(&D);
    if (st) {
        fail("reading the config", st);
    }
    *mb(MB_EPOCH_BEFORE) = D.cfg.epoch;
    ok(true, "device set up, 2 x %u pages stored, epoch %u", PAGES,
       D.cfg.epoch);
    sync_mem();
    *mb(MB_STATE) = ST_READY;
    sync_mem();
    rt_printf("# READY, waiting for GO at 0x%lx\n", (unsigned long)(TMEM_MB_BASE + MB_GO));

    while (*mb(MB_GO) == 0) {
    }
    sync_mem();

    for (p = 0; p < 2; p++) {
        struct tmem_oid o = oid(p);

        for (i = 0; i < PAGES; i++) {
            memset(buf, 0xa5, PAGE);
            st = tmem_get(&D, pool[p], &o, i, buf);
            if (st != VIRTIO_TMEM_OK && st != VIRTIO_TMEM_MISS) {
                if (!bad_status) {
                    bad_status = (uint64_t)(int64_t)st;
                    diag("GET pool %u page %u: %s", p, i,
                         tmem_status_name(st));
                }
            }
            if (p == 1) {
                if (st == VIRTIO_TMEM_OK && check(p, i)) {
                    pers_ok++;
                } else {
                    pers_bad++;
                }
            } else if (st == VIRTIO_TMEM_OK) {
                eph_hit++;
                if (!check(p, i) && !bad_status) {
                    bad_status = 0x100;
                    diag("ephemeral page %u hit with wrong content", i);
                }
            }
        }
    }
    st = tmem_read_config(&D);
    *mb(MB_EPOCH_AFTER) = st ? 0 : D.cfg.epoch;
    *mb(MB_CFG_STATUS) = st ? 0xffff : D.cfg.status;
    /* the qtest froze us: a new put and a duplicate put are refused, and
     * the refused duplicate must not leave the old copy readable */
    {
        struct tmem_oid o = oid(1);

        fill(1, PAGES);
        *mb(MB_FROZEN_PUT) = (uint64_t)(int64_t)tmem_put(&D, pool[1], &o,
                                                         PAGES, buf);
        fill(1, 0);
        *mb(MB_FROZEN_DUP) = (uint64_t)(int64_t)tmem_put(&D, pool[1], &o, 0,
                                                         buf);
        *mb(MB_FROZEN_GET) = (uint64_t)(int64_t)tmem_get(&D, pool[1], &o, 0,
                                                         buf);
    }
    *mb(MB_PERS_OK) = pers_ok;
    *mb(MB_EPH_HITS) = eph_hit;
    *mb(MB_PERS_BAD) = pers_bad;
    *mb(MB_BAD_STATUS) = bad_status;
    sync_mem();
    *mb(MB_STATE) = ST_DONE;
    sync_mem();
    diag("DONE: persistent %lu ok / %lu bad, ephemeral hits %lu, bad status "
         "0x%lx, epoch %lu -> %lu", pers_ok, pers_bad, eph_hit, bad_status,
         *mb(MB_EPOCH_BEFORE), *mb(MB_EPOCH_AFTER));
    ok(true, "results written");

    /* keep running until the qtest quits QEMU or asks us to stop */
    while (*mb(MB_GO) != 2) {
    }
    return 0;
}
