/*
 * qemu-cmm: the page store behind a tmem-pool object
 *
 * Pure bookkeeping, no QOM and no guest memory: clients (one per device),
 * their pool slots, objects and 4 KiB pages, the byte budget (data and
 * metadata), per-client caps and weights, LRU eviction of ephemeral pages
 * and deferred freeing of large flushes.  Callers serialize all calls
 * (QEMU holds the BQL).  Status results are VIRTIO_TMEM_* codes.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_TMEM_STORE_H
#define SYSTEM_TMEM_STORE_H

#include "hw/virtio/tmem-abi.h"

#define TMEM_PAGE_SIZE          VIRTIO_TMEM_PAGE_SIZE
#define TMEM_MAX_POOLS          VIRTIO_TMEM_MAX_POOLS
#define TMEM_WEIGHT_MAX         255

/* Pages freed inline by one flush; bigger flushes are deferred. */
#define TMEM_FLUSH_INLINE       64

typedef struct TmemStore TmemStore;
typedef struct TmemClient TmemClient;

typedef struct TmemOid {
    uint64_t v[3];
} TmemOid;

typedef struct TmemCounters {
    uint64_t puts;              /* PUT requests */
    uint64_t puts_ok;
    uint64_t puts_replaced;     /* duplicates replaced in place */
    uint64_t puts_nospace;
    uint64_t puts_frozen;
    uint64_t gets;
    uint64_t hits;
    uint64_t misses;
    uint64_t flushes;           /* FLUSH_PAGE/OBJECT/POOL, DESTROY_POOL */
    uint64_t flushed_pages;
    uint64_t evictions;         /* ephemeral pages evicted by the host */
    uint64_t invalid;           /* malformed operations (device counts) */
} TmemCounters;

typedef struct TmemClientStats {
    uint32_t weight;
    uint64_t cap;               /* bytes, 0: the store's size */
    bool frozen;
    uint32_t epoch;
    uint64_t eph_pages;
    uint64_t pers_pages;
    uint64_t objects;
    uint64_t dead_pages;        /* flushed, not yet freed */
    uint64_t bytes;             /* charged: data + metadata */
    uint32_t pools;             /* slots in use */
    TmemCounters c;
} TmemClientStats;

typedef struct TmemStoreInfo {
    uint64_t size;
    uint64_t used;              /* bytes charged, data + metadata */
    uint64_t pages;
    uint64_t objects;
    uint64_t metadata;          /* bytes of metadata charged */
    uint64_t evictions;
    uint32_t clients;
} TmemStoreInfo;

/* Bytes charged per stored page and per object (data and metadata). */
uint64_t tmem_page_cost(void);
uint64_t tmem_object_cost(void);

/* NULL with errno set when the host refuses the address space. */
TmemStore *tmem_store_new(uint64_t size);
void tmem_store_free(TmemStore *s);
void tmem_store_info(TmemStore *s, TmemStoreInfo *info);
/* Drop every ephemeral page of every client; returns bytes freed. */
uint64_t tmem_store_drop_ephemeral(TmemStore *s);
/* Free up to budget pages of flushed content; true if more is pending. */
bool tmem_store_reap(TmemStore *s, unsigned budget);
/* Give the host back the memory of wholly free data chunks. */
void tmem_store_trim(TmemStore *s);

TmemClient *tmem_client_new(TmemStore *s, unsigned weight, uint64_t cap);
/* Frees all content of the client at once. */
void tmem_client_free(TmemClient *c);
void tmem_client_set_weight(TmemClient *c, unsigned weight);
void tmem_client_set_cap(TmemClient *c, uint64_t cap);
void tmem_client_set_frozen(TmemClient *c, bool frozen);
void tmem_client_info(TmemClient *c, TmemClientStats *info);
uint32_t tmem_client_epoch(TmemClient *c);
/* Advisory fair share of the ephemeral pool, in pages. */
uint64_t tmem_client_eph_share(TmemClient *c);
/*
 * Bytes of persistent pages the client may hold: its cap if it has one,
 * else its weight's part of the store (all weights 0: an even part).
 */
uint64_t tmem_client_pers_share(TmemClient *c);
/* Drop the client's ephemeral pages, bump its epoch; returns bytes freed. */
uint64_t tmem_client_drop_ephemeral(TmemClient *c);
/* Drop all pools and content, bump the epoch (device reset). */
void tmem_client_reset(TmemClient *c);
void tmem_client_count_invalid(TmemClient *c);

