/*
 * virtio-balloon: cooperative memory, QMP and HMP
 *
 * balloon-set-target and its HMP twin balloon_target, and what
 * query-balloon / info balloon add.  Main loop, BQL held.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-balloon-cmm.h"
#include "qobject/qdict.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "trace.h"
#include "virtio-balloon-cmm-internal.h"

void qmp_balloon_set_target(BalloonTargetKind kind, int64_t target,
                            bool has_rate, int64_t rate,
                            bool has_floor, int64_t floor, Error **errp)
{
    VirtIOBalloon *s = balloon_cmm_device();
    uint64_t ram = balloon_cmm_ram();
    BalloonCmm *c;

    if (!s) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE,
                  "No balloon device has been activated");
        return;
    }
    if (target < (int64_t)MiB || target > ram) {
        error_setg(errp, "Parameter 'target' must be between 1 MiB and the "
                   "guest's RAM (%" PRIu64 " bytes), not %" PRId64,
                   ram, target);
        return;
    }
    /* Any rate up to INT64_MAX works: the bucket saturates. */
    if (has_rate && rate < (int64_t)BALLOON_CMM_PAGE) {
        error_setg(errp, "Parameter 'rate' must be at least %" PRIu64
                   " bytes per second, not %" PRId64, BALLOON_CMM_PAGE, rate);
        return;
    }
    if (has_floor && (floor < 0 || floor > ram)) {
        error_setg(errp, "Parameter 'floor' must be between 0 and the "
                   "guest's RAM (%" PRIu64 " bytes), not %" PRId64,
                   ram, floor);
        return;
    }
    /* A footprint may sit below the floor; a logical size cannot. */
    if (has_floor && kind == BALLOON_TARGET_KIND_LOGICAL && floor > target) {
        error_setg(errp, "Parameter 'floor' (%" PRId64 ") is above the "
                   "logical target %" PRId64, floor, target);
        return;
    }
    if (kind == BALLOON_TARGET_KIND_FOOTPRINT && !s->cmma) {
        error_setg(errp, "A footprint target needs the balloon device's "
                   "'cmma' property on");
        return;
    }
    c = s->cmm;
    c->active = true;
    c->kind = kind;
    c->target = target;
    c->rate = has_rate ? rate : 0;
    c->has_floor = has_floor;
    c->floor = has_floor ? floor : 0;
    c->reclaimed = 0;
    c->status = BALLOON_TARGET_STATUS_ACTIVE;
    trace_virtio_balloon_cmm_set_target(BalloonTargetKind_str(kind), target,
                                        c->rate, c->floor);
    balloon_cmm_start_target(c);
}

void virtio_balloon_cmm_stat(VirtIOBalloon *s, BalloonInfo *info)
{
    BalloonCmm *c = s->cmm;

    if (s->cmma) {
        info->has_footprint = true;
        info->footprint = balloon_cmm_footprint(c);
        info->page_states = g_new0(BalloonPageStates, 1);
        balloon_cmm_page_states(s, info->page_states);
    }
    if (c->active) {
        BalloonTargetInfo *t = g_new0(BalloonTargetInfo, 1);

        t->kind = c->kind;
        t->target = c->target;
        t->has_rate = c->rate != 0;
        t->rate = c->rate;
        t->has_floor = c->has_floor;
        t->floor = c->floor;
        t->status = c->status;
        t->reclaimed = c->reclaimed;
        info->target = t;
    }
}

void hmp_info_balloon_cmm(Monitor *mon, BalloonInfo *info)
{
    BalloonPageStates *ps = info->page_states;
    BalloonTargetInfo *t = info->target;

    if (info->has_footprint) {
        monitor_printf(mon, "footprint=%" PRIu64 " MiB\n",
                       info->footprint / MiB);
    }
    if (ps) {
        monitor_printf(mon, "page states (MiB): stable=%" PRIu64
                       " unused-resident=%" PRIu64 " discarded=%" PRIu64
                       " reported=%" PRIu64 " ballooned=%" PRIu64 "\n",
                       ps->stable / MiB, ps->unused_resident / MiB,
                       ps->discarded / MiB, ps->reported / MiB,
                       ps->ballooned / MiB);
    }
    if (t) {
        monitor_printf(mon, "target: %s %" PRIu64 " MiB, %s",
                       BalloonTargetKind_str(t->kind), t->target / MiB,
                       BalloonTargetStatus_str(t->status));
        if (t->has_rate) {
            monitor_printf(mon, ", rate %" PRIu64 " KiB/s", t->rate / KiB);
        }
        if (t->has_floor) {
            monitor_printf(mon, ", floor %" PRIu64 " MiB", t->floor / MiB);
        }
        monitor_printf(mon, ", reclaimed %" PRIu64 " MiB\n",
                       t->reclaimed / MiB);
    }
}

/*
 * A size as HMP's help promises: bytes, or with a K/M/G/T suffix; anything
 * else, or more than INT64_MAX, is refused with the text as typed.
 */
static bool parse_size(const char *name, const char *str, int64_t *out,
                       Error **errp)
{
    uint64_t v;

    if (qemu_strtosz(str, NULL, &v) || v > INT64_MAX) {
        error_setg(errp, "Parameter '%s' must be a size in bytes (suffixes "
                   "K, M, G, T allowed), not '%s'", name, str);
        return false;
    }
    *out = v;
    return true;
}

void hmp_balloon_set_target(Monitor *mon, const QDict *qdict)
{
    const char *kind_str = qdict_get_str(qdict, "kind");
    const char *rate_str = qdict_get_try_str(qdict, "rate");
    const char *floor_str = qdict_get_try_str(qdict, "floor");
    int64_t target, rate = 0, floor = 0;
    Error *err = NULL;
    int kind;

    kind = qapi_enum_parse(&BalloonTargetKind_lookup, kind_str, -1, &err);
    if (kind >= 0 &&
        parse_size("target", qdict_get_str(qdict, "target"), &target,
                   &err) &&
        (!rate_str || parse_size("rate", rate_str, &rate, &err)) &&
        (!floor_str || parse_size("floor", floor_str, &floor, &err))) {
        qmp_balloon_set_target(kind, target, rate_str != NULL, rate,
                               floor_str != NULL, floor, &err);
    }
    hmp_handle_error(mon, err);
}
