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

/* The host's settings for the client, as a migration carries them. */
typedef struct VirtIOTmemSettings {
    uint32_t weight;
    uint64_t cap;
    bool frozen;
} VirtIOTmemSettings;

/* Where the destination is in the pages section of a migration. */
typedef enum VirtIOTmemMigIn {
    VIRTIO_TMEM_MIG_IN_NONE,        /* none seen: pages in the device state */
    VIRTIO_TMEM_MIG_IN_STARTED,
    VIRTIO_TMEM_MIG_IN_DONE,        /* all pages are in */
} VirtIOTmemMigIn;

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

    /* migration (virtio-tmem-migration.c) */
    VirtIOTmemSettings mig_settings;    /* the settings subsection */
    bool mig_live;                      /* source: the pages section runs */
    TmemTrackRecord *mig_rec;           /* source: one batch of records */
    uint8_t *mig_data;                  /* ... and its pages */
    VirtIOTmemMigIn mig_in;
};

/* virtio-tmem-migration.c */
extern const VMStateDescription vmstate_virtio_tmem_device;
void virtio_tmem_migration_realize(VirtIOTmem *t);
void virtio_tmem_migration_unrealize(VirtIOTmem *t);

#endif
