/*
 * qemu-cmm: migration of virtio-tmem
 *
 * Two parts travel.  The device state (vmstate_virtio_tmem_device, sent
 * once the guest has stopped) carries the epoch and the pool slots, and
 * the host's settings if they no longer are the device's properties.
 * Persistent pages travel in a section of their own,
 * "<device>/virtio-tmem-pages", while the guest runs: the store tracks
 * what the destination already has (tmem_track_*), each round sends what
 * is due within the rate limit, and what is still due when the guest has
 * stopped goes last.  Ephemeral pages never travel.
 *
 * Threads: the store belongs to whoever holds the BQL
 * (include/system/tmem-store.h).  Setup, completion, cleanup and the whole
 * destination side run with the BQL.  save_live_iterate runs in the
 * migration thread without it: each batch is taken under the BQL and
 * written to the stream after dropping it, so a slow channel never stalls
 * the guest's requests.  The pending estimate reads two counters
 * atomically instead.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "hw/virtio/virtio-tmem.h"
#include "migration/misc.h"
#include "migration/qemu-file-types.h"
#include "migration/register.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "trace.h"

#define PAGES_SECTION   "virtio-tmem-pages"

/*
 * Records of the pages section: a type byte, then its fields.  Types 1-4
 * are the store's TMEM_TRACK_* records.  Every part of the section ends
 * with MIG_END.
 */
enum {
    MIG_END = 0,
    MIG_START = 0x10,           /* the destination drops what it holds */
    MIG_DONE,                   /* be64: persistent pages the source holds */
};

/* Bytes a page record and the largest other record take in the stream. */
#define MIG_PAGE_BYTES  (2 + sizeof(TmemOid) + 4 + TMEM_PAGE_SIZE)
#define MIG_REC_BYTES   (2 + sizeof(TmemOid) + 4)

/* Records taken under the BQL at a time. */
#define MIG_BATCH       64

static void put_oid(QEMUFile *f, const TmemOid *oid)
{
    for (unsigned i = 0; i < ARRAY_SIZE(oid->v); i++) {
        qemu_put_be64(f, oid->v[i]);
    }
}

static void get_oid(QEMUFile *f, TmemOid *oid)
{
    for (unsigned i = 0; i < ARRAY_SIZE(oid->v); i++) {
        oid->v[i] = qemu_get_be64(f);
    }
}

static void put_record(QEMUFile *f, const TmemTrackRecord *r,
                       const uint8_t *data)
{
    qemu_put_byte(f, r->type);
    qemu_put_byte(f, r->slot);
    if (r->type == TMEM_TRACK_SLOT) {
        qemu_put_byte(f, r->slot_kind);
        qemu_put_be16(f, r->gen);
        return;
    }
    put_oid(f, &r->oid);
    if (r->type != TMEM_TRACK_FLUSH_OBJECT) {
        qemu_put_be32(f, r->index);
    }
    if (r->type == TMEM_TRACK_PAGE) {
        qemu_put_buffer(f, data, TMEM_PAGE_SIZE);
    }
}

static void get_record(QEMUFile *f, uint8_t type, TmemTrackRecord *r,
                       uint8_t *data)
{
    *r = (TmemTrackRecord) { .type = type, .slot = qemu_get_byte(f) };
    if (type == TMEM_TRACK_SLOT) {
        r->slot_kind = qemu_get_byte(f);
        r->gen = qemu_get_be16(f);
        return;
    }
    get_oid(f, &r->oid);
    if (type != TMEM_TRACK_FLUSH_OBJECT) {
        r->index = qemu_get_be32(f);
    }
    if (type == TMEM_TRACK_PAGE) {
        qemu_get_buffer(f, data, TMEM_PAGE_SIZE);
    }
}

/* ---- source ------------------------------------------------------------- */

/*
 * Take one batch under the BQL (the migration thread does not hold it)
 * and write it after dropping it.  Returns true if more is due.
 */
