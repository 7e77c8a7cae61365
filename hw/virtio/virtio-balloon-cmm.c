/*
 * virtio-balloon: cooperative memory
 *
 * Page-state reporting and footprint targets for a balloon whose guest
 * tells the host its unused pages (cmma=on: the s390x CMMA page-state
 * table, through balloon-page-states.h), set-target with a rate cap and a
 * floor, and discards coalesced into ranges.  This file holds the life
 * cycle and the timer; the concerns live beside it:
 *
 *   virtio-balloon-cmm-discard.c     coalesced discards
 *   virtio-balloon-cmm-footprint.c   the host footprint (pagemap)
 *   virtio-balloon-cmm-events.c      page states and BALLOON_PAGE_STATES
 *   virtio-balloon-cmm-control.c     the set-target control loop
 *   virtio-balloon-cmm-qmp.c         QMP and HMP
 *   virtio-balloon-cmm-migration.c   the migration subsection
 *
 * All of it runs in the main loop with the BQL held.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "system/runstate.h"
#include "trace.h"
#include "virtio-balloon-cmm-internal.h"

/* target-stall-ms: at least two ticks, at most an hour */
#define STALL_MS_MAX    (3600 * 1000)

/* The one balloon (QEMU supports one), for balloon-set-target. */
static VirtIOBalloon *cmm_balloon;

VirtIOBalloon *balloon_cmm_device(void)
{
    return cmm_balloon;
}

void balloon_cmm_arm(BalloonCmm *c, int64_t delay_ms)
{
    timer_mod(c->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + delay_ms);
}

static void tick(void *opaque)
{
    VirtIOBalloon *s = opaque;
    BalloonCmm *c = s->cmm;
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    uint64_t fp;

    if (!runstate_is_running()) {
        /* Paused time is neither progress nor stall. */
        c->progress_ms = now;
        c->bucket.last_ms = now;
    } else if (c->active || s->cmma) {
        /* the balloon moved: pages left guest RAM without a state change */
        if (s->actual != c->fp_actual) {
            c->fp_actual = s->actual;
            balloon_cmm_footprint_invalidate(c);
        }
        fp = balloon_cmm_footprint(c);
        if (c->active) {
            /* what the step reclaimed is in the event sent with it */
            fp = balloon_cmm_control(s, fp, now);
        }
        balloon_cmm_maybe_report(s, fp, now);
    }
    if (c->active) {
        balloon_cmm_arm(c, c->status == BALLOON_TARGET_STATUS_REACHED ?
                           BALLOON_CMM_HOLD_MS : BALLOON_CMM_TICK_MS);
    } else if (s->cmma) {
        balloon_cmm_arm(c, BALLOON_CMM_REPORT_MS);
    }
}

void virtio_balloon_cmm_cancel(VirtIOBalloon *s)
{
    if (s->cmm->active) {
        trace_virtio_balloon_cmm_cancel();
        s->cmm->active = false;
    }
}

bool virtio_balloon_cmm_realize(VirtIOBalloon *s, Error **errp)
{
    const BalloonPageStateOps *states;
    const char *why;
    BalloonCmm *c;
    void *opaque;

    if (s->target_stall_ms < BALLOON_CMM_TICK_MS * 2 ||
        s->target_stall_ms > STALL_MS_MAX) {
        error_setg(errp, "target-stall-ms must be %d to %d, not %" PRIu32,
                   BALLOON_CMM_TICK_MS * 2, STALL_MS_MAX, s->target_stall_ms);
        return false;
    }
    states = balloon_page_states(&opaque);
    why = states->unavailable(opaque);
    if (s->cmma && why) {
        error_setg(errp, "%s", why);
        return false;
    }
    c = g_new0(BalloonCmm, 1);
    c->dev = s;
    c->states = states;
    c->states_opaque = opaque;
    balloon_cmm_footprint_init(c);
    balloon_cmm_discard_init(c);
    c->timer = timer_new_ms(QEMU_CLOCK_REALTIME, tick, s);
    s->cmm = c;
    cmm_balloon = s;
    if (s->cmma) {
        balloon_cmm_arm(c, BALLOON_CMM_REPORT_MS);
    }
    return true;
}

void virtio_balloon_cmm_unrealize(VirtIOBalloon *s)
{
    BalloonCmm *c = s->cmm;

    if (!c) {
        return;
    }
    if (cmm_balloon == s) {
        cmm_balloon = NULL;
    }
    timer_free(c->timer);
    balloon_cmm_footprint_destroy(c);
    balloon_cmm_discard_destroy(c);
    g_free(c);
    s->cmm = NULL;
}
