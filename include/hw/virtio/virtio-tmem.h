/*
 * qemu-cmm: virtio-tmem, a guest's door to a tmem-pool
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VIRTIO_TMEM_H
#define HW_VIRTIO_TMEM_H

#include "hw/virtio/virtio.h"
#include "hw/virtio/tmem-abi.h"
#include "system/tmem-pool.h"

#define TYPE_VIRTIO_TMEM "virtio-tmem-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOTmem, VIRTIO_TMEM)

struct VirtIOTmem {
    VirtIODevice parent_obj;

    VirtQueue *vq;
    TmemPool *pool;
    TmemClient *client;
    uint32_t weight;
    uint64_t cap;
    bool persistent;
    uint32_t max_batch;
    /* per-chain scratch: the private copy of the guest's request */
    uint8_t *rbuf, *wbuf;
};

#endif