static bool tmem_send_batch(QEMUFile *f, VirtIOTmem *t, uint64_t *pages,
                            uint64_t *records)
{
    unsigned n;
    bool more;

    {
        BQL_LOCK_GUARD();
        more = tmem_track_take(t->client, t->mig_rec, t->mig_data, MIG_BATCH,
                               &n);
    }
    for (unsigned k = 0; k < n; k++) {
        const TmemTrackRecord *r = &t->mig_rec[k];

        put_record(f, r, t->mig_data + (size_t)k * TMEM_PAGE_SIZE);
        if (r->type == TMEM_TRACK_PAGE) {
            (*pages)++;
        } else {
            (*records)++;
        }
    }
    return more;
}

/*
 * Pages exist only as the device state of the moment the guest stopped in
 * a background snapshot; they go in the device state then.
 */
static bool tmem_mig_is_active(void *opaque)
{
    VirtIOTmem *t = opaque;

    return t->persistent && !migrate_background_snapshot();
}

/*
 * Refuse postcopy up front while the guest has persistent pages: the
 * section has no postcopy phase.  Pages the guest stores later still
 * arrive: QEMU completes the section, with the guest stopped, before
 * postcopy starts.
 */
static int tmem_mig_save_prepare(void *opaque, Error **errp)
{
    VirtIOTmem *t = opaque;
    uint64_t n = tmem_client_count_persistent(t->client);
    g_autofree char *name = NULL;

    /* a snapshot never runs in postcopy, whatever the capability says */
    if (runstate_check(RUN_STATE_SAVE_VM) || !migrate_postcopy_ram() || !n) {
        return 0;
    }
    name = tmem_pool_dev_name(DEVICE(t));
    error_setg(errp, "virtio-tmem '%s' holds %" PRIu64 " persistent pages, "
               "which cannot migrate in postcopy; turn off the postcopy-ram "
               "capability", name, n);
    return -EOPNOTSUPP;
}

static int tmem_mig_save_setup(QEMUFile *f, void *opaque, Error **errp)
{
    VirtIOTmem *t = opaque;

    t->mig_rec = g_new(TmemTrackRecord, MIG_BATCH);
    t->mig_data = g_malloc((size_t)MIG_BATCH * TMEM_PAGE_SIZE);
    tmem_track_start(t->client);
    t->mig_live = true;
    qemu_put_byte(f, MIG_START);
    qemu_put_byte(f, MIG_END);
    trace_virtio_tmem_mig_setup(t, tmem_client_count_persistent(t->client));
    return 0;
}

static void tmem_mig_pending(void *opaque, uint64_t *must_precopy,
                             uint64_t *can_postcopy)
{
    VirtIOTmem *t = opaque;
    uint64_t pages, records;

    tmem_track_pending(t->client, &pages, &records);
    *must_precopy += pages * MIG_PAGE_BYTES + records * MIG_REC_BYTES;
}

static int tmem_mig_save_iterate(QEMUFile *f, void *opaque)
{
    VirtIOTmem *t = opaque;
    uint64_t pages = 0, records = 0;
    bool more = true;

    while (more && !migration_rate_exceeded(f)) {
        more = tmem_send_batch(f, t, &pages, &records);
    }
    qemu_put_byte(f, MIG_END);
    trace_virtio_tmem_mig_iterate(t, pages, records, more);
    return !more;
}

static int tmem_mig_save_complete(QEMUFile *f, void *opaque)
{
    VirtIOTmem *t = opaque;
    uint64_t pages = 0, records = 0;
    uint64_t total = tmem_client_count_persistent(t->client);

    while (tmem_send_batch(f, t, &pages, &records)) {
        /* the guest has stopped: this ends */
    }
    /* the destination checks that it holds as many */
    qemu_put_byte(f, MIG_DONE);
    qemu_put_be64(f, total);
    qemu_put_byte(f, MIG_END);
    trace_virtio_tmem_mig_complete(t, pages, records, total);
    return qemu_file_get_error(f);
}

static void tmem_mig_save_cleanup(void *opaque)
{
    VirtIOTmem *t = opaque;

    if (t->mig_live) {
        tmem_track_stop(t->client);
        t->mig_live = false;
    }
    g_clear_pointer(&t->mig_rec, g_free);
    g_clear_pointer(&t->mig_data, g_free);
}

/* ---- destination -------------------------------------------------------- */

