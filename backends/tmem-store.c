/*
 * qemu-cmm: the page store behind a tmem-pool object
 *
 * Pages, objects and buckets live in arrays reserved up front for the
 * largest number of pages the budget allows and touched only as they are
 * used, so nothing is ever rehashed or moved and every operation does a
 * bounded amount of work.  Links are 32-bit array indices (0 is "none"),
 * which keeps the metadata of a stored page at 36 bytes.  A page's data
 * sits in the data array at its entry's index: no per-page allocation.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/host-utils.h"
#include "qemu/queue.h"
#include "system/tmem-store.h"

#define NIL             0u
#define CHUNK_PAGES     512     /* data is given back in 2 MiB chunks */
#define ENT_EPH         1u
#define ENT_SENT        2u      /* persistent, tracked: a copy sent */
#define ENT_QUEUED      4u      /* persistent, tracked: on the send queue */

typedef struct TmemEntry {
    /* ephemeral pages: the client's LRU; persistent: its send queue */
    uint32_t lru_prev, lru_next;
    uint32_t obj;
    uint32_t obj_prev, obj_next;    /* pages of the object */
    uint32_t hnext;                 /* hash chain, or free list */
    uint32_t index;
    uint32_t flags;
} TmemEntry;

typedef struct TmemObj {
    TmemOid oid;
    uint32_t gid;                   /* pool instance: never reused */
    uint32_t npages;
    uint32_t first;                 /* first page */
    uint32_t hnext;                 /* hash chain, or free list */
    uint32_t prev, next;            /* objects of a pool, or dead list */
} TmemObj;

typedef struct TmemList {
    uint32_t head, tail;
} TmemList;

typedef struct TmemSlot {
    bool in_use;
    bool persistent;
    uint16_t gen;
    uint32_t gid;
    uint32_t pages;
    TmemList objs;
} TmemSlot;

/* What the destination of a migration was last told about a slot. */
typedef struct TmemSentSlot {
    bool valid;
    uint8_t kind;
    uint16_t gen;
    uint32_t gid;
} TmemSentSlot;

/* Migration while the guest runs: see tmem_track_start(). */
typedef struct TmemTrack {
    bool on;
    TmemList sendq;                 /* persistent pages due, oldest last */
    uint64_t queued;                /* pages on sendq (read atomically) */
    GArray *flushq;                 /* TmemTrackRecord, in order */
    unsigned flush_head;            /* first record of flushq not taken */
    uint64_t flushes;               /* records due in flushq (atomically) */
    unsigned long *obj_sent;        /* objects with a page on the dest. */
    TmemSentSlot slots[TMEM_MAX_POOLS];
} TmemTrack;

struct TmemClient {
    TmemStore *s;
    QTAILQ_ENTRY(TmemClient) next;
    unsigned weight;
    uint64_t cap;
    bool frozen;
    uint32_t epoch;
    TmemList lru;                   /* head: most recently used */
    TmemList dead;                  /* flushed objects awaiting freeing */
    uint64_t eph_pages, pers_pages, objects, dead_pages, bytes;
    TmemSlot slots[TMEM_MAX_POOLS];
    TmemCounters c;
    TmemTrack track;
};

struct TmemStore {
    uint64_t size;
    uint32_t max;                   /* entries and objects, index 1..max */
    uint32_t nbuckets;              /* power of two */
    TmemEntry *ents;
    TmemObj *objs;
    uint32_t *ebuckets, *obuckets;
    uint8_t *data;
    uint16_t *chunk_used;
    uint8_t *chunk_trimmed;
    uint32_t nchunks;
    uint32_t ent_free, ent_next;    /* free list, first never-used index */
    uint32_t obj_free, obj_next;
    uint32_t next_gid;
    uint64_t used, pages, objects, evictions;
    uint32_t nclients;
    bool dirty_chunks;
    QTAILQ_HEAD(, TmemClient) clients;
};

uint64_t tmem_page_cost(void)
{
    return TMEM_PAGE_SIZE + sizeof(TmemEntry) + sizeof(uint32_t);
}

uint64_t tmem_object_cost(void)
{
    return sizeof(TmemObj) + sizeof(uint32_t);
}

