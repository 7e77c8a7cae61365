/*
 * s390x CMMA page-state table: the virtio-balloon's page-state provider
 *
 * Gives the balloon (cmma=on) the census, the unused pages still resident
 * and a way to reclaim them, through include/hw/virtio/balloon-page-states.h.
 * Registered by the table when it is realized; called in the main loop
 * with the BQL held.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "hw/boards.h"
#include "hw/s390x/s390-cmma.h"
#include "hw/virtio/balloon-page-states.h"
#include "target/s390x/cpu_models.h"

static const char *cmma_unavailable(void *opaque)
{
    if (!s390_has_feat(S390_FEAT_CMM)) {
        return "cmma=on needs the CPU feature 'cmm' (the qemu CPU model of "
               "the s390-ccw-virtio-cmm-10.0 machine, or -cpu max)";
    }
    return NULL;
}

static void cmma_census(void *opaque, const uint8_t *resident,
                        uint64_t npages, BalloonPageCensus *out)
{
    S390CmmaState *s = opaque;
    CmmaCensus c;

    s390_cmma_census(s, &c);
    out->stable = c.usage[CMMA_USAGE_STABLE] * CMMA_PAGE_SIZE;
    out->reported = c.reported * CMMA_PAGE_SIZE;
    out->discarded = (c.discarded - MIN(c.discarded, c.reported)) *
                     CMMA_PAGE_SIZE;
    out->unused_resident = s390_cmma_pending_resident(s, resident, npages) *
                           CMMA_PAGE_SIZE;
}

static bool cmma_can_reclaim(void *opaque)
{
    S390CmmaState *s = opaque;

    return qatomic_read(&s->discard) != CMMA_DISCARD_POLICY_OFF;
}

static uint64_t cmma_reclaim(void *opaque, uint64_t max,
                             const uint8_t *resident, uint64_t npages)
{
    S390CmmaState *s = opaque;

    return s390_cmma_reclaim(s, max, npages == s->npages ? resident : NULL);
}

static void cmma_note_reported(void *opaque, RAMBlock *rb, uint64_t start,
                               uint64_t length)
{
    S390CmmaState *s = opaque;

    /* Only the machine's RAM has page states. */
    if (rb == MACHINE(qdev_get_machine())->ram->ram_block) {
        s390_cmma_note_reported(s, start, length);
    }
}

static uint64_t cmma_take_changed(void *opaque, unsigned long *out,
                                  uint64_t nbits)
{
    return s390_cmma_take_changed(opaque, out, nbits);
}

static const BalloonPageStateOps cmma_balloon_ops = {
    .unavailable = cmma_unavailable,
    .census = cmma_census,
    .can_reclaim = cmma_can_reclaim,
    .reclaim = cmma_reclaim,
    .note_reported = cmma_note_reported,
    .take_changed = cmma_take_changed,
};

void s390_cmma_balloon_register(S390CmmaState *s)
{
    balloon_page_states_register(&cmma_balloon_ops, s);
}