int tmem_client_pool_new(TmemClient *c, bool persistent, uint32_t *handle);
int tmem_client_pool_destroy(TmemClient *c, uint32_t handle, uint32_t *found);
int tmem_client_pool_flush(TmemClient *c, uint32_t handle, uint32_t *found);
int tmem_put(TmemClient *c, uint32_t handle, const TmemOid *oid,
             uint32_t index, const void *page);
/*
 * A persistent page from a migration stream: the source held it, so
 * neither the fair share, nor the cap, nor a freeze refuses it; only the
 * store's size does.
 */
int tmem_restore_page(TmemClient *c, uint32_t handle, const TmemOid *oid,
                      uint32_t index, const void *page);
int tmem_get(TmemClient *c, uint32_t handle, const TmemOid *oid,
             uint32_t index, void *page);
int tmem_flush_page(TmemClient *c, uint32_t handle, const TmemOid *oid,
                    uint32_t index, uint32_t *found);
int tmem_flush_object(TmemClient *c, uint32_t handle, const TmemOid *oid,
                      uint32_t *found);

/* Migration: pool slots and persistent pages. */
typedef void (*TmemPageFn)(void *opaque, unsigned slot, const TmemOid *oid,
                           uint32_t index, const void *data);
uint64_t tmem_client_count_persistent(TmemClient *c);
void tmem_client_foreach_persistent(TmemClient *c, TmemPageFn fn,
                                    void *opaque);
enum {
    TMEM_SLOT_FREE,
    TMEM_SLOT_EPHEMERAL,
    TMEM_SLOT_PERSISTENT,
};
int tmem_client_slot_kind(TmemClient *c, unsigned slot);
uint16_t tmem_client_slot_gen(TmemClient *c, unsigned slot);
/* Set up an empty client's slot as the source had it. */
void tmem_client_set_slot(TmemClient *c, unsigned slot, int kind,
                          uint16_t gen);
void tmem_client_set_epoch(TmemClient *c, uint32_t epoch);

/*
 * Migration of persistent pages while the guest runs.
 *
 * Once tracking starts, every pool slot and every persistent page is due
 * to be sent.  A PUT to a page already sent makes it due again; a flush of
 * a page sent (one page, or an object that had pages sent) queues a flush
 * record; a pool flushed, destroyed or created sends its slot again.
 * tmem_track_take() hands out what is due in the order the destination
 * must apply it with tmem_track_apply(): slots, then flushes, then pages.
 *
 * Memory: a bitmap of one bit per possible object while tracking, and one
 * record (40 bytes) per flush of something already sent, freed as
 * the records are taken.  Ephemeral pages are never tracked.
 */
enum {
    TMEM_TRACK_SLOT = 1,        /* reset the slot to slot_kind/gen, empty */
    TMEM_TRACK_FLUSH_PAGE,
    TMEM_TRACK_FLUSH_OBJECT,
    TMEM_TRACK_PAGE,            /* with the page's data */
};

typedef struct TmemTrackRecord {
    uint8_t type;               /* TMEM_TRACK_* */
    uint8_t slot;
    uint8_t slot_kind;          /* SLOT: TMEM_SLOT_* */
    uint16_t gen;               /* SLOT */
    uint32_t index;             /* FLUSH_PAGE, PAGE */
    TmemOid oid;                /* FLUSH_*, PAGE */
} TmemTrackRecord;

void tmem_track_start(TmemClient *c);
void tmem_track_stop(TmemClient *c);
/*
 * Pages and other records due.  The only call that may run without the
 * callers' serialization (the migration thread's estimate): it reads two
 * counters atomically, so the answer may already be stale.
 */
void tmem_track_pending(TmemClient *c, uint64_t *pages, uint64_t *records);
/*
 * Take up to max records due, in order, into rec; the data of rec[k],
 * if it is a page, goes to data + k * TMEM_PAGE_SIZE.  *n gets the number
 * taken.  Returns true if more is due.
 */
bool tmem_track_take(TmemClient *c, TmemTrackRecord *rec, uint8_t *data,
                     unsigned max, unsigned *n);
/*
 * Apply one record on the destination.  A flush of a key that is not
 * there is fine; a page for a slot that is not persistent is
 * VIRTIO_TMEM_INVALID, one that does not fit VIRTIO_TMEM_NOSPACE.
 */
int tmem_track_apply(TmemClient *c, const TmemTrackRecord *r,
                     const void *data);

#endif