static int tmem_mig_load_setup(QEMUFile *f, void *opaque, Error **errp)
{
    VIRTIO_TMEM(opaque)->mig_in = VIRTIO_TMEM_MIG_IN_NONE;
    return 0;
}

static int tmem_mig_load_cleanup(void *opaque)
{
    VIRTIO_TMEM(opaque)->mig_in = VIRTIO_TMEM_MIG_IN_NONE;
    return 0;
}

static int tmem_mig_load_record(VirtIOTmem *t, QEMUFile *f, uint8_t type,
                                uint8_t *page)
{
    TmemTrackRecord r;
    int ret;

    if (t->mig_in != VIRTIO_TMEM_MIG_IN_STARTED) {
        error_report("virtio-tmem: page record 0x%x outside the pages "
                     "section", type);
        return -EINVAL;
    }
    get_record(f, type, &r, page);
    ret = qemu_file_get_error(f);
    if (ret) {
        return ret;
    }
    switch (tmem_track_apply(t->client, &r, page)) {
    case VIRTIO_TMEM_OK:
        return 0;
    case VIRTIO_TMEM_NOSPACE:
        error_report("virtio-tmem: no room in tmem-pool '%s' for a "
                     "persistent page (pool slot %u, index %u)",
                     object_get_canonical_path_component(OBJECT(t->pool)),
                     r.slot, r.index);
        return -ENOSPC;
    default:
        error_report("virtio-tmem: record 0x%x for pool slot %u does not fit "
                     "the pool slots", type, r.slot);
        return -EINVAL;
    }
}

static int tmem_mig_load_state(QEMUFile *f, void *opaque, int version_id)
{
    VirtIOTmem *t = opaque;
    g_autofree uint8_t *page = g_malloc(TMEM_PAGE_SIZE);
    uint64_t pages = 0, records = 0, n, have;
    int ret;

    for (;;) {
        uint8_t type = qemu_get_byte(f);

        ret = qemu_file_get_error(f);
        if (ret) {
            return ret;
        }
        switch (type) {
        case MIG_END:
            if (pages || records) {
                /* slots reset and objects flushed left pages to free */
                tmem_pool_schedule_reap(t->pool);
            }
            trace_virtio_tmem_mig_load(t, pages, records);
            return 0;
        case MIG_START:
            tmem_client_reset(t->client);
            tmem_pool_schedule_reap(t->pool);
            t->mig_in = VIRTIO_TMEM_MIG_IN_STARTED;
            break;
        case MIG_DONE:
            n = qemu_get_be64(f);
            have = tmem_client_count_persistent(t->client);
            if (t->mig_in != VIRTIO_TMEM_MIG_IN_STARTED || n != have) {
                error_report("virtio-tmem: %" PRIu64 " persistent pages "
                             "arrived, the source holds %" PRIu64, have, n);
                return -EINVAL;
            }
            t->mig_in = VIRTIO_TMEM_MIG_IN_DONE;
            break;
        case TMEM_TRACK_SLOT:
        case TMEM_TRACK_FLUSH_PAGE:
        case TMEM_TRACK_FLUSH_OBJECT:
        case TMEM_TRACK_PAGE:
            ret = tmem_mig_load_record(t, f, type, page);
            if (ret) {
                return ret;
            }
            if (type == TMEM_TRACK_PAGE) {
                pages++;
            } else {
                records++;
            }
            break;
        default:
            error_report("virtio-tmem: unknown record 0x%x in the pages "
                         "section", type);
            return -EINVAL;
        }
    }
}

static const SaveVMHandlers tmem_pages_handlers = {
    .is_active = tmem_mig_is_active,
    .save_prepare = tmem_mig_save_prepare,
    .save_setup = tmem_mig_save_setup,
    .state_pending_estimate = tmem_mig_pending,
    .state_pending_exact = tmem_mig_pending,
    .save_live_iterate = tmem_mig_save_iterate,
    .save_live_complete_precopy = tmem_mig_save_complete,
    .save_cleanup = tmem_mig_save_cleanup,
    .load_setup = tmem_mig_load_setup,
    .load_state = tmem_mig_load_state,
    .load_cleanup = tmem_mig_load_cleanup,
};

