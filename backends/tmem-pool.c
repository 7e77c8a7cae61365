/*
 * qemu-cmm: tmem-pool, the host page pool that virtio-tmem devices share
 *
 *   -object tmem-pool,id=tp0,size=1G
 *
 * size is the host budget for stored pages and their metadata.  Each
 * virtio-tmem device attached to the pool is one client with its own
 * namespace, weight and cap; nothing a guest says names a client.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qom/object_interfaces.h"
#include "system/tmem-pool.h"
#include "trace.h"

/* Pages the background reaper frees per main-loop turn. */
#define TMEM_REAP_BUDGET    4096

static void tmem_pool_reap_bh(void *opaque)
{
    TmemPool *pool = opaque;

    if (tmem_store_reap(pool->store, TMEM_REAP_BUDGET)) {
        qemu_bh_schedule(pool->reap_bh);
    } else {
        tmem_store_trim(pool->store);
    }
}

void tmem_pool_schedule_reap(TmemPool *pool)
{
    qemu_bh_schedule(pool->reap_bh);
}

TmemClient *tmem_pool_attach(TmemPool *pool, DeviceState *dev,
                             unsigned weight, uint64_t cap,
                             TmemClientChanged changed, Error **errp)
{
    TmemPoolClient *pc;

    if (!pool->store) {
        error_setg(errp, "tmem-pool '%s' is not complete",
                   object_get_canonical_path_component(OBJECT(pool)));
        return NULL;
    }
    if (cap > pool->size) {
        error_setg(errp, "cap %" PRIu64 " is larger than tmem-pool '%s' "
                   "(size %" PRIu64 ")", cap,
                   object_get_canonical_path_component(OBJECT(pool)),
                   pool->size);
        return NULL;
    }
    pc = g_new0(TmemPoolClient, 1);
    pc->client = tmem_client_new(pool->store, weight, cap);
    pc->dev = dev;
    pc->changed = changed;
    QTAILQ_INSERT_TAIL(&pool->clients, pc, next);
    return pc->client;
}

void tmem_pool_detach(TmemPool *pool, DeviceState *dev)
{
    TmemPoolClient *pc;

    QTAILQ_FOREACH(pc, &pool->clients, next) {
        if (pc->dev == dev) {
            QTAILQ_REMOVE(&pool->clients, pc, next);
            tmem_client_free(pc->client);
            tmem_store_trim(pool->store);
            g_free(pc);
            return;
        }
    }
}

char *tmem_pool_dev_name(DeviceState *dev)
{
    DeviceState *proxy = dev->parent_bus ? dev->parent_bus->parent : NULL;
    DeviceState *named = proxy ? proxy : dev;

    if (named->id) {
        return g_strdup(named->id);
    }
    return object_get_canonical_path(OBJECT(named));
}

char *tmem_pool_client_name(TmemPoolClient *pc)
{
    return tmem_pool_dev_name(pc->dev);
}

typedef struct FindClient {
    const char *name;
    TmemPoolClient *pc;
    TmemPool *pool;
} FindClient;

static void find_client(TmemPool *pool, void *opaque)
{
    FindClient *f = opaque;
    TmemPoolClient *pc;

    QTAILQ_FOREACH(pc, &pool->clients, next) {
        DeviceState *proxy = pc->dev->parent_bus ?
                             pc->dev->parent_bus->parent : pc->dev;
        g_autofree char *name = tmem_pool_client_name(pc);
        g_autofree char *path = object_get_canonical_path(OBJECT(proxy));
        g_autofree char *vpath = object_get_canonical_path(OBJECT(pc->dev));

        /* its id, or the QOM path of the transport or the device */
        if (!f->pc && (!strcmp(name, f->name) || !strcmp(path, f->name) ||
                       !strcmp(vpath, f->name))) {
            f->pc = pc;
            f->pool = pool;
        }
    }
}

