/*
 * virtio-balloon: the page-state provider interface
 *
 * The balloon's cooperative-memory code (cmma=on) learns which guest pages
 * are unused from a provider: on s390x under TCG, the CMMA page-state
 * table (hw/s390x/s390-cmma-balloon.c).  Without one, a stub answers that
 * page states are unavailable, so the balloon needs no target #ifdef and
 * reads no other module's structures.
 *
 * All callbacks run in the main loop with the BQL held, like the balloon.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_BALLOON_PAGE_STATES_H
#define HW_VIRTIO_BALLOON_PAGE_STATES_H

#include "exec/cpu-common.h"

/* Guest memory by page state, in bytes. */
typedef struct BalloonPageCensus {
    uint64_t stable;            /* in use (not unused, not volatile) */
    uint64_t unused_resident;   /* unused and resident on the host */
    uint64_t discarded;         /* released, but not by page reporting */
    uint64_t reported;          /* released by free-page reporting */
} BalloonPageCensus;

typedef struct BalloonPageStateOps {
    /*
     * Why the guest cannot report page states (a message for the user),
     * or NULL if it can.
     */
    const char *(*unavailable)(void *opaque);
    /*
     * @resident: one byte per 4 KiB page of guest RAM, non-zero if
     * resident on the host, @npages long; unused pages count as resident
     * only where it says so.
     */
    void (*census)(void *opaque, const uint8_t *resident, uint64_t npages,
                   BalloonPageCensus *out);
    /* May unused pages be released now (the provider's policy)? */
    bool (*can_reclaim)(void *opaque);
    /*
     * Release unused pages, about @max bytes of resident ones (see
     * census() for @resident, which may be NULL: all count).
     * Returns: the resident bytes released.
     */
    uint64_t (*reclaim)(void *opaque, uint64_t max, const uint8_t *resident,
                        uint64_t npages);
    /* Free-page reporting released [@start, @start + @length) of @rb. */
    void (*note_reported)(void *opaque, RAMBlock *rb, uint64_t start,
                          uint64_t length);
    /*
     * Which blocks of guest RAM had a page change state (used, unused,
     * released) since the last call: ORs one bit per block into @out,
     * @nbits long, and forgets them.  With @out NULL it only answers.
     * Returns: the block size in bytes, or 0 if the provider does not
     * track changes (the guest has not yet used page states, say): then
     * residency may change anywhere without notice.
     */
    uint64_t (*take_changed)(void *opaque, unsigned long *out,
                             uint64_t nbits);
} BalloonPageStateOps;

/* Called once by the provider (the machine's page-state table). */
void balloon_page_states_register(const BalloonPageStateOps *ops,
                                  void *opaque);

/* The provider, or the stub; *@opaque is set for its callbacks. */
const BalloonPageStateOps *balloon_page_states(void **opaque);

#endif