void virtio_tmem_migration_realize(VirtIOTmem *t)
{
    g_autofree char *id = vmstate_if_get_id(VMSTATE_IF(t));
    g_autofree char *idstr = id ? g_strdup_printf("%s/" PAGES_SECTION, id)
                                : g_strdup(PAGES_SECTION);

    register_savevm_live(idstr, VMSTATE_INSTANCE_ID_ANY, 1,
                         &tmem_pages_handlers, t);
}

void virtio_tmem_migration_unrealize(VirtIOTmem *t)
{
    unregister_savevm(VMSTATE_IF(t), PAGES_SECTION, t);
}

/* ---- the device state --------------------------------------------------- */

/*
 * Epoch and pool slots (with their generations, so no stale handle can
 * hit a recreated pool), then the persistent pages that did not go in the
 * pages section: all of them when it did not run (persistent=off, a
 * background snapshot, a stream of an older qemu-cmm), else none.
 */
static void put_page(void *opaque, unsigned slot, const TmemOid *oid,
                     uint32_t index, const void *data)
{
    QEMUFile *f = opaque;

    qemu_put_byte(f, slot);
    put_oid(f, oid);
    qemu_put_be32(f, index);
    qemu_put_buffer(f, data, VIRTIO_TMEM_PAGE_SIZE);
}

static int tmem_content_put(QEMUFile *f, void *pv, size_t size,
                            const VMStateField *field, JSONWriter *vmdesc)
{
    VirtIOTmem *t = pv;
    uint64_t n = t->mig_live ? 0 : tmem_client_count_persistent(t->client);

    qemu_put_be32(f, tmem_client_epoch(t->client));
    for (unsigned i = 0; i < VIRTIO_TMEM_MAX_POOLS; i++) {
        int kind = tmem_client_slot_kind(t->client, i);

        qemu_put_byte(f, kind);
        qemu_put_be16(f, tmem_client_slot_gen(t->client, i));
    }
    qemu_put_be64(f, n);
    if (n) {
        tmem_client_foreach_persistent(t->client, put_page, f);
    }
    trace_virtio_tmem_save(t, n);
    return 0;
}

/* One pool slot of the device state, applied or checked. */
static int tmem_content_slot(VirtIOTmem *t, unsigned i, int kind,
                             uint16_t gen, bool paged)
{
    if (kind > TMEM_SLOT_PERSISTENT) {
        error_report("virtio-tmem: bad pool slot %u kind %d", i, kind);
        return -EINVAL;
    }
    if (!paged) {
        tmem_client_set_slot(t->client, i, kind, gen);
    } else if (tmem_client_slot_kind(t->client, i) != kind ||
               tmem_client_slot_gen(t->client, i) != gen) {
        /* the pages section already set the slots up */
        error_report("virtio-tmem: pool slot %u of the device state (kind "
                     "%d, generation %u) differs from the pages section's",
                     i, kind, gen);
        return -EINVAL;
    }
    return 0;
}