static void *reserve(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unreserve(void *p, size_t len)
{
    if (p) {
        munmap(p, len);
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint32_t obj_bucket(TmemStore *s, uint32_t gid, const TmemOid *oid)
{
    uint64_t h = mix(oid->v[0] ^ mix(oid->v[1] ^ mix(oid->v[2] ^ gid)));
    return h & (s->nbuckets - 1);
}

static uint32_t ent_bucket(TmemStore *s, uint32_t obj, uint32_t index)
{
    return mix(((uint64_t)obj << 32) | index) & (s->nbuckets - 1);
}

static inline uint8_t *ent_data(TmemStore *s, uint32_t e)
{
    return s->data + (uint64_t)(e - 1) * TMEM_PAGE_SIZE;
}

TmemStore *tmem_store_new(uint64_t size)
{
    TmemStore *s = g_new0(TmemStore, 1);
    uint64_t max = size / TMEM_PAGE_SIZE;

    if (max < 1 || max > UINT32_MAX / 2) {
        g_free(s);
        errno = EINVAL;
        return NULL;
    }
    s->size = size;
    s->max = max;
    s->nbuckets = pow2ceil(max);
    s->nchunks = DIV_ROUND_UP(max, CHUNK_PAGES);
    s->ents = reserve(sizeof(TmemEntry) * (max + 1));
    s->objs = reserve(sizeof(TmemObj) * (max + 1));
    s->ebuckets = reserve(sizeof(uint32_t) * s->nbuckets);
    s->obuckets = reserve(sizeof(uint32_t) * s->nbuckets);
    s->data = reserve((size_t)s->nchunks * CHUNK_PAGES * TMEM_PAGE_SIZE);
    s->chunk_used = g_new0(uint16_t, s->nchunks);
    s->chunk_trimmed = g_new0(uint8_t, s->nchunks);
    s->ent_next = s->obj_next = 1;
    s->next_gid = 1;
    QTAILQ_INIT(&s->clients);
    if (!s->ents || !s->objs || !s->ebuckets || !s->obuckets || !s->data) {
        tmem_store_free(s);
        errno = ENOMEM;
        return NULL;
    }
    /* ephemeral data is worthless on disk: keep it out of core dumps */
    madvise(s->data, (size_t)s->nchunks * CHUNK_PAGES * TMEM_PAGE_SIZE,
            MADV_DONTDUMP);
    return s;
}

void tmem_store_free(TmemStore *s)
{
    TmemClient *c, *tmp;

    if (!s) {
        return;
    }
    QTAILQ_FOREACH_SAFE(c, &s->clients, next, tmp) {
        tmem_client_free(c);
    }
    unreserve(s->ents, sizeof(TmemEntry) * (s->max + 1));
    unreserve(s->objs, sizeof(TmemObj) * (s->max + 1));
    unreserve(s->ebuckets, sizeof(uint32_t) * s->nbuckets);
    unreserve(s->obuckets, sizeof(uint32_t) * s->nbuckets);
    unreserve(s->data, (size_t)s->nchunks * CHUNK_PAGES * TMEM_PAGE_SIZE);
    g_free(s->chunk_used);
    g_free(s->chunk_trimmed);
    g_free(s);
}

void tmem_store_info(TmemStore *s, TmemStoreInfo *info)
{
    info->size = s->size;
    info->used = s->used;
    info->pages = s->pages;
    info->objects = s->objects;
    info->metadata = s->used - s->pages * TMEM_PAGE_SIZE;
    info->evictions = s->evictions;
    info->clients = s->nclients;
}

/* ---- allocation ------------------------------------------------------- */

static uint32_t ent_alloc(TmemStore *s)
{
    uint32_t e = s->ent_free;
    uint32_t chunk;

    if (e != NIL) {
        s->ent_free = s->ents[e].hnext;
    } else {
        assert(s->ent_next <= s->max);
        e = s->ent_next++;
    }
    chunk = (e - 1) / CHUNK_PAGES;
    s->chunk_used[chunk]++;
    s->chunk_trimmed[chunk] = 0;
    return e;
}

static void ent_release(TmemStore *s, uint32_t e)
{
    uint32_t chunk = (e - 1) / CHUNK_PAGES;

    s->ents[e].hnext = s->ent_free;
    s->ent_free = e;
    if (--s->chunk_used[chunk] == 0) {
        s->dirty_chunks = true;
    }
}

static uint32_t obj_alloc(TmemStore *s)
{
    uint32_t o = s->obj_free;

    if (o != NIL) {
        s->obj_free = s->objs[o].hnext;
    } else {
        assert(s->obj_next <= s->max);
        o = s->obj_next++;
    }
    return o;
}

void tmem_store_trim(TmemStore *s)
{
    if (!s->dirty_chunks) {
        return;
    }
    for (uint32_t i = 0; i < s->nchunks; i++) {
        if (!s->chunk_used[i] && !s->chunk_trimmed[i]) {
            madvise(s->data + (size_t)i * CHUNK_PAGES * TMEM_PAGE_SIZE,
                    CHUNK_PAGES * TMEM_PAGE_SIZE, MADV_DONTNEED);
            s->chunk_trimmed[i] = 1;
        }
    }
    s->dirty_chunks = false;
}

/* ---- lists -------------------------------------------------------------- */

/* Page lists through lru_prev/lru_next: the LRU, or the send queue. */
static void elist_unlink(TmemStore *s, TmemList *l, uint32_t e)
{
    TmemEntry *x = &s->ents[e];

    if (x->lru_prev) {
        s->ents[x->lru_prev].lru_next = x->lru_next;
    } else {
        l->head = x->lru_next;
    }
    if (x->lru_next) {
        s->ents[x->lru_next].lru_prev = x->lru_prev;
    } else {
        l->tail = x->lru_prev;
    }
    x->lru_prev = x->lru_next = NIL;
}

/* New pages go to the head; the tail is the oldest. */
static void elist_push_head(TmemStore *s, TmemList *l, uint32_t e)
{
    s->ents[e].lru_prev = NIL;
    s->ents[e].lru_next = l->head;
    if (l->head) {
        s->ents[l->head].lru_prev = e;
    } else {
        l->tail = e;
    }
    l->head = e;
}

static void lru_unlink(TmemClient *c, uint32_t e)
{
    elist_unlink(c->s, &c->lru, e);
}

static void lru_push(TmemClient *c, uint32_t e)
{
    elist_push_head(c->s, &c->lru, e);
}

static void olist_unlink(TmemStore *s, TmemList *l, uint32_t o)
{
    TmemObj *x = &s->objs[o];

    if (x->prev) {
        s->objs[x->prev].next = x->next;
    } else {
        l->head = x->next;
    }
    if (x->next) {
        s->objs[x->next].prev = x->prev;
    } else {
        l->tail = x->prev;
    }
    x->prev = x->next = NIL;
}

static void olist_push(TmemStore *s, TmemList *l, uint32_t o)
{
    s->objs[o].prev = NIL;
    s->objs[o].next = l->head;
    if (l->head) {
        s->objs[l->head].prev = o;
    } else {
        l->tail = o;
    }
    l->head = o;
}

/* Move every object of src to the end of dst in O(1). */
static void olist_splice(TmemStore *s, TmemList *dst, TmemList *src)
{
    if (!src->head) {
        return;
    }
    if (dst->tail) {
        s->objs[dst->tail].next = src->head;
        s->objs[src->head].prev = dst->tail;
    } else {
        dst->head = src->head;
    }
    dst->tail = src->tail;
    src->head = src->tail = NIL;
}

/* ---- hash tables -------------------------------------------------------- */

static uint32_t obj_find(TmemStore *s, uint32_t gid, const TmemOid *oid)
{
    for (uint32_t o = s->obuckets[obj_bucket(s, gid, oid)]; o;
         o = s->objs[o].hnext) {
        TmemObj *x = &s->objs[o];
        if (x->gid == gid && !memcmp(&x->oid, oid, sizeof(*oid))) {
            return o;
        }
    }
    return NIL;
}

static void obj_unhash(TmemStore *s, uint32_t o)
{
    uint32_t *p = &s->obuckets[obj_bucket(s, s->objs[o].gid, &s->objs[o].oid)];

    while (*p != o) {
        p = &s->objs[*p].hnext;
    }
    *p = s->objs[o].hnext;
}

static uint32_t ent_find(TmemStore *s, uint32_t o, uint32_t index)
{
    for (uint32_t e = s->ebuckets[ent_bucket(s, o, index)]; e;
         e = s->ents[e].hnext) {
        if (s->ents[e].obj == o && s->ents[e].index == index) {
            return e;
        }
    }
    return NIL;
}

static void ent_unhash(TmemStore *s, uint32_t e)
{
    uint32_t *p = &s->ebuckets[ent_bucket(s, s->ents[e].obj,
                                          s->ents[e].index)];

    while (*p != e) {
        p = &s->ents[*p].hnext;
    }
    *p = s->ents[e].hnext;
}

/* ---- migration tracking: what changes make due -------------------------- */

/* Pages the take skips per call at most (flushed ones left on the queue). */
#define TRACK_SKIP_MAX  4096

static void track_flush(TmemClient *c, uint8_t type, TmemSlot *sl,
                        const TmemOid *oid, uint32_t index)
{
    TmemTrackRecord r = {
        .type = type, .slot = sl - c->slots, .oid = *oid, .index = index,
    };

    g_array_append_val(c->track.flushq, r);
    qatomic_set(&c->track.flushes, c->track.flushes + 1);
}

/*
 * A persistent page is new or has new content: send it (again).  A page
 * whose older copy the destination has keeps ENT_SENT: a flush before the
 * new copy goes out must still reach it.
 */
static void track_dirty(TmemClient *c, uint32_t e)
{
    TmemEntry *x = &c->s->ents[e];

    if (!(x->flags & ENT_QUEUED)) {
        x->flags |= ENT_QUEUED;
        elist_push_head(c->s, &c->track.sendq, e);
        qatomic_set(&c->track.queued, c->track.queued + 1);
    }
}

static void track_unqueue(TmemClient *c, uint32_t e)
{
    c->s->ents[e].flags &= ~ENT_QUEUED;
    elist_unlink(c->s, &c->track.sendq, e);
    qatomic_set(&c->track.queued, c->track.queued - 1);
}

/*
 * A persistent page goes away.  sl is its live slot, NULL once its object
 * or pool was flushed: the object's or the slot's record covers it then.
 */
static void track_drop(TmemClient *c, TmemSlot *sl, uint32_t e)
{
    TmemEntry *x = &c->s->ents[e];

    if (x->flags & ENT_QUEUED) {
        track_unqueue(c, e);
    }
    if ((x->flags & ENT_SENT) && sl) {
        track_flush(c, TMEM_TRACK_FLUSH_PAGE, sl, &c->s->objs[x->obj].oid,
                    x->index);
    }
}

/* ---- freeing ------------------------------------------------------------ */

static void charge(TmemClient *c, int64_t bytes)
{
    c->bytes += bytes;
    c->s->used += bytes;
}

/* Return an empty object, already off every list and hash, to the store. */
static void obj_release(TmemClient *c, uint32_t o)
{
    TmemStore *s = c->s;

    if (c->track.on) {
        clear_bit(o, c->track.obj_sent);
    }
    s->objs[o].hnext = s->obj_free;
    s->obj_free = o;
    s->objects--;
    c->objects--;
    charge(c, -(int64_t)tmem_object_cost());
}

/* The live slot an object belongs to; NULL for flushed (dead) objects. */
static TmemSlot *slot_of_gid(TmemClient *c, uint32_t gid)
{
    for (unsigned i = 0; gid && i < TMEM_MAX_POOLS; i++) {
        if (c->slots[i].in_use && c->slots[i].gid == gid) {
            return &c->slots[i];
        }
    }
    return NULL;
}

/* Free one page, and its object when that becomes empty. */
static void page_drop(TmemClient *c, uint32_t e)
{
    TmemStore *s = c->s;
    TmemEntry *x = &s->ents[e];
    uint32_t o = x->obj;
    TmemObj *ob = &s->objs[o];
    TmemSlot *sl = slot_of_gid(c, ob->gid);

    if (c->track.on && !(x->flags & ENT_EPH)) {
        track_drop(c, sl, e);
    }
    ent_unhash(s, e);
    if (x->flags & ENT_EPH) {
        lru_unlink(c, e);
        c->eph_pages--;
    } else {
        c->pers_pages--;
    }
    if (x->obj_prev) {
        s->ents[x->obj_prev].obj_next = x->obj_next;
    } else {
        ob->first = x->obj_next;
    }
    if (x->obj_next) {
        s->ents[x->obj_next].obj_prev = x->obj_prev;
    }
    ob->npages--;
    s->pages--;
    if (sl) {
        sl->pages--;
    } else {
        c->dead_pages--;
    }
    charge(c, -(int64_t)tmem_page_cost());
    ent_release(s, e);
    if (ob->npages == 0) {
        if (ob->gid) {
            obj_unhash(s, o);
        }
        olist_unlink(s, sl ? &sl->objs : &c->dead, o);
        obj_release(c, o);
    }
}

/* Free up to budget pages of the client's flushed objects. */
static unsigned reap_client(TmemClient *c, unsigned budget)
{
    unsigned done = 0;

    while (c->dead.head && done < budget) {
        page_drop(c, c->s->objs[c->dead.head].first);
        done++;
    }
    return done;
}

bool tmem_store_reap(TmemStore *s, unsigned budget)
{
    TmemClient *c;
    bool more = false;

    QTAILQ_FOREACH(c, &s->clients, next) {
        budget -= reap_client(c, budget);
        more |= c->dead.head != NIL;
    }
    return more;
}

/*
 * Flush one object: small ones at once, big ones by taking the object out
 * of lookup (its pages become unreachable with it) and leaving the pages
 * to the reaper, so one request does bounded work.
 */
static uint32_t obj_kill(TmemClient *c, TmemSlot *sl, uint32_t o)
{
    TmemStore *s = c->s;
    uint32_t n = s->objs[o].npages;

    if (n <= TMEM_FLUSH_INLINE) {
        for (uint32_t i = 0; i < n; i++) {
            page_drop(c, s->objs[o].first);
        }
        return n;
    }
    /* the pages are reaped later, without a slot: say it for all of them */
    if (c->track.on && sl->persistent && test_bit(o, c->track.obj_sent)) {
        track_flush(c, TMEM_TRACK_FLUSH_OBJECT, sl, &s->objs[o].oid, 0);
        clear_bit(o, c->track.obj_sent);
    }
    obj_unhash(s, o);
    s->objs[o].gid = 0;
    olist_unlink(s, &sl->objs, o);
    olist_push(s, &c->dead, o);
    sl->pages -= n;
    c->dead_pages += n;
    return n;
}

/*
 * Empty a slot in O(1): a new pool instance id makes every old object
 * unreachable by lookup (ids are never reused); the reaper frees them.
 */
static uint32_t slot_empty(TmemClient *c, TmemSlot *sl)
{
    uint32_t n = sl->pages;

    c->dead_pages += n;
    sl->pages = 0;
    olist_splice(c->s, &c->dead, &sl->objs);
    sl->gid = c->s->next_gid++;
    return n;
}

/* ---- eviction ----------------------------------------------------------- */

/* a is a worse offender than b: more ephemeral pages per unit of weight. */
static bool heavier(TmemClient *a, TmemClient *b)
{
    if (!a->weight || !b->weight) {
        return !a->weight && (b->weight || a->eph_pages > b->eph_pages);
    }
    return a->eph_pages * b->weight > b->eph_pages * a->weight;
}

static void evict_one(TmemClient *c)
{
    page_drop(c, c->lru.tail);
    c->c.evictions++;
    c->s->evictions++;
}

/*
 * Make room for need bytes for client c: first within its cap (its own
 * flushed pages, then its own oldest ephemeral pages) unless within_cap
 * is false, then within the store (anyone's flushed pages, then the
 * oldest ephemeral pages of the client with most pages per weight).  Each
 * round frees at least one page, and need is at most a page and an
 * object, so this is bounded.
 */
static bool make_room(TmemClient *c, uint64_t need, bool within_cap)
{
    TmemStore *s = c->s;
    uint64_t cap = c->cap ? c->cap : s->size;

    while (within_cap && c->bytes + need > cap) {
        if (c->dead.head) {
            reap_client(c, 1);
        } else if (c->lru.tail) {
            evict_one(c);
        } else {
            return false;
        }
    }
    while (s->used + need > s->size) {
        TmemClient *v = NULL, *x;

        QTAILQ_FOREACH(x, &s->clients, next) {
            if (x->dead.head) {
                v = x;
                break;
            }
        }
        if (v) {
            reap_client(v, 1);
            continue;
        }
        QTAILQ_FOREACH(x, &s->clients, next) {
            if (x->lru.tail && (!v || heavier(x, v))) {
                v = x;
            }
        }
        if (!v) {
            return false;
        }
        evict_one(v);
    }
    return true;
}

/* ---- clients ------------------------------------------------------------ */

TmemClient *tmem_client_new(TmemStore *s, unsigned weight, uint64_t cap)
{
    TmemClient *c = g_new0(TmemClient, 1);

    c->s = s;
    c->weight = MIN(weight, TMEM_WEIGHT_MAX);
    c->cap = cap;
    QTAILQ_INSERT_TAIL(&s->clients, c, next);
    s->nclients++;
    return c;
}

void tmem_client_reset(TmemClient *c)
{
    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        if (c->slots[i].in_use) {
            slot_empty(c, &c->slots[i]);
            c->slots[i].in_use = false;
            c->slots[i].gen++;
        }
    }
    /* everything at once: the client is going away or resetting */
    reap_client(c, UINT_MAX);
    c->epoch++;
}

void tmem_client_free(TmemClient *c)
{
    if (!c) {
        return;
    }
    if (c->track.on) {
        tmem_track_stop(c);
    }
    tmem_client_reset(c);
    assert(c->bytes == 0);
    QTAILQ_REMOVE(&c->s->clients, c, next);
    c->s->nclients--;
    g_free(c);
}

void tmem_client_set_weight(TmemClient *c, unsigned weight)
{
    c->weight = MIN(weight, TMEM_WEIGHT_MAX);
}

void tmem_client_set_cap(TmemClient *c, uint64_t cap)
{
    c->cap = cap;
    /* shrink at once: ephemeral pages first, persistent pages stay */
    make_room(c, 0, true);
}

void tmem_client_set_frozen(TmemClient *c, bool frozen)
{
    c->frozen = frozen;
}

uint32_t tmem_client_epoch(TmemClient *c)
{
    return c->epoch;
}

void tmem_client_count_invalid(TmemClient *c)
{
    c->c.invalid++;
}

uint64_t tmem_client_eph_share(TmemClient *c)
{
    TmemClient *x;
    uint64_t total = 0;
    uint64_t share, cap = c->cap ? c->cap : c->s->size;

    QTAILQ_FOREACH(x, &c->s->clients, next) {
        total += x->weight;
    }
    share = total ? c->s->size / total * c->weight : 0;
    return MIN(share, cap) / tmem_page_cost();
}

/* Live pages of one kind: flushed pages awaiting the reaper are not. */
static uint64_t live_pages(TmemClient *c, bool persistent)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        if (c->slots[i].in_use && c->slots[i].persistent == persistent) {
            n += c->slots[i].pages;
        }
    }
    return n;
}

