/*
 * virtio-balloon: cooperative memory, migration of a set-target
 *
 * A subsection of the balloon, sent only when cmma=on or a target is in
 * force, so that otherwise the stream stays upstream's.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "migration/vmstate.h"
#include "virtio-balloon-cmm-internal.h"

static int cmm_post_load(void *opaque, int version_id)
{
    BalloonCmm *c = opaque;

    if (c->kind >= BALLOON_TARGET_KIND__MAX ||
        c->status >= BALLOON_TARGET_STATUS__MAX) {
        error_report("virtio-balloon: bad incoming target kind %u or "
                     "status %u", c->kind, c->status);
        return -EINVAL;
    }
    if (c->floor > balloon_cmm_ram() || c->target > balloon_cmm_ram()) {
        error_report("virtio-balloon: incoming target %" PRIu64 " or floor %"
                     PRIu64 " beyond this guest's RAM", c->target, c->floor);
        return -EINVAL;
    }
    if (c->active) {
        balloon_cmm_start_target(c);
    } else if (c->dev->cmma) {
        balloon_cmm_arm(c, BALLOON_CMM_REPORT_MS);
    }
    return 0;
}

static const VMStateDescription vmstate_balloon_cmm_state = {
    .name = "virtio-balloon-cmm-state",
    .version_id = 2,
    .minimum_version_id = 2,
    .post_load = cmm_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(active, BalloonCmm),
        VMSTATE_UINT32(kind, BalloonCmm),
        VMSTATE_UINT64(target, BalloonCmm),
        VMSTATE_UINT64(rate, BalloonCmm),
        VMSTATE_UINT64(floor, BalloonCmm),
        VMSTATE_BOOL(has_floor, BalloonCmm),
        VMSTATE_UINT32(status, BalloonCmm),
        VMSTATE_UINT64(reclaimed, BalloonCmm),
        VMSTATE_END_OF_LIST()
    }
};

static bool cmm_needed(void *opaque)
{
    VirtIOBalloon *s = opaque;

    return s->cmma || s->cmm->active;
}

/*
 * Version 2 added has_floor (a floor of 0 is shown as set); the inner
 * state is loaded at its own version, so the subsection carries it.
 */
const VMStateDescription vmstate_virtio_balloon_cmm = {
    .name = "virtio-balloon-device/cmm",
    .version_id = 2,
    .minimum_version_id = 2,
    .needed = cmm_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(cmm, VirtIOBalloon, vmstate_balloon_cmm_state,
                               BalloonCmm),
        VMSTATE_END_OF_LIST()
    }
};
