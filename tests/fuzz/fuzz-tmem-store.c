/*
 * Fuzz the tmem page store (backends/tmem-store.c): three clients sharing
 * a small store run any sequence of the operations a guest (through the
 * device) and the host (QMP, migration, the reaper) can ask for.  A shadow
 * of what each key last held checks every GET: a hit returns exactly the
 * page last put under that key, never another key's or an older one; a
 * persistent page is never lost; the store never charges more than its
 * size, nor a capped client more than its cap.  Client 0 may be migrating
 * meanwhile, in rounds, to a store of its own: once everything due is
 * sent, that store holds exactly client 0's persistent pages.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "system/tmem-store.h"
#include "fuzz.h"

#define CLIENTS 3
#define REFS    4               /* pool handles a client keeps */
#define OIDS    4
#define INDEXES 8
#define PAGE    TMEM_PAGE_SIZE

typedef struct Ref {
    uint32_t handle;
    bool live, persistent;
    uint32_t id[OIDS][INDEXES]; /* content last put; 0: none */
} Ref;

typedef struct Client {
    TmemClient *c;
    Ref ref[REFS];
    uint64_t cap;
    bool frozen;
} Client;

static uint32_t next_id;

static void fill(uint8_t *page, unsigned ci, unsigned r, unsigned o,
                 unsigned i, uint32_t id)
{
    uint32_t w[4] = { ci, r, o << 8 | i, id };

    for (unsigned k = 0; k < PAGE; k += sizeof(w)) {
        memcpy(page + k, w, sizeof(w));
        w[3] = w[3] * 2654435761u + k;
    }
}

static void forget_ephemeral(Client *cl)
{
    for (int r = 0; r < REFS; r++) {
        if (!cl->ref[r].persistent) {
            memset(cl->ref[r].id, 0, sizeof(cl->ref[r].id));
        }
    }
}

/* Client 0's migration: its destination, in a store of its own. */
typedef struct Mirror {
    TmemStore *s;
    TmemClient *c;
    bool on;
} Mirror;

#define MIRROR_BATCH    8

/* One round: up to max records due, applied; true if more is due. */
static bool mirror_round(Client *cl, Mirror *m, unsigned max)
{
    static uint8_t data[MIRROR_BATCH * PAGE];
    TmemTrackRecord rec[MIRROR_BATCH];
    unsigned n;
    bool more = tmem_track_take(cl->c, rec, data, max, &n);

    for (unsigned k = 0; k < n; k++) {
        int ret = tmem_track_apply(m->c, &rec[k], data + k * PAGE);

        FUZZ_CHECK(ret == VIRTIO_TMEM_OK, "record %u for slot %u: status %d",
                   rec[k].type, rec[k].slot, ret);
    }
    return more;
}

/* Everything due sent: the destination holds what the shadow says. */
static void mirror_check(Client *cl, Mirror *m)
{
    uint8_t page[PAGE], got[PAGE];

    while (mirror_round(cl, m, MIRROR_BATCH)) {
        /* until nothing is due */
    }
    for (int r = 0; r < REFS; r++) {
        Ref *ref = &cl->ref[r];

        if (!ref->live || !ref->persistent) {
            continue;
        }
        for (unsigned o = 0; o < OIDS; o++) {
            for (unsigned i = 0; i < INDEXES; i++) {
                TmemOid oid = { { o, o * 7, 0 } };
                int ret = tmem_get(m->c, ref->handle, &oid, i, got);

                if (!ref->id[o][i]) {
                    FUZZ_CHECK(ret != VIRTIO_TMEM_OK, "migrated a flushed "
                               "page (ref %d o %u i %u)", r, o, i);
                    continue;
                }
                fill(page, 0, r, o, i, ref->id[o][i]);
                FUZZ_CHECK(ret == VIRTIO_TMEM_OK && !memcmp(page, got, PAGE),
                           "page id %u did not migrate (status %d)",
                           ref->id[o][i], ret);
            }
        }
    }
    FUZZ_CHECK(tmem_client_count_persistent(m->c) ==
               tmem_client_count_persistent(cl->c), "%lu pages migrated, "
               "the source holds %lu",
               (unsigned long)tmem_client_count_persistent(m->c),
               (unsigned long)tmem_client_count_persistent(cl->c));
}