void tmem_client_info(TmemClient *c, TmemClientStats *info)
{
    info->weight = c->weight;
    info->cap = c->cap;
    info->frozen = c->frozen;
    info->epoch = c->epoch;
    info->eph_pages = live_pages(c, false);
    info->pers_pages = live_pages(c, true);
    info->objects = c->objects;
    info->dead_pages = c->dead_pages;
    info->bytes = c->bytes;
    info->pools = 0;
    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        info->pools += c->slots[i].in_use;
    }
    info->c = c->c;
}

uint64_t tmem_client_drop_ephemeral(TmemClient *c)
{
    uint64_t before = c->bytes;

    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        if (c->slots[i].in_use && !c->slots[i].persistent) {
            slot_empty(c, &c->slots[i]);
        }
    }
    reap_client(c, UINT_MAX);
    c->epoch++;
    tmem_store_trim(c->s);
    return before - c->bytes;
}

uint64_t tmem_store_drop_ephemeral(TmemStore *s)
{
    TmemClient *c;
    uint64_t freed = 0;

    QTAILQ_FOREACH(c, &s->clients, next) {
        freed += tmem_client_drop_ephemeral(c);
    }
    return freed;
}

/* ---- pools -------------------------------------------------------------- */

static int slot_lookup(TmemClient *c, uint32_t handle, TmemSlot **out)
{
    unsigned slot = VIRTIO_TMEM_POOL_SLOT(handle);

    if (slot >= TMEM_MAX_POOLS || !c->slots[slot].in_use) {
        return VIRTIO_TMEM_NOPOOL;
    }
    if (c->slots[slot].gen != VIRTIO_TMEM_POOL_GEN(handle)) {
        return VIRTIO_TMEM_STALE;
    }
    *out = &c->slots[slot];
    return VIRTIO_TMEM_OK;
}

