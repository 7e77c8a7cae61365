/*
 * virtio-balloon: the page-state provider registry and its stub
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/balloon-page-states.h"

static const char *stub_unavailable(void *opaque)
{
    return "cmma=on needs a page-state table: qemu-cmm provides one for "
           "s390x under TCG";
}

static void stub_census(void *opaque, const uint8_t *resident,
                        uint64_t npages, BalloonPageCensus *out)
{
    memset(out, 0, sizeof(*out));
}

static bool stub_can_reclaim(void *opaque)
{
    return false;
}

static uint64_t stub_reclaim(void *opaque, uint64_t max,
                             const uint8_t *resident, uint64_t npages)
{
    return 0;
}

static void stub_note_reported(void *opaque, RAMBlock *rb, uint64_t start,
                               uint64_t length)
{
}

static uint64_t stub_take_changed(void *opaque, unsigned long *out,
                                  uint64_t nbits)
{
    return 0;
}

static const BalloonPageStateOps stub_ops = {
    .unavailable = stub_unavailable,
    .census = stub_census,
    .can_reclaim = stub_can_reclaim,
    .reclaim = stub_reclaim,
    .note_reported = stub_note_reported,
    .take_changed = stub_take_changed,
};

static const BalloonPageStateOps *provider_ops;
static void *provider_opaque;

void balloon_page_states_register(const BalloonPageStateOps *ops,
                                  void *opaque)
{
    provider_ops = ops;
    provider_opaque = opaque;
}

const BalloonPageStateOps *balloon_page_states(void **opaque)
{
    *opaque = provider_ops ? provider_opaque : NULL;
    return provider_ops ? provider_ops : &stub_ops;
}
