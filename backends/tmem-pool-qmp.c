/*
 * qemu-cmm: QMP and HMP control of tmem-pool objects and their clients
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-tmem.h"
#include "qobject/qdict.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "system/tmem-pool.h"
#include "trace.h"

static TmemClientInfo *client_info(TmemPoolClient *pc)
{
    TmemClientInfo *ci = g_new0(TmemClientInfo, 1);
    TmemClientStats st;

    tmem_client_info(pc->client, &st);
    ci->device = tmem_pool_client_name(pc);
    ci->weight = st.weight;
    ci->cap = st.cap;
    ci->frozen = st.frozen;
    ci->epoch = st.epoch;
    ci->pools = st.pools;
    ci->ephemeral_pages = st.eph_pages;
    ci->persistent_pages = st.pers_pages;
    ci->objects = st.objects;
    ci->pending_pages = st.dead_pages;
    ci->bytes = st.bytes;
    ci->puts = st.c.puts;
    ci->puts_refused = st.c.puts - st.c.puts_ok;
    ci->gets = st.c.gets;
    ci->hits = st.c.hits;
    ci->misses = st.c.misses;
    ci->flushes = st.c.flushes;
    ci->evictions = st.c.evictions;
    ci->invalid = st.c.invalid;
    return ci;
}

static void add_pool_info(TmemPool *pool, void *opaque)
{
    TmemPoolInfoList ***tail = opaque;
    TmemPoolInfo *pi = g_new0(TmemPoolInfo, 1);
    TmemClientInfoList **ctail = &pi->clients;
    TmemStoreInfo si;
    TmemPoolClient *pc;

    tmem_store_info(pool->store, &si);
    pi->id = g_strdup(object_get_canonical_path_component(OBJECT(pool)));
    pi->size = si.size;
    pi->used = si.used;
    pi->metadata = si.metadata;
    pi->pages = si.pages;
    pi->objects = si.objects;
    pi->evictions = si.evictions;
    QTAILQ_FOREACH(pc, &pool->clients, next) {
        QAPI_LIST_APPEND(ctail, client_info(pc));
    }
    QAPI_LIST_APPEND(*tail, pi);
}

TmemPoolInfoList *qmp_query_tmem(Error **errp)
{
    TmemPoolInfoList *head = NULL, **tail = &head;

    tmem_pool_foreach(add_pool_info, &tail);
    return head;
}

/* Signed in the schema, so that the errors name a negative value as sent. */
void qmp_tmem_set_client(const char *device, bool has_weight,
                         int64_t weight, bool has_cap, int64_t cap,
                         Error **errp)
{
    TmemPool *pool;
    TmemPoolClient *pc = tmem_pool_find_client(device, &pool, errp);

    if (!pc) {
        return;
    }
    if (has_weight && (weight < 0 || weight > TMEM_WEIGHT_MAX)) {
        error_setg(errp, "weight %" PRId64 " is out of range (0-%u)", weight,
                   TMEM_WEIGHT_MAX);
        return;
    }
    if (has_cap && cap && (cap < 0 ||
                           cap < tmem_page_cost() + tmem_object_cost() ||
                           cap > pool->size)) {
        error_setg(errp, "cap %" PRId64 " is out of range (0, or %" PRIu64
                   " to the pool's size %" PRIu64 ")", cap,
                   tmem_page_cost() + tmem_object_cost(), pool->size);
        return;
    }
    if (has_weight) {
        tmem_client_set_weight(pc->client, weight);
    }
    if (has_cap) {
        tmem_client_set_cap(pc->client, cap);
        tmem_store_trim(pool->store);
    }
    trace_tmem_client_set(device, has_weight ? weight : -1,
                          has_cap ? cap : UINT64_MAX);
    /* every client's fair share moves with one weight */
    QTAILQ_FOREACH(pc, &pool->clients, next) {
        pc->changed(pc->dev);
    }
}

typedef struct DropAll {
    const char *pool;
    uint64_t bytes;
    bool found;
} DropAll;

static void drop_pool(TmemPool *pool, void *opaque)
{
    DropAll *d = opaque;
    TmemPoolClient *pc;

    if (d->pool &&
        strcmp(d->pool, object_get_canonical_path_component(OBJECT(pool)))) {
        return;
    }
    d->found = true;
    d->bytes += tmem_store_drop_ephemeral(pool->store);
    QTAILQ_FOREACH(pc, &pool->clients, next) {
        pc->changed(pc->dev);
    }
}

TmemDropResult *qmp_tmem_drop(const char *pool, const char *device,
                              Error **errp)
{
    TmemDropResult *r;
    DropAll d = { .pool = pool };

    if (device) {
        TmemPool *owner;
        TmemPoolClient *pc = tmem_pool_find_client(device, &owner, errp);

        if (!pc) {
            return NULL;
        }
        if (pool && strcmp(pool, object_get_canonical_path_component(
                               OBJECT(owner)))) {
            error_setg(errp, "virtio-tmem device '%s' does not use "
                       "tmem-pool '%s'", device, pool);
            return NULL;
        }
        d.bytes = tmem_client_drop_ephemeral(pc->client);
        pc->changed(pc->dev);
    } else {
        tmem_pool_foreach(drop_pool, &d);
        if (pool && !d.found) {
            error_setg(errp, "'%s' is not a tmem-pool", pool);
            return NULL;
        }
    }
    trace_tmem_drop(pool ? pool : "", device ? device : "", d.bytes);
    r = g_new0(TmemDropResult, 1);
    r->bytes = d.bytes;
    return r;
}