static void slot_open(TmemClient *c, TmemSlot *sl, bool persistent)
{
    sl->in_use = true;
    sl->persistent = persistent;
    sl->gid = c->s->next_gid++;
    sl->pages = 0;
    sl->objs.head = sl->objs.tail = NIL;
}

int tmem_client_pool_new(TmemClient *c, bool persistent, uint32_t *handle)
{
    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        TmemSlot *sl = &c->slots[i];

        if (!sl->in_use) {
            slot_open(c, sl, persistent);
            *handle = VIRTIO_TMEM_POOL_HANDLE(i, sl->gen);
            return VIRTIO_TMEM_OK;
        }
    }
    return VIRTIO_TMEM_NOSPACE;
}

int tmem_client_pool_flush(TmemClient *c, uint32_t handle, uint32_t *found)
{
    TmemSlot *sl;
    int ret = slot_lookup(c, handle, &sl);

    *found = 0;
    if (ret == VIRTIO_TMEM_OK) {
        *found = slot_empty(c, sl);
        c->c.flushed_pages += *found;
    }
    c->c.flushes++;
    return ret;
}

int tmem_client_pool_destroy(TmemClient *c, uint32_t handle, uint32_t *found)
{
    TmemSlot *sl;
    int ret = tmem_client_pool_flush(c, handle, found);

    if (ret == VIRTIO_TMEM_OK) {
        sl = &c->slots[VIRTIO_TMEM_POOL_SLOT(handle)];
        sl->in_use = false;
        sl->gen++;
    }
    return ret;
}

