/*
 * qemu-cmm: tmem-pool, the host page pool that virtio-tmem devices share
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_TMEM_POOL_H
#define SYSTEM_TMEM_POOL_H

#include "qom/object.h"
#include "hw/qdev-core.h"
#include "system/tmem-store.h"

#define TYPE_TMEM_POOL "tmem-pool"
OBJECT_DECLARE_SIMPLE_TYPE(TmemPool, TMEM_POOL)

/* Called when the host changed a client's cap, weight or frozen state. */
typedef void (*TmemClientChanged)(DeviceState *dev);

typedef struct TmemPoolClient {
    TmemClient *client;
    DeviceState *dev;               /* the virtio device: the identity */
    TmemClientChanged changed;
    QTAILQ_ENTRY(TmemPoolClient) next;
} TmemPoolClient;

struct TmemPool {
    Object parent_obj;

    uint64_t size;
    TmemStore *store;
    QEMUBH *reap_bh;
    QTAILQ_HEAD(, TmemPoolClient) clients;
};

TmemClient *tmem_pool_attach(TmemPool *pool, DeviceState *dev,
                             unsigned weight, uint64_t cap,
                             TmemClientChanged changed, Error **errp);
void tmem_pool_detach(TmemPool *pool, DeviceState *dev);
/* Free flushed content in the background, a bounded amount at a time. */
void tmem_pool_schedule_reap(TmemPool *pool);
/* The name QMP uses for a client: its transport's id, else its path. */
char *tmem_pool_client_name(TmemPoolClient *pc);
char *tmem_pool_dev_name(DeviceState *dev);
/* Find a client by that name over all pools; NULL sets errp. */
TmemPoolClient *tmem_pool_find_client(const char *name, TmemPool **pool,
                                      Error **errp);
/* Call fn for every tmem-pool object. */
void tmem_pool_foreach(void (*fn)(TmemPool *pool, void *opaque),
                       void *opaque);

/* HMP twins of the QMP commands */
void hmp_info_tmem(Monitor *mon, const QDict *qdict);
void hmp_tmem_set(Monitor *mon, const QDict *qdict);
void hmp_tmem_drop(Monitor *mon, const QDict *qdict);
void hmp_tmem_freeze(Monitor *mon, const QDict *qdict);
void hmp_tmem_thaw(Monitor *mon, const QDict *qdict);

#endif
