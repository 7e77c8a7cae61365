/*
 * virtio-balloon: cooperative memory, the parts' shared state
 *
 * Private to hw/virtio/virtio-balloon-cmm*.c.  Everything here runs in the
 * main loop with the BQL held: the virtqueue handlers of virtio-balloon.c,
 * the control timer, QMP/HMP and migration.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_BALLOON_CMM_INTERNAL_H
#define HW_VIRTIO_BALLOON_CMM_INTERNAL_H

#include "qemu/page-batch.h"
#include "qemu/timer.h"
#include "hw/boards.h"
#include "hw/virtio/balloon-page-states.h"
#include "hw/virtio/balloon-rate.h"
#include "hw/virtio/virtio-balloon-cmm.h"
#include "qapi/qapi-types-balloon-cmm.h"

#define BALLOON_CMM_PAGE    ((uint64_t)1 << VIRTIO_BALLOON_PFN_SHIFT)

/* Control period while a target is set; page-state events otherwise. */
#define BALLOON_CMM_TICK_MS     50
#define BALLOON_CMM_HOLD_MS     250     /* ... once it is reached */
#define BALLOON_CMM_REPORT_MS   1000

typedef struct BalloonCmm {
    VirtIOBalloon *dev;
    const BalloonPageStateOps *states;  /* the provider, or the stub */
    void *states_opaque;

    /* Coalescing (virtio-balloon-cmm-discard.c) */
    PageBatch batch;
    RAMBlock *batch_rb;
    bool batch_inflate;
    RAMBlock *rep_rb;
    uint64_t rep_start, rep_len;

    /* The target (migrated: virtio-balloon-cmm-migration.c) */
    bool active;
    uint32_t kind;
    uint64_t target, rate, floor;
    bool has_floor;
    uint32_t status;
    uint64_t reclaimed;

    /* Control state (virtio-balloon-cmm-control.c) */
    QEMUTimer *timer;
    BalloonRate bucket;
    int64_t progress_ms;        /* when progress was last seen */
    uint32_t last_actual;
    uint64_t last_fp;
    bool floor_blocked;
    bool stall_sent;

    /* Footprint (virtio-balloon-cmm-footprint.c) */
    int pagemap_fd;
    uint8_t *vec;               /* per host page: resident? */
    size_t vec_len;
    uint64_t fp_pages;          /* resident host pages, as vec says */
    bool fp_valid;              /* vec and fp_pages hold a reading */
    int64_t fp_full_ms;         /* when guest RAM was last read whole */
    unsigned long *fp_changed;  /* blocks to read again */
    uint64_t fp_nblocks;
    uint32_t fp_actual;         /* the balloon's size at the last reading */
    uint64_t fp_full_reads;     /* for tests and traces */
    uint64_t fp_partial_reads;

    /* Reporting (virtio-balloon-cmm-events.c) */
    BalloonPageStates sent;
    uint64_t sent_footprint;
    int64_t sent_ms;
} BalloonCmm;

static inline uint64_t balloon_cmm_ram(void)
{
    return MACHINE(qdev_get_machine())->ram_size;
}

/* What the guest may use: its RAM less the balloon. */
static inline uint64_t balloon_cmm_logical(VirtIOBalloon *s)
{
    return balloon_cmm_ram() - (uint64_t)s->actual * BALLOON_CMM_PAGE;
}

/* virtio-balloon-cmm.c: the balloon with set-target, for QMP */
VirtIOBalloon *balloon_cmm_device(void);
void balloon_cmm_arm(BalloonCmm *c, int64_t delay_ms);

/*
 * virtio-balloon-cmm-footprint.c: guest RAM resident on the host, in
 * bytes; fills c->vec with one byte per host page, 1 if resident.
 */
void balloon_cmm_footprint_init(BalloonCmm *c);
void balloon_cmm_footprint_destroy(BalloonCmm *c);
uint64_t balloon_cmm_footprint(BalloonCmm *c);
/* The next footprint reads guest RAM whole (the balloon moved, say). */
void balloon_cmm_footprint_invalidate(BalloonCmm *c);

/* virtio-balloon-cmm-discard.c */
void balloon_cmm_discard_init(BalloonCmm *c);
void balloon_cmm_discard_destroy(BalloonCmm *c);

/*
 * virtio-balloon-cmm-events.c: page states (after balloon_cmm_footprint(),
 * whose residency they use) and the BALLOON_PAGE_STATES event.
 */
void balloon_cmm_page_states(VirtIOBalloon *s, BalloonPageStates *ps);
void balloon_cmm_maybe_report(VirtIOBalloon *s, uint64_t fp, int64_t now);

/*
 * virtio-balloon-cmm-control.c: one control step towards the target.
 * @fp: the footprint measured for this tick.
 * Returns: the footprint after the step (reclaiming lowers it).
 */
uint64_t balloon_cmm_control(VirtIOBalloon *s, uint64_t fp, int64_t now);
/* (Re)start the control loop of the target in c. */
void balloon_cmm_start_target(BalloonCmm *c);

#endif
