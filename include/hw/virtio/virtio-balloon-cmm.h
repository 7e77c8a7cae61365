/*
 * virtio-balloon: cooperative memory (page-state reporting, targets,
 * coalesced discards)
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_BALLOON_CMM_H
#define HW_VIRTIO_BALLOON_CMM_H

#include "exec/memory.h"
#include "hw/virtio/virtio-balloon.h"
#include "migration/vmstate.h"
#include "qapi/qapi-types-machine.h"

/* Default for the device's target-stall-ms property. */
#define BALLOON_CMM_STALL_MS 5000

bool virtio_balloon_cmm_realize(VirtIOBalloon *s, Error **errp);
void virtio_balloon_cmm_unrealize(VirtIOBalloon *s);

/* Fill the optional fields of query-balloon. */
void virtio_balloon_cmm_stat(VirtIOBalloon *s, BalloonInfo *info);

/* The balloon command set a logical size: any set-target is over. */
void virtio_balloon_cmm_cancel(VirtIOBalloon *s);

/*
 * virtio_balloon_cmm_queue_page: an inflated (@inflate) or deflated page
 * Queue the page at @offset of @mr for a coalesced discard or hint.
 * Returns: false if the page must take upstream's per-page path (host
 * pages larger than 4 KiB).
 */
bool virtio_balloon_cmm_queue_page(VirtIOBalloon *s, bool inflate,
                                   MemoryRegion *mr, hwaddr offset);

/* Queue a free-page report range for a coalesced discard. */
void virtio_balloon_cmm_queue_report(VirtIOBalloon *s, RAMBlock *rb,
                                     ram_addr_t offset, size_t size);

/* Carry out what is queued: call before the element goes back. */
void virtio_balloon_cmm_flush(VirtIOBalloon *s);

void hmp_balloon_set_target(Monitor *mon, const QDict *qdict);
void hmp_info_balloon_cmm(Monitor *mon, BalloonInfo *info);

extern const VMStateDescription vmstate_virtio_balloon_cmm;

#endif
