/*
 * virtio-balloon: cooperative memory, the control loop of a set-target
 *
 * Every tick (50 ms; 250 ms once the target is met) one step: a logical
 * target moves the balloon towards RAM - max(target, floor); a footprint
 * target first reclaims what the guest marked unused (it costs the guest
 * nothing), and inflates only for what that cannot give.  Each step stays
 * within the rate cap (balloon-rate.h).  No progress for target-stall-ms
 * sends BALLOON_TARGET_STALLED with the reason.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/qapi-events-balloon-cmm.h"
#include "migration/misc.h"
#include "system/runstate.h"
#include "trace.h"
#include "virtio-balloon-cmm-internal.h"

#define PAGE    BALLOON_CMM_PAGE

static void set_num_pages(VirtIOBalloon *s, uint64_t pages)
{
    s->num_pages = pages;
    virtio_notify_config(VIRTIO_DEVICE(s));
}

static uint64_t budget_pages(BalloonCmm *c)
{
    return balloon_rate_budget(&c->bucket) / PAGE;
}

/* Move the balloon towards @want pages, within the budget. */
static void steer(VirtIOBalloon *s, BalloonCmm *c, uint64_t want)
{
    uint64_t cur = s->num_pages, step;

    if (s->actual != s->num_pages || want == cur) {
        return;                     /* the guest has not caught up yet */
    }
    step = MIN(want > cur ? want - cur : cur - want, budget_pages(c));
    if (!step) {
        return;
    }
    balloon_rate_spend(&c->bucket, step * PAGE);
    set_num_pages(s, want > cur ? cur + step : cur - step);
}

/* Balloon pages that would shrink the guest below max(target, floor). */
static uint64_t max_pages(BalloonCmm *c)
{
    uint64_t ram = balloon_cmm_ram(), keep = MAX(c->target, c->floor);

    return keep >= ram ? 0 : (ram - keep) / PAGE;
}

/* Returns: how far the guest is from the target, in bytes (0 if met). */
static uint64_t control_logical(VirtIOBalloon *s, BalloonCmm *c)
{
    uint64_t want = max_pages(c);

    steer(s, c, want);
    c->floor_blocked = false;
    if (s->actual == want && s->num_pages == want) {
        return 0;
    }
    return (s->actual > want ? s->actual - want : want - s->actual) * PAGE;
}

/*
 * Reclaim first: what the guest marked unused costs it nothing.  All of
 * it, not just the excess: kept resident, it would only bring the
 * footprint back to the target sooner.  Returns: true if unused pages
 * remain resident (then the balloon waits for them).
 */
static bool reclaim_unused(BalloonCmm *c, uint64_t *fp)
{
    BalloonPageCensus pc;
    uint64_t r;

    if (!c->states->can_reclaim(c->states_opaque)) {
        return false;
    }
    if (budget_pages(c)) {
        r = c->states->reclaim(c->states_opaque, budget_pages(c) * PAGE,
                               c->vec, c->vec_len);
        balloon_rate_spend(&c->bucket, r);
        c->reclaimed += r;
        if (r) {
            trace_virtio_balloon_cmm_reclaim(r);
            *fp = balloon_cmm_footprint(c);
        }
    }
    c->states->census(c->states_opaque, c->vec, c->vec_len, &pc);
    return pc.unused_resident != 0;
}

static uint64_t control_footprint(VirtIOBalloon *s, BalloonCmm *c,
                                  uint64_t *fp)
{
    uint64_t margin = MAX(16 * MiB, balloon_cmm_ram() / 64);

    c->floor_blocked = false;
    if (*fp > c->target) {
        uint64_t over;

        if (reclaim_unused(c, fp)) {
            return *fp > c->target ? *fp - c->target : 0;
        }
        over = *fp > c->target ? *fp - c->target : 0;
        if (over) {
            /* Free guest pages go first and are not resident: step on. */
            uint64_t want = MIN(s->num_pages + DIV_ROUND_UP(over, PAGE),
                                max_pages(c));
            if (want > s->num_pages) {
                steer(s, c, want);
            } else {
                c->floor_blocked = c->floor > c->target;
            }
        }
        return over;
    }
    if (s->num_pages && s->actual == s->num_pages) {
        /*
         * Below the target: give back what keeps the guest from being
         * squeezed (less than @margin of room it does not use), as long as
         * that room fits under the target.
         */
        uint64_t logical = balloon_cmm_logical(s);
        uint64_t room = logical - MIN(logical, *fp);
        uint64_t under = c->target - *fp;

        if (room < margin && under > margin / 2) {
            uint64_t give = MIN(margin - room, under - margin / 2) / PAGE;

            steer(s, c, s->num_pages - MIN(give, s->num_pages));
        }
    }
    return 0;
}

