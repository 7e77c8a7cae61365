/*
 * t-tcg-atomic-ind: an interlocked update by the CPU never loses an
 * adapter indicator bit that a device sets at the same time.
 *
 * virtio-ccw devices set their indicator bits in guest memory from QEMU's
 * main loop (ioeventfd, emulated under TCG; virtio-tmem-ccw has it off by
 * default without KVM, so this test turns it on) while the vCPU runs.  Linux
 * clears one device's bit with an interlocked update (LOAD AND AND) of the
 * doubleword that holds the bits of other devices too.  If TCG translates
 * that update as a plain load and store, as it did with a single vCPU, a
 * bit the device sets in between is overwritten and its completion is
 * never seen: a guest waits forever.
 *
 * Here the device's bit is bit 0 of a doubleword and, from the notify
 * until the bit shows, the CPU keeps clearing bit 63 of the same
 * doubleword with LANG.  Every answered request must leave bit 0 set.
 *
 * qemu-args: -object tmem-pool,id=tp0,size=16M
 * qemu-args: -device virtio-tmem-ccw,pool=tp0,devno=fe.0.0005,ioeventfd=on
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define REQUESTS        4000
#define DEV_BIT         (1UL << 63)     /* bit 0, s390 numbering */
#define BIT_WAIT_US     100000

static struct vccw_ring ring;
static struct tmem_dev T;
static volatile uint64_t ind __attribute__((aligned(8)));
static volatile uint8_t summary;
static uint64_t updates;

/* LOAD AND AND (64-bit), interlocked */
static inline uint64_t lang(volatile uint64_t *p, uint64_t mask)
{
    uint64_t old;

    asm volatile(".machine push\n\t.machine z196\n\t"
                 "lang %0,%2,%1\n\t.machine pop"
                 : "=d"(old), "+QS"(*p)
                 : "d"(mask)
                 : "cc", "memory");
    return old;
}

static void clear_other_bit(struct vccw_dev *d)
{
    (void)d;
    lang(&ind, ~1UL);
    updates++;
}

int main(void)
{
    struct tmem_oid o = { { 0x1d, 0, 0 } };
    unsigned i, lost = 0, answered_later = 0, failed = 0;
    uint32_t pool = 0, found;
    uint64_t t0;
    int rc;

    if (!ok(tmem_find(&T, 5, 0, &ring), "device found") ||
        !is_eq(tmem_init(&T, TMEM_FEATURES_ALL), 0, "device set up")) {
        return 0;
    }
    is_eq(tmem_new_pool(&T, TMEM_POOL_FLAGS(false), &pool), VIRTIO_TMEM_OK,
          "ephemeral pool");
    rc = vccw_set_ind_adapter(&T.v, (void *)&summary, (void *)&ind, 0, 3);
    if (!is_eq(rc, 0, "SET_IND_ADAPTER accepted")) {
        return 0;
    }
    ring.avail.flags = 0;           /* the device notifies from now on */

    T.v.wait_hook = clear_other_bit;
    for (i = 0; i < REQUESTS; i++) {
        ind = 0;
        summary = 0;
        asm volatile("bcr 14,0" : : : "memory");
        rc = tmem_flush_page(&T, pool, &o, i, &found);
        if (rc != VIRTIO_TMEM_OK && rc != VIRTIO_TMEM_MISS) {
            if (failed++ < 4) {
                diag("  request %u: %s", i, tmem_status_name(rc));
            }
            continue;
        }
        answered_later += T.v.polls > 0;
        /*
         * The device sets the bit just after it publishes the used
         * element: go on updating the doubleword until the bit is there.
         */
        t0 = rt_now_us();
        while (!(ind & DEV_BIT) && rt_now_us() - t0 < BIT_WAIT_US) {
            clear_other_bit(&T.v);
        }
        if (!(ind & DEV_BIT) && lost++ < 4) {
            diag("  request %u: indicator 0x%016lx, summary %u", i, ind,
                 summary);
        }
    }
    T.v.wait_hook = NULL;

    diag("%u requests, %u answered while the CPU was updating the "
         "indicators (%lu updates), %u bits lost", REQUESTS, answered_later,
         updates, lost);
    is_eq(failed, 0, "every request answered");
    /* the race needs the device in another thread than the vCPU */
    ok(answered_later >= REQUESTS / 2,
       "most answers came while the CPU was updating (%u of %u)",
       answered_later, REQUESTS);
    is_eq(lost, 0, "no indicator bit lost");
    return 0;
}