static void set_frozen(const char *device, bool frozen, Error **errp)
{
    TmemPoolClient *pc = tmem_pool_find_client(device, NULL, errp);

    if (pc) {
        tmem_client_set_frozen(pc->client, frozen);
        trace_tmem_client_frozen(device, frozen);
        pc->changed(pc->dev);
    }
}

void qmp_tmem_freeze(const char *device, Error **errp)
{
    set_frozen(device, true, errp);
}

void qmp_tmem_thaw(const char *device, Error **errp)
{
    set_frozen(device, false, errp);
}

/* ---- HMP ---------------------------------------------------------------- */

void hmp_info_tmem(Monitor *mon, const QDict *qdict)
{
    g_autoptr(TmemPoolInfoList) pools = qmp_query_tmem(NULL);

    if (!pools) {
        monitor_printf(mon, "no tmem-pool objects\n");
        return;
    }
    for (TmemPoolInfoList *p = pools; p; p = p->next) {
        TmemPoolInfo *pi = p->value;

        monitor_printf(mon, "tmem-pool %s: size %" PRIu64 " MiB, used %"
                       PRIu64 " KiB (metadata %" PRIu64 " KiB), %" PRIu64
                       " pages, %" PRIu64 " objects, %" PRIu64
                       " evictions\n", pi->id, pi->size >> 20,
                       pi->used >> 10, pi->metadata >> 10, pi->pages,
                       pi->objects, pi->evictions);
        for (TmemClientInfoList *c = pi->clients; c; c = c->next) {
            TmemClientInfo *ci = c->value;

            g_autofree char *cap = ci->cap ?
                g_strdup_printf("%" PRIu64 " KiB", ci->cap >> 10) :
                g_strdup("the pool's size");

            monitor_printf(mon, "  %s: weight %u, cap %s%s, epoch %u, "
                           "%u pools\n", ci->device, ci->weight, cap,
                           ci->frozen ? ", frozen" : "", ci->epoch,
                           ci->pools);
            monitor_printf(mon, "    pages: %" PRIu64 " ephemeral, %" PRIu64
                           " persistent, %" PRIu64 " pending free; %"
                           PRIu64 " objects, %" PRIu64 " KiB\n",
                           ci->ephemeral_pages, ci->persistent_pages,
                           ci->pending_pages, ci->objects, ci->bytes >> 10);
            monitor_printf(mon, "    puts %" PRIu64 " (refused %" PRIu64
                           "), gets %" PRIu64 " (hits %" PRIu64 ", misses %"
                           PRIu64 "), flushes %" PRIu64 ", evictions %"
                           PRIu64 ", invalid %" PRIu64 "\n", ci->puts,
                           ci->puts_refused, ci->gets, ci->hits, ci->misses,
                           ci->flushes, ci->evictions, ci->invalid);
        }
    }
}

/* HMP reads what its help says: a decimal weight, a cap in bytes. */
void hmp_tmem_set(Monitor *mon, const QDict *qdict)
{
    const char *weight_str = qdict_get_str(qdict, "weight");
    const char *cap_str = qdict_get_try_str(qdict, "cap");
    unsigned int weight;
    uint64_t cap = 0;
    Error *err = NULL;

    if (qemu_strtoui(weight_str, NULL, 10, &weight) ||
        weight > TMEM_WEIGHT_MAX) {
        error_setg(&err, "Parameter 'weight' must be a number from 0 to %d, "
                   "not '%s'", TMEM_WEIGHT_MAX, weight_str);
    } else if (cap_str && (qemu_strtosz(cap_str, NULL, &cap) ||
                           cap > INT64_MAX)) {
        error_setg(&err, "Parameter 'cap' must be a size in bytes (suffixes "
                   "K, M, G, T allowed), not '%s'", cap_str);
    } else {
        qmp_tmem_set_client(qdict_get_str(qdict, "device"), true, weight,
                            cap_str != NULL, cap, &err);
    }
    hmp_handle_error(mon, err);
}

void hmp_tmem_drop(Monitor *mon, const QDict *qdict)
{
    const char *name = qdict_get_try_str(qdict, "name");
    Error *err = NULL;
    TmemDropResult *r;
    bool is_pool = name && object_dynamic_cast(
        object_resolve_path_component(object_get_objects_root(), name),
        TYPE_TMEM_POOL);

    /* one name for either: a pool id, else a device */
    r = qmp_tmem_drop(is_pool ? name : NULL, is_pool ? NULL : name, &err);
    if (r) {
        monitor_printf(mon, "dropped %" PRIu64 " KiB\n", r->bytes >> 10);
        qapi_free_TmemDropResult(r);
    }
    hmp_handle_error(mon, err);
}

void hmp_tmem_freeze(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_tmem_freeze(qdict_get_str(qdict, "device"), &err);
    hmp_handle_error(mon, err);
}

void hmp_tmem_thaw(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_tmem_thaw(qdict_get_str(qdict, "device"), &err);
    hmp_handle_error(mon, err);
}