static void check_store(TmemStore *s, Client *cl)
{
    TmemStoreInfo si;

    tmem_store_info(s, &si);
    FUZZ_CHECK(si.used <= si.size, "used %lu of %lu",
               (unsigned long)si.used, (unsigned long)si.size);
    for (int k = 0; k < CLIENTS; k++) {
        TmemClientStats ci;

        tmem_client_info(cl[k].c, &ci);
        /* persistent pages stay when a cap is lowered below them, and
         * flushed ones stay charged until the reaper frees them */
        FUZZ_CHECK(!cl[k].cap || ci.bytes <= cl[k].cap || ci.pers_pages ||
                   ci.dead_pages,
                   "client %d: %lu bytes over cap %lu", k,
                   (unsigned long)ci.bytes, (unsigned long)cl[k].cap);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    TmemStore *s = tmem_store_new((fuzz_u8(&in) % 64 + 4) * PAGE);
    Client cl[CLIENTS];
    Mirror m = { 0 };
    uint8_t page[PAGE], got[PAGE];
    TmemStoreInfo si;

    if (!s) {
        return 0;
    }
    tmem_store_info(s, &si);
    /* as big as the source: it only ever holds part of what that does */
    m.s = tmem_store_new(si.size);
    m.c = tmem_client_new(m.s, 1, 0);
    memset(cl, 0, sizeof(cl));
    for (int k = 0; k < CLIENTS; k++) {
        cl[k].c = tmem_client_new(s, fuzz_u8(&in), 0);
    }
    while (in.left) {
        uint8_t op = fuzz_u8(&in) % 18;
        Client *c = &cl[fuzz_u8(&in) % CLIENTS];
        unsigned r = fuzz_u8(&in) % REFS;
        unsigned o = fuzz_u8(&in) % OIDS, i = fuzz_u8(&in) % INDEXES;
        Ref *ref = &c->ref[r];
        TmemOid oid = { { o, o * 7, 0 } };
        uint32_t found, h;
        int ret;

        if (!ref->live && op >= 1 && op <= 10) {
            /* a handle the guest made up: any answer but a hit or a store */
            h = (uint32_t)fuzz_u64(&in);
            for (int k = 0; k < REFS; k++) {
                if (c->ref[k].live && c->ref[k].handle == h) {
                    h = 0xffffffff;     /* never a slot in use */
                }
            }
            fill(page, 0, 0, 0, 0, 0);
            FUZZ_CHECK(tmem_put(c->c, h, &oid, i, page) != VIRTIO_TMEM_OK,
                       "put with a made-up handle 0x%x stored", h);
            FUZZ_CHECK(tmem_get(c->c, h, &oid, i, got) != VIRTIO_TMEM_OK,
                       "get with a made-up handle 0x%x hit", h);
            tmem_flush_page(c->c, h, &oid, i, &found);
            tmem_flush_object(c->c, h, &oid, &found);
            tmem_client_pool_flush(c->c, h, &found);
            tmem_client_pool_destroy(c->c, h, &found);
            check_store(s, cl);
            continue;
        }
        if (getenv("FUZZ_TRACE")) {
            fprintf(stderr, "op %u client %ld ref %u live %d pers %d "
                    "h 0x%x o %u i %u\n",
                    op, (long)(c - cl), r, ref->live, ref->persistent,
                    ref->handle, o, i);
        }
        switch (op) {
        case 0:                     /* new pool */
            if (ref->live) {
                break;
            }
            ret = tmem_client_pool_new(c->c, fuzz_u8(&in) & 1, &h);
            if (ret == VIRTIO_TMEM_OK) {
                memset(ref, 0, sizeof(*ref));
                ref->handle = h;
                ref->live = true;
                ref->persistent = tmem_client_slot_kind(c->c, h & 0xffff) ==
                                  TMEM_SLOT_PERSISTENT;
            }
            break;
        case 1:                     /* destroy */
            tmem_client_pool_destroy(c->c, ref->handle, &found);
            memset(ref, 0, sizeof(*ref));
            break;
        case 2:                     /* flush pool */
            if (tmem_client_pool_flush(c->c, ref->handle, &found) ==
                VIRTIO_TMEM_OK) {
                memset(ref->id, 0, sizeof(ref->id));
            }
            break;
        case 3: case 4: case 5: {   /* put */
            uint32_t id = ++next_id;

            fill(page, c - cl, r, o, i, id);
            ret = tmem_put(c->c, ref->handle, &oid, i, page);
            if (ret == VIRTIO_TMEM_OK) {
                ref->id[o][i] = id;
            } else if (ref->live) {
                /* refused: a frozen put drops the older copy; NOSPACE
                 * leaves it, but an ephemeral one may have gone anyway */
                if (ret == VIRTIO_TMEM_FROZEN || !ref->persistent) {
                    ref->id[o][i] = 0;
                }
            }
            break;
        }
        case 6: case 7: case 8:     /* get */
            ret = tmem_get(c->c, ref->handle, &oid, i, got);
            if (ret == VIRTIO_TMEM_OK) {
                FUZZ_CHECK(ref->id[o][i], "hit on a key never put");
                fill(page, c - cl, r, o, i, ref->id[o][i]);
                FUZZ_CHECK(!memcmp(page, got, PAGE),
                           "wrong content for id %u", ref->id[o][i]);
                if (!ref->persistent) {
                    ref->id[o][i] = 0;      /* an ephemeral GET takes it */
                }
            } else {
                FUZZ_CHECK(!(ref->persistent && ref->id[o][i]),
                           "persistent page id %u lost (status %d)",
                           ref->id[o][i], ret);
                ref->id[o][i] = 0;
            }
            break;
        case 9:                     /* flush page */
            tmem_flush_page(c->c, ref->handle, &oid, i, &found);
            ref->id[o][i] = 0;
            break;
        case 10:                    /* flush object */
            tmem_flush_object(c->c, ref->handle, &oid, &found);
            for (int k = 0; k < INDEXES; k++) {
                ref->id[o][k] = 0;
            }
            break;
        case 11:                    /* the host: weight, cap */
            tmem_client_set_weight(c->c, fuzz_u8(&in));
            c->cap = fuzz_u8(&in) & 1 ?
                     (fuzz_u8(&in) % 32 + 2) * (PAGE + 64) : 0;
            /* a lower cap evicts: ids stay, as a hit must still match */
            tmem_client_set_cap(c->c, c->cap);
            break;
        case 12:                    /* the host: freeze or thaw */
            c->frozen = !c->frozen;
            tmem_client_set_frozen(c->c, c->frozen);
            break;
        case 13:                    /* the host: drop ephemeral pages */
            if (fuzz_u8(&in) & 1) {
                tmem_store_drop_ephemeral(s);
                for (int k = 0; k < CLIENTS; k++) {
                    forget_ephemeral(&cl[k]);
                }
            } else {
                tmem_client_drop_ephemeral(c->c);
                forget_ephemeral(c);
            }
            break;
        case 14:                    /* the reaper and trimming */
            tmem_store_reap(s, fuzz_u8(&in));
            tmem_store_trim(s);
            break;
        case 15:                    /* device reset */
            tmem_client_reset(c->c);
            memset(c->ref, 0, sizeof(c->ref));
            break;
        case 16:                    /* client 0 migrates: a round */
            if (!m.on) {
                tmem_client_reset(m.c);
                tmem_track_start(cl[0].c);
                m.on = true;
            }
            mirror_round(&cl[0], &m, fuzz_u8(&in) % MIRROR_BATCH + 1);
            break;
        case 17:                    /* ... the last round, or a failure */
            if (m.on) {
                if (fuzz_u8(&in) & 1) {
                    mirror_check(&cl[0], &m);
                }
                tmem_track_stop(cl[0].c);
                m.on = false;
            }
            break;
        }
        /* eviction may take any ephemeral page: its id in the shadow
         * then only says what a hit must return */
        check_store(s, cl);
    }
    if (m.on) {
        mirror_check(&cl[0], &m);
    }
    tmem_store_free(s);
    tmem_store_free(m.s);
    return 0;
}