TmemPoolClient *tmem_pool_find_client(const char *name, TmemPool **pool,
                                      Error **errp)
{
    FindClient f = { .name = name };

    tmem_pool_foreach(find_client, &f);
    if (!f.pc) {
        error_setg(errp, "'%s' is not a virtio-tmem device attached to a "
                   "tmem-pool", name);
        return NULL;
    }
    if (pool) {
        *pool = f.pool;
    }
    return f.pc;
}

typedef struct ForeachPool {
    void (*fn)(TmemPool *pool, void *opaque);
    void *opaque;
} ForeachPool;

static int foreach_pool(Object *obj, void *opaque)
{
    ForeachPool *f = opaque;
    TmemPool *pool = (TmemPool *)object_dynamic_cast(obj, TYPE_TMEM_POOL);

    if (pool && pool->store) {
        f->fn(pool, f->opaque);
    }
    return 0;
}

void tmem_pool_foreach(void (*fn)(TmemPool *pool, void *opaque),
                       void *opaque)
{
    ForeachPool f = { .fn = fn, .opaque = opaque };

    object_child_foreach(object_get_objects_root(), foreach_pool, &f);
}

static void tmem_pool_get_size(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    TmemPool *pool = TMEM_POOL(obj);

    visit_type_size(v, name, &pool->size, errp);
}

static void tmem_pool_set_size(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    TmemPool *pool = TMEM_POOL(obj);
    uint64_t size;

    if (pool->store) {
        error_setg(errp, "cannot change the size of tmem-pool '%s' once "
                   "it is created",
                   object_get_canonical_path_component(obj));
        return;
    }
    if (!visit_type_size(v, name, &size, errp)) {
        return;
    }
    if (size < 1 * MiB || size > 1 * TiB) {
        error_setg(errp, "tmem-pool size %" PRIu64 " is out of range "
                   "(1 MiB to 1 TiB)", size);
        return;
    }
    pool->size = size;
}

static void tmem_pool_complete(UserCreatable *uc, Error **errp)
{
    TmemPool *pool = TMEM_POOL(uc);

    if (!pool->size) {
        error_setg(errp, "tmem-pool needs a size");
        return;
    }
    pool->store = tmem_store_new(pool->size);
    if (!pool->store) {
        error_setg_errno(errp, errno, "cannot reserve %" PRIu64
                         " bytes for tmem-pool", pool->size);
        return;
    }
    pool->reap_bh = qemu_bh_new(tmem_pool_reap_bh, pool);
    trace_tmem_pool_create(object_get_canonical_path_component(OBJECT(uc)),
                           pool->size);
}

static bool tmem_pool_can_be_deleted(UserCreatable *uc)
{
    return QTAILQ_EMPTY(&TMEM_POOL(uc)->clients);
}

static void tmem_pool_init(Object *obj)
{
    QTAILQ_INIT(&TMEM_POOL(obj)->clients);
}

static void tmem_pool_finalize(Object *obj)
{
    TmemPool *pool = TMEM_POOL(obj);

    if (pool->reap_bh) {
        qemu_bh_delete(pool->reap_bh);
    }
    tmem_store_free(pool->store);
}

static void tmem_pool_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = tmem_pool_complete;
    ucc->can_be_deleted = tmem_pool_can_be_deleted;
    object_class_property_add(oc, "size", "size", tmem_pool_get_size,
                              tmem_pool_set_size, NULL, NULL);
    object_class_property_set_description(oc, "size",
        "host budget for stored pages and their metadata, in bytes");
}

static const TypeInfo tmem_pool_info = {
    .name = TYPE_TMEM_POOL,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(TmemPool),
    .instance_init = tmem_pool_init,
    .instance_finalize = tmem_pool_finalize,
    .class_init = tmem_pool_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void tmem_pool_register_types(void)
{
    type_register_static(&tmem_pool_info);
}

type_init(tmem_pool_register_types);