/* ---- pages -------------------------------------------------------------- */

/*
 * Persistent pages are never evicted, so without a cap of its own a client
 * may hold no more of them than its weight's part of the store: one
 * tenant's swap cannot fill a shared pool and lock everyone else out.
 * With all weights 0 the store is split evenly.
 */
uint64_t tmem_client_pers_share(TmemClient *c)
{
    TmemClient *x;
    uint64_t total = 0;

    if (c->cap) {
        return c->cap;
    }
    QTAILQ_FOREACH(x, &c->s->clients, next) {
        total += x->weight;
    }
    if (!total) {
        return c->s->size / MAX(c->s->nclients, 1);
    }
    /* weights are at most 255 each: no overflow for any store size */
    return c->s->size / total * c->weight +
           c->s->size % total * c->weight / total;
}

static int put_page(TmemClient *c, uint32_t handle, const TmemOid *oid,
                    uint32_t index, const void *page, bool restore)
{
    TmemStore *s = c->s;
    TmemSlot *sl;
    uint32_t o, e;
    int ret;

    c->c.puts++;
    ret = slot_lookup(c, handle, &sl);
    if (ret != VIRTIO_TMEM_OK) {
        return ret;
    }
    o = obj_find(s, sl->gid, oid);
    e = o ? ent_find(s, o, index) : NIL;
    if (c->frozen && !restore) {
        /* never leave an older copy readable after a refused put */
        if (e) {
            page_drop(c, e);
        }
        c->c.puts_frozen++;
        return VIRTIO_TMEM_FROZEN;
    }
    if (e) {
        memcpy(ent_data(s, e), page, TMEM_PAGE_SIZE);
        if (!sl->persistent) {
            lru_unlink(c, e);
            lru_push(c, e);
        } else if (c->track.on) {
            track_dirty(c, e);
        }
        c->c.puts_ok++;
        c->c.puts_replaced++;
        return VIRTIO_TMEM_OK;
    }
    if (sl->persistent && !restore && !c->cap &&
        (c->pers_pages + 1) * tmem_page_cost() > tmem_client_pers_share(c)) {
        c->c.puts_nospace++;
        return VIRTIO_TMEM_NOSPACE;
    }
    if (!make_room(c, tmem_page_cost() + (o ? 0 : tmem_object_cost()),
                   !restore) ||
        /* eviction may have freed the object we looked up */
        (o && !obj_find(s, sl->gid, oid) &&
         !make_room(c, tmem_page_cost() + tmem_object_cost(), !restore))) {
        c->c.puts_nospace++;
        return VIRTIO_TMEM_NOSPACE;
    }
    o = obj_find(s, sl->gid, oid);
    if (!o) {
        uint32_t b = obj_bucket(s, sl->gid, oid);

        o = obj_alloc(s);
        s->objs[o] = (TmemObj) {
            .oid = *oid, .gid = sl->gid, .hnext = s->obuckets[b],
        };
        s->obuckets[b] = o;
        olist_push(s, &sl->objs, o);
        s->objects++;
        c->objects++;
        charge(c, tmem_object_cost());
    }
    e = ent_alloc(s);
    s->ents[e] = (TmemEntry) {
        .obj = o, .index = index, .obj_next = s->objs[o].first,
        .flags = sl->persistent ? 0 : ENT_EPH,
    };
    if (s->objs[o].first) {
        s->ents[s->objs[o].first].obj_prev = e;
    }
    s->objs[o].first = e;
    s->objs[o].npages++;
    {
        uint32_t b = ent_bucket(s, o, index);
        s->ents[e].hnext = s->ebuckets[b];
        s->ebuckets[b] = e;
    }
    memcpy(ent_data(s, e), page, TMEM_PAGE_SIZE);
    if (sl->persistent) {
        c->pers_pages++;
        if (c->track.on) {
            track_dirty(c, e);
        }
    } else {
        lru_push(c, e);
        c->eph_pages++;
    }
    s->pages++;
    sl->pages++;
    charge(c, tmem_page_cost());
    c->c.puts_ok++;
    return VIRTIO_TMEM_OK;
}