static BalloonStallReason stall_reason(VirtIOBalloon *s, BalloonCmm *c)
{
    if (!(VIRTIO_DEVICE(s)->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return BALLOON_STALL_REASON_DRIVER_NOT_READY;
    }
    if (c->floor_blocked) {
        return BALLOON_STALL_REASON_FLOOR;
    }
    if (ram_block_discard_is_disabled() || migration_is_running() ||
        migration_in_incoming_postcopy()) {
        return BALLOON_STALL_REASON_DISCARD_DISABLED;
    }
    return BALLOON_STALL_REASON_GUEST_NOT_RESPONDING;
}

static void set_status(BalloonCmm *c, BalloonTargetStatus status)
{
    if (c->status != status) {
        trace_virtio_balloon_cmm_status(BalloonTargetStatus_str(status));
        c->status = status;
    }
}

uint64_t balloon_cmm_control(VirtIOBalloon *s, uint64_t fp, int64_t now)
{
    BalloonCmm *c = s->cmm;
    uint64_t tolerance = MAX(4 * MiB, balloon_cmm_ram() / 256), deficit;
    uint64_t reclaimed = c->reclaimed;
    bool met;

    balloon_rate_refill(&c->bucket, now, PAGE);
    if (c->kind == BALLOON_TARGET_KIND_FOOTPRINT) {
        deficit = control_footprint(s, c, &fp);
        /* Once met, a footprint target is lost only beyond a tolerance. */
        met = c->status == BALLOON_TARGET_STATUS_REACHED ?
              fp <= c->target + tolerance : !deficit;
    } else {
        deficit = control_logical(s, c);
        met = !deficit;
    }
    trace_virtio_balloon_cmm_tick(fp, s->num_pages, s->actual,
                                  balloon_rate_budget(&c->bucket));

    if (met) {
        if (c->status != BALLOON_TARGET_STATUS_REACHED) {
            set_status(c, BALLOON_TARGET_STATUS_REACHED);
            qapi_event_send_balloon_target_reached(c->kind, c->target,
                                                   balloon_cmm_logical(s),
                                                   fp);
        }
        c->progress_ms = now;
        c->last_fp = fp;
        c->stall_sent = false;
        return fp;
    }
    if (c->status == BALLOON_TARGET_STATUS_REACHED) {
        set_status(c, BALLOON_TARGET_STATUS_ACTIVE);
    }
    if (s->actual != c->last_actual || c->reclaimed != reclaimed ||
        fp + MiB < c->last_fp) {
        c->last_actual = s->actual;
        c->last_fp = fp;
        c->progress_ms = now;
        c->stall_sent = false;
        set_status(c, BALLOON_TARGET_STATUS_ACTIVE);
        return fp;
    }
    if (!c->stall_sent && now - c->progress_ms >= s->target_stall_ms) {
        c->stall_sent = true;
        set_status(c, BALLOON_TARGET_STATUS_STALLED);
        qapi_event_send_balloon_target_stalled(c->kind, c->target,
                                               stall_reason(s, c), deficit);
    }
    return fp;
}

void balloon_cmm_start_target(BalloonCmm *c)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    balloon_rate_start(&c->bucket, c->rate, now);
    c->progress_ms = now;
    c->last_actual = c->dev->actual;
    c->last_fp = UINT64_MAX;
    c->stall_sent = false;
    balloon_cmm_arm(c, 0);
}