static int tmem_content_get(QEMUFile *f, void *pv, size_t size,
                            const VMStateField *field)
{
    VirtIOTmem *t = pv;
    g_autofree uint8_t *page = g_malloc(VIRTIO_TMEM_PAGE_SIZE);
    uint32_t epoch = qemu_get_be32(f);
    bool paged = t->mig_in != VIRTIO_TMEM_MIG_IN_NONE;
    uint64_t n;

    if (t->mig_in == VIRTIO_TMEM_MIG_IN_STARTED) {
        error_report("virtio-tmem: the pages section did not complete");
        return -EINVAL;
    }
    t->mig_in = VIRTIO_TMEM_MIG_IN_NONE;
    if (!paged) {
        tmem_client_reset(t->client);
    }
    for (unsigned i = 0; i < VIRTIO_TMEM_MAX_POOLS; i++) {
        int kind = qemu_get_byte(f);
        uint16_t gen = qemu_get_be16(f);
        int ret = tmem_content_slot(t, i, kind, gen, paged);

        if (ret) {
            return ret;
        }
    }
    n = qemu_get_be64(f);
    for (uint64_t k = 0; k < n; k++) {
        unsigned slot = qemu_get_byte(f);
        TmemOid oid;
        uint32_t index;
        int ret;

        get_oid(f, &oid);
        index = qemu_get_be32(f);
        qemu_get_buffer(f, page, VIRTIO_TMEM_PAGE_SIZE);
        if (qemu_file_get_error(f)) {
            return qemu_file_get_error(f);
        }
        if (slot >= VIRTIO_TMEM_MAX_POOLS ||
            tmem_client_slot_kind(t->client, slot) != TMEM_SLOT_PERSISTENT) {
            error_report("virtio-tmem: persistent page for pool slot %u, "
                         "which is not a persistent pool", slot);
            return -EINVAL;
        }
        ret = tmem_restore_page(t->client,
                       VIRTIO_TMEM_POOL_HANDLE(slot,
                           tmem_client_slot_gen(t->client, slot)),
                       &oid, index, page);
        if (ret != VIRTIO_TMEM_OK) {
            error_report("virtio-tmem: no room for persistent page %" PRIu64
                         " of %" PRIu64 " in tmem-pool (status %d)", k, n,
                         ret);
            return -ENOSPC;
        }
    }
    /* ephemeral content was left behind: the guest may notice */
    tmem_client_set_epoch(t->client, epoch + 1);
    trace_virtio_tmem_load(t, n);
    return 0;
}

static const VMStateInfo vmstate_info_tmem_content = {
    .name = "virtio-tmem-content",
    .get = tmem_content_get,
    .put = tmem_content_put,
};

/*
 * The settings travel only once the host changed them (tmem-set-client,
 * tmem-freeze): a device as its properties made it sends the stream it
 * always did, and the destination keeps the settings it was started with.
 */
static bool tmem_settings_needed(void *opaque)
{
    VirtIOTmem *t = opaque;
    TmemClientStats st;

    tmem_client_info(t->client, &st);
    return st.weight != t->weight || st.cap != t->cap || st.frozen;
}

static int tmem_settings_pre_save(void *opaque)
{
    VirtIOTmem *t = opaque;
    TmemClientStats st;

    tmem_client_info(t->client, &st);
    t->mig_settings = (VirtIOTmemSettings) {
        .weight = st.weight, .cap = st.cap, .frozen = st.frozen,
    };
    return 0;
}

static int tmem_settings_post_load(void *opaque, int version_id)
{
    VirtIOTmem *t = opaque;
    VirtIOTmemSettings *ms = &t->mig_settings;
    uint64_t min = tmem_page_cost() + tmem_object_cost();

    if (ms->weight > TMEM_WEIGHT_MAX) {
        error_report("virtio-tmem: migrated weight %u is out of range "
                     "(0-%u)", ms->weight, TMEM_WEIGHT_MAX);
        return -EINVAL;
    }
    if (ms->cap && (ms->cap < min || ms->cap > t->pool->size)) {
        error_report("virtio-tmem: migrated cap %" PRIu64 " does not fit "
                     "tmem-pool '%s' (%" PRIu64 " to %" PRIu64 ")", ms->cap,
                     object_get_canonical_path_component(OBJECT(t->pool)),
                     min, t->pool->size);
        return -EINVAL;
    }
    tmem_client_set_weight(t->client, ms->weight);
    tmem_client_set_cap(t->client, ms->cap);
    tmem_client_set_frozen(t->client, ms->frozen);
    trace_virtio_tmem_settings_load(t, ms->weight, ms->cap, ms->frozen);
    return 0;
}

static const VMStateDescription vmstate_virtio_tmem_settings = {
    .name = "virtio-tmem-device/settings",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = tmem_settings_needed,
    .pre_save = tmem_settings_pre_save,
    .post_load = tmem_settings_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig_settings.weight, VirtIOTmem),
        VMSTATE_UINT64(mig_settings.cap, VirtIOTmem),
        VMSTATE_BOOL(mig_settings.frozen, VirtIOTmem),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_virtio_tmem_device = {
    .name = "virtio-tmem-device",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        {
            .name = "content",
            .info = &vmstate_info_tmem_content,
            .flags = VMS_SINGLE,
        },
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virtio_tmem_settings,
        NULL
    },
};