int tmem_put(TmemClient *c, uint32_t handle, const TmemOid *oid,
             uint32_t index, const void *page)
{
    return put_page(c, handle, oid, index, page, false);
}

int tmem_restore_page(TmemClient *c, uint32_t handle, const TmemOid *oid,
                      uint32_t index, const void *page)
{
    return put_page(c, handle, oid, index, page, true);
}

/* The page at a key: status of the handle, and the entry (NIL if none). */
static int page_lookup(TmemClient *c, uint32_t handle, const TmemOid *oid,
                       uint32_t index, TmemSlot **sl, uint32_t *e)
{
    int ret = slot_lookup(c, handle, sl);
    uint32_t o;

    *e = NIL;
    if (ret == VIRTIO_TMEM_OK) {
        o = obj_find(c->s, (*sl)->gid, oid);
        *e = o ? ent_find(c->s, o, index) : NIL;
    }
    return ret;
}

int tmem_get(TmemClient *c, uint32_t handle, const TmemOid *oid,
             uint32_t index, void *page)
{
    TmemSlot *sl;
    uint32_t e;
    int ret = page_lookup(c, handle, oid, index, &sl, &e);

    c->c.gets++;
    if (!e) {
        c->c.misses++;
        return ret == VIRTIO_TMEM_OK ? VIRTIO_TMEM_MISS : ret;
    }
    memcpy(page, ent_data(c->s, e), TMEM_PAGE_SIZE);
    c->c.hits++;
    if (!sl->persistent) {
        /* private ephemeral pools are exclusive: the guest now owns it */
        page_drop(c, e);
    }
    return VIRTIO_TMEM_OK;
}

