/*
 * virtio-balloon: cooperative memory, page states and their event
 *
 * BALLOON_PAGE_STATES tells a manager how the guest's memory divides,
 * at most once a second and only when something moved by RAM/32.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-events-balloon-cmm.h"
#include "virtio-balloon-cmm-internal.h"

/* A page-state event needs a change of at least RAM / this. */
#define EVENT_FRACTION  32

void balloon_cmm_page_states(VirtIOBalloon *s, BalloonPageStates *ps)
{
    BalloonCmm *c = s->cmm;
    uint64_t ballooned = (uint64_t)s->actual * BALLOON_CMM_PAGE;
    BalloonPageCensus pc;

    /* vec is per host page; the provider checks it matches its pages */
    c->states->census(c->states_opaque, c->vec, c->vec_len, &pc);
    memset(ps, 0, sizeof(*ps));
    ps->ballooned = ballooned;
    ps->stable = pc.stable - MIN(pc.stable, ballooned);
    ps->unused_resident = pc.unused_resident;
    ps->reported = pc.reported;
    ps->discarded = pc.discarded;
}

static bool differs(uint64_t a, uint64_t b, uint64_t by)
{
    return (a > b ? a - b : b - a) >= by;
}

void balloon_cmm_maybe_report(VirtIOBalloon *s, uint64_t fp, int64_t now)
{
    BalloonCmm *c = s->cmm;
    uint64_t by = balloon_cmm_ram() / EVENT_FRACTION;
    BalloonPageStates ps;

    if (!s->cmma || now - c->sent_ms < BALLOON_CMM_REPORT_MS) {
        return;
    }
    balloon_cmm_page_states(s, &ps);
    if (c->sent_ms && !differs(fp, c->sent_footprint, by) &&
        !differs(ps.stable, c->sent.stable, by) &&
        !differs(ps.unused_resident, c->sent.unused_resident, by) &&
        !differs(ps.discarded, c->sent.discarded, by) &&
        !differs(ps.reported, c->sent.reported, by) &&
        !differs(ps.ballooned, c->sent.ballooned, by)) {
        return;
    }
    c->sent = ps;
    c->sent_footprint = fp;
    c->sent_ms = now;
    qapi_event_send_balloon_page_states(fp, balloon_cmm_logical(s), &ps);
}