int tmem_flush_page(TmemClient *c, uint32_t handle, const TmemOid *oid,
                    uint32_t index, uint32_t *found)
{
    TmemSlot *sl;
    uint32_t e;
    int ret = page_lookup(c, handle, oid, index, &sl, &e);

    c->c.flushes++;
    *found = 0;
    if (e) {
        page_drop(c, e);
        *found = 1;
        c->c.flushed_pages++;
    }
    return ret;
}

int tmem_flush_object(TmemClient *c, uint32_t handle, const TmemOid *oid,
                      uint32_t *found)
{
    TmemSlot *sl;
    uint32_t o;
    int ret;

    c->c.flushes++;
    *found = 0;
    ret = slot_lookup(c, handle, &sl);
    if (ret == VIRTIO_TMEM_OK) {
        o = obj_find(c->s, sl->gid, oid);
        if (o) {
            *found = obj_kill(c, sl, o);
            c->c.flushed_pages += *found;
        }
    }
    return ret;
}

/* ---- migration ---------------------------------------------------------- */

uint64_t tmem_client_count_persistent(TmemClient *c)
{
    return live_pages(c, true);
}

typedef void (*TmemEntFn)(TmemClient *c, unsigned slot, uint32_t e,
                          void *opaque);

/* Call fn for every live persistent page of the client. */
static void foreach_persistent_ent(TmemClient *c, TmemEntFn fn, void *opaque)
{
    TmemStore *s = c->s;

    for (unsigned i = 0; i < TMEM_MAX_POOLS; i++) {
        TmemSlot *sl = &c->slots[i];

        if (!sl->in_use || !sl->persistent) {
            continue;
        }
        for (uint32_t o = sl->objs.head; o; o = s->objs[o].next) {
            for (uint32_t e = s->objs[o].first; e; e = s->ents[e].obj_next) {
                fn(c, i, e, opaque);
            }
        }
    }
}

typedef struct PageFnArgs {
    TmemPageFn fn;
    void *opaque;
} PageFnArgs;

static void call_page_fn(TmemClient *c, unsigned slot, uint32_t e,
                         void *opaque)
{
    PageFnArgs *a = opaque;
    TmemStore *s = c->s;

    a->fn(a->opaque, slot, &s->objs[s->ents[e].obj].oid, s->ents[e].index,
          ent_data(s, e));
}

void tmem_client_foreach_persistent(TmemClient *c, TmemPageFn fn,
                                    void *opaque)
{
    PageFnArgs a = { fn, opaque };

    foreach_persistent_ent(c, call_page_fn, &a);
}

int tmem_client_slot_kind(TmemClient *c, unsigned slot)
{
    TmemSlot *sl = &c->slots[slot];

    if (!sl->in_use) {
        return TMEM_SLOT_FREE;
    }
    return sl->persistent ? TMEM_SLOT_PERSISTENT : TMEM_SLOT_EPHEMERAL;
}

uint16_t tmem_client_slot_gen(TmemClient *c, unsigned slot)
{
    return c->slots[slot].gen;
}

void tmem_client_set_slot(TmemClient *c, unsigned slot, int kind,
                          uint16_t gen)
{
    TmemSlot *sl = &c->slots[slot];

    assert(!sl->in_use);
    sl->gen = gen;
    if (kind != TMEM_SLOT_FREE) {
        slot_open(c, sl, kind == TMEM_SLOT_PERSISTENT);
    }
}

void tmem_client_set_epoch(TmemClient *c, uint32_t epoch)
{
    c->epoch = epoch;
}

/* ---- migration while the guest runs ------------------------------------- */

static void track_queue_anew(TmemClient *c, unsigned slot, uint32_t e,
                             void *opaque)
{
    /* what an earlier migration sent does not count */
    c->s->ents[e].flags &= ~(ENT_SENT | ENT_QUEUED);
    track_dirty(c, e);
}

void tmem_track_start(TmemClient *c)
{
    TmemTrack *t = &c->track;

    assert(!t->on);
    memset(t, 0, sizeof(*t));
    t->on = true;
    t->flushq = g_array_new(false, false, sizeof(TmemTrackRecord));
    t->obj_sent = bitmap_new(c->s->max + 1);
    foreach_persistent_ent(c, track_queue_anew, NULL);
}

void tmem_track_stop(TmemClient *c)
{
    TmemStore *s = c->s;
    TmemTrack *t = &c->track;
    uint32_t e, next;

    assert(t->on);
    /* flags left on pages no longer queued are ignored until a restart */
    for (e = t->sendq.head; e; e = next) {
        next = s->ents[e].lru_next;
        s->ents[e].flags &= ~ENT_QUEUED;
        s->ents[e].lru_prev = s->ents[e].lru_next = NIL;
    }
    g_array_free(t->flushq, true);
    g_free(t->obj_sent);
    memset(t, 0, sizeof(*t));
}

void tmem_track_pending(TmemClient *c, uint64_t *pages, uint64_t *records)
{
    *pages = qatomic_read(&c->track.queued);
    *records = qatomic_read(&c->track.flushes);
}

static TmemSentSlot slot_now(TmemClient *c, unsigned i)
{
    TmemSlot *sl = &c->slots[i];

    return (TmemSentSlot) {
        .valid = true, .kind = tmem_client_slot_kind(c, i), .gen = sl->gen,
        .gid = sl->in_use ? sl->gid : 0,
    };
}

static bool slot_sent(const TmemSentSlot *a, const TmemSentSlot *b)
{
    return a->valid && b->valid && a->kind == b->kind && a->gen == b->gen &&
           a->gid == b->gid;
}

bool tmem_track_take(TmemClient *c, TmemTrackRecord *rec, uint8_t *data,
                     unsigned max, unsigned *n)
{
    TmemStore *s = c->s;
    TmemTrack *t = &c->track;
    unsigned k = 0, skipped = 0, i;

    assert(t->on);
    for (i = 0; i < TMEM_MAX_POOLS && k < max; i++) {
        TmemSentSlot now = slot_now(c, i);

        if (!slot_sent(&now, &t->slots[i])) {
            t->slots[i] = now;
            rec[k++] = (TmemTrackRecord) {
                .type = TMEM_TRACK_SLOT, .slot = i, .slot_kind = now.kind,
                .gen = now.gen,
            };
        }
    }
    while (k < max && t->flush_head < t->flushq->len) {
        rec[k++] = g_array_index(t->flushq, TmemTrackRecord, t->flush_head++);
        qatomic_set(&t->flushes, t->flushes - 1);
    }
    if (t->flush_head == t->flushq->len) {
        g_array_set_size(t->flushq, 0);
        t->flush_head = 0;
    }
    /* a page goes only after every slot and flush record queued before it */
    while (i == TMEM_MAX_POOLS && !t->flushq->len && k < max &&
           t->sendq.tail && skipped < TRACK_SKIP_MAX) {
        uint32_t e = t->sendq.tail;
        TmemEntry *x = &s->ents[e];
        TmemSlot *sl = slot_of_gid(c, s->objs[x->obj].gid);

        track_unqueue(c, e);
        if (!sl) {
            skipped++;
            continue;
        }
        x->flags |= ENT_SENT;
        set_bit(x->obj, t->obj_sent);
        rec[k] = (TmemTrackRecord) {
            .type = TMEM_TRACK_PAGE, .slot = sl - c->slots,
            .oid = s->objs[x->obj].oid, .index = x->index,
        };
        memcpy(data + (size_t)k * TMEM_PAGE_SIZE, ent_data(s, e),
               TMEM_PAGE_SIZE);
        k++;
    }
    *n = k;
    return i < TMEM_MAX_POOLS || t->flushq->len || t->sendq.head;
}

int tmem_track_apply(TmemClient *c, const TmemTrackRecord *r,
                     const void *data)
{
    TmemStore *s = c->s;
    TmemSlot *sl;
    uint32_t o, e;

    if (r->slot >= TMEM_MAX_POOLS) {
        return VIRTIO_TMEM_INVALID;
    }
    sl = &c->slots[r->slot];
    switch (r->type) {
    case TMEM_TRACK_SLOT:
        if (r->slot_kind > TMEM_SLOT_PERSISTENT) {
            return VIRTIO_TMEM_INVALID;
        }
        if (sl->in_use) {
            /* the reaper frees what the old pool held */
            slot_empty(c, sl);
            sl->in_use = false;
        }
        tmem_client_set_slot(c, r->slot, r->slot_kind, r->gen);
        return VIRTIO_TMEM_OK;
    case TMEM_TRACK_FLUSH_PAGE:
        o = sl->in_use ? obj_find(s, sl->gid, &r->oid) : NIL;
        e = o ? ent_find(s, o, r->index) : NIL;
        if (e) {
            page_drop(c, e);
        }
        return VIRTIO_TMEM_OK;
    case TMEM_TRACK_FLUSH_OBJECT:
        o = sl->in_use ? obj_find(s, sl->gid, &r->oid) : NIL;
        if (o) {
            obj_kill(c, sl, o);
        }
        return VIRTIO_TMEM_OK;
    case TMEM_TRACK_PAGE:
        if (!sl->in_use || !sl->persistent) {
            return VIRTIO_TMEM_INVALID;
        }
        return tmem_restore_page(c, VIRTIO_TMEM_POOL_HANDLE(r->slot, sl->gen),
                                 &r->oid, r->index, data);
    default:
        return VIRTIO_TMEM_INVALID;
    }
}
