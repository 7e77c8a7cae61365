/*
 * qemu-cmm: virtio-tmem, a guest's door to a tmem-pool
 *
 * The guest puts and gets whole 4 KiB pages by (pool, object, index) in
 * batched requests; the pages live in a host tmem-pool object, which may
 * drop ephemeral ones whenever it needs room.  The ABI is in
 * docs/interop/virtio-tmem.rst and hw/virtio/tmem-abi.h.
 *
 * The guest is not trusted: a request is copied once into host memory and
 * checked there (no double fetch), its layout must match its headers
 * exactly, and a malformed request only earns a status.  The client is
 * this device, whatever the guest writes.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/iov.h"
#include "qemu/log.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-tmem.h"
#include "hw/virtio/tmem-request.h"
#include "migration/vmstate.h"
#include "trace.h"

typedef struct virtio_tmem_batch TmemBatch;
typedef struct virtio_tmem_hdr TmemHdr;
typedef struct virtio_tmem_footer TmemFooter;
typedef struct virtio_tmem_new_pool TmemNewPool;

#define payload_in      tmem_req_payload_in
#define payload_out     tmem_req_payload_out

static int tmem_new_pool(VirtIOTmem *t, const TmemNewPool *np,
                         uint32_t *handle)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(t);
    uint32_t flags = le32_to_cpu(np->flags);
    static const uint8_t zero[16];

    if ((flags & ~VIRTIO_TMEM_POOL_KNOWN_FLAGS) || np->reserved0 ||
        np->reserved1 || memcmp(np->uuid, zero, sizeof(zero))) {
        return VIRTIO_TMEM_INVALID;
    }
    if (VIRTIO_TMEM_POOL_VERSION(flags) != VIRTIO_TMEM_POOL_ABI_VERSION ||
        VIRTIO_TMEM_POOL_PAGESHIFT(flags) != 0 ||
        (flags & VIRTIO_TMEM_POOL_SHARED)) {
        return VIRTIO_TMEM_UNSUPPORTED;
    }
    if ((flags & VIRTIO_TMEM_POOL_PERSISTENT) &&
        !virtio_vdev_has_feature(vdev, VIRTIO_TMEM_F_PERSISTENT)) {
        return VIRTIO_TMEM_DENIED;
    }
    return tmem_client_pool_new(t->client, flags & VIRTIO_TMEM_POOL_PERSISTENT,
                         handle);
}

/* Run one checked operation; rp/wp are its payloads in host memory. */
static int tmem_op(VirtIOTmem *t, const TmemHdr *h, const uint8_t *rp,
                   uint8_t *wp, uint32_t *value, bool *reap)
{
    uint32_t pool = le32_to_cpu(h->pool);
    uint32_t index = le32_to_cpu(h->index);
    uint32_t len = le32_to_cpu(h->len);
    TmemOid oid = { .v = { le64_to_cpu(h->oid[0]), le64_to_cpu(h->oid[1]),
                           le64_to_cpu(h->oid[2]) } };
    bool paged = h->op == VIRTIO_TMEM_OP_PUT || h->op == VIRTIO_TMEM_OP_GET;
    int ret;

    if (h->flags || h->reserved0 || h->reserved1 ||
        len != (paged ? VIRTIO_TMEM_PAGE_SIZE : 0)) {
        return VIRTIO_TMEM_INVALID;
    }
    switch (h->op) {
    case VIRTIO_TMEM_OP_NEW_POOL:
        return tmem_new_pool(t, (const TmemNewPool *)rp, value);
    case VIRTIO_TMEM_OP_DESTROY_POOL:
        *reap = true;
        return tmem_client_pool_destroy(t->client, pool, value);
    case VIRTIO_TMEM_OP_FLUSH_POOL:
        *reap = true;
        return tmem_client_pool_flush(t->client, pool, value);
    case VIRTIO_TMEM_OP_PUT:
        return tmem_put(t->client, pool, &oid, index, rp);
    case VIRTIO_TMEM_OP_GET:
        ret = tmem_get(t->client, pool, &oid, index, wp);
        if (ret != VIRTIO_TMEM_OK) {
            memset(wp, 0, VIRTIO_TMEM_PAGE_SIZE);
        }
        return ret;
    case VIRTIO_TMEM_OP_FLUSH_PAGE:
        return tmem_flush_page(t->client, pool, &oid, index, value);
    case VIRTIO_TMEM_OP_FLUSH_OBJECT:
        *reap = true;
        return tmem_flush_object(t->client, pool, &oid, value);
    default:
        return VIRTIO_TMEM_INVALID;
    }
}

static void tmem_set_footer(TmemFooter *f, int status, uint32_t value)
{
    f->status = cpu_to_le16(status);
    f->reserved = 0;
    f->value = cpu_to_le32(value);
}

/*
 * A chain whose layout cannot be trusted: one INVALID footer at the end
 * of the writable part, if there is room for it.
 */
static size_t tmem_bad_chain(VirtIOTmem *t, VirtQueueElement *elem,
                             size_t in_len, const char *why)
{
    TmemFooter f;

    qemu_log_mask(LOG_GUEST_ERROR, "virtio-tmem: malformed request: %s\n",
                  why);
    trace_virtio_tmem_bad_chain(t, why);
    tmem_client_count_invalid(t->client);
    if (in_len < sizeof(f)) {
        return 0;
    }
    tmem_set_footer(&f, VIRTIO_TMEM_INVALID, 0);
    iov_from_buf(elem->in_sg, elem->in_num, in_len - sizeof(f), &f,
                 sizeof(f));
    return in_len;
}

/* Handle one chain; returns the used length. */
static size_t tmem_handle_chain(VirtIOTmem *t, VirtQueueElement *elem,
                                bool *reap)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(t);
    size_t out_len = iov_size(elem->out_sg, elem->out_num);
    size_t in_len = iov_size(elem->in_sg, elem->in_num);
    const TmemHdr *hdrs;
    const char *why;
    unsigned count, i;
    size_t rpos, wpos, fpos;

    if (out_len < sizeof(TmemBatch) || out_len > TMEM_REQ_MAX_READ ||
        in_len > TMEM_REQ_MAX_WRITE) {
        return tmem_bad_chain(t, elem, in_len, "chain length");
    }
    /* one copy of everything the guest wrote: checked and used from here */
    iov_to_buf(elem->out_sg, elem->out_num, 0, t->rbuf, out_len);
    why = tmem_req_check(t->rbuf, out_len, in_len, t->max_batch,
                         virtio_vdev_has_feature(vdev, VIRTIO_TMEM_F_BATCH),
                         &count);
    if (why) {
        return tmem_bad_chain(t, elem, in_len, why);
    }
    hdrs = (const TmemHdr *)(t->rbuf + sizeof(TmemBatch));

    rpos = sizeof(TmemBatch) + count * sizeof(TmemHdr);
    wpos = 0;
    fpos = in_len - count * sizeof(TmemFooter);
    for (i = 0; i < count; i++) {
        const TmemHdr *h = &hdrs[i];
        uint32_t value = 0;
        int status = tmem_op(t, h, t->rbuf + rpos, t->wbuf + wpos, &value,
                             reap);

        if (status == VIRTIO_TMEM_INVALID) {
            qemu_log_mask(LOG_GUEST_ERROR, "virtio-tmem: invalid operation "
                          "%u (op %u, flags 0x%x, len %u)\n", i, h->op,
                          h->flags, le32_to_cpu(h->len));
            tmem_client_count_invalid(t->client);
            memset(t->wbuf + wpos, 0, payload_out(h));
        } else if (status == VIRTIO_TMEM_STALE) {
            value = tmem_client_epoch(t->client);
        }
        trace_virtio_tmem_op(t, h->op, le32_to_cpu(h->pool),
                             le32_to_cpu(h->index), status);
        tmem_set_footer((TmemFooter *)(t->wbuf + fpos), status, value);
        rpos += payload_in(h);
        wpos += payload_out(h);
        fpos += sizeof(TmemFooter);
    }
    /* GET data is complete before the element is pushed */
    iov_from_buf(elem->in_sg, elem->in_num, 0, t->wbuf, in_len);
    return in_len;
}

static void virtio_tmem_handle(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOTmem *t = VIRTIO_TMEM(vdev);
    VirtQueueElement *elem;
    bool reap = false;

    while ((elem = virtqueue_pop(vq, sizeof(VirtQueueElement)))) {
        size_t used = tmem_handle_chain(t, elem, &reap);

        virtqueue_push(vq, elem, used);
        g_free(elem);
    }
    virtio_notify(vdev, vq);
    if (reap) {
        tmem_pool_schedule_reap(t->pool);
    }
}

static void virtio_tmem_get_config(VirtIODevice *vdev, uint8_t *data)
{
    VirtIOTmem *t = VIRTIO_TMEM(vdev);
    struct virtio_tmem_config cfg = { 0 };
    TmemClientStats info;
    uint64_t cap;

    tmem_client_info(t->client, &info);
    cap = info.cap ? info.cap : t->pool->size;
    cfg.page_shifts = cpu_to_le32(1u << VIRTIO_TMEM_PAGE_SHIFT);
    cfg.max_pools = cpu_to_le16(VIRTIO_TMEM_MAX_POOLS);
    cfg.num_queues = cpu_to_le16(1);
    cfg.max_batch = cpu_to_le32(t->max_batch);
    cfg.epoch = cpu_to_le32(info.epoch);
    cfg.eph_target_pages = cpu_to_le64(tmem_client_eph_share(t->client));
    cfg.pers_limit_pages = cpu_to_le64(t->persistent ?
                                       cap / tmem_page_cost() : 0);
    cfg.status = cpu_to_le32(info.frozen ? VIRTIO_TMEM_S_FROZEN : 0);
    memcpy(data, &cfg, sizeof(cfg));
}

static uint64_t virtio_tmem_get_features(VirtIODevice *vdev, uint64_t f,
                                         Error **errp)
{
    VirtIOTmem *t = VIRTIO_TMEM(vdev);

    virtio_add_feature(&f, VIRTIO_TMEM_F_BATCH);
    virtio_add_feature(&f, VIRTIO_TMEM_F_EPOCH);
    if (t->persistent) {
        virtio_add_feature(&f, VIRTIO_TMEM_F_PERSISTENT);
    }
    return f;
}

/* The host changed our cap, weight or frozen state: tell the guest. */
static void virtio_tmem_changed(DeviceState *dev)
{
    virtio_notify_config(VIRTIO_DEVICE(dev));
}

static void virtio_tmem_reset(VirtIODevice *vdev)
{
    VirtIOTmem *t = VIRTIO_TMEM(vdev);

    /* a new guest instance starts with no pools: nothing stale survives */
    tmem_client_reset(t->client);
    tmem_pool_schedule_reap(t->pool);
}

static void virtio_tmem_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOTmem *t = VIRTIO_TMEM(dev);

    if (!t->pool) {
        error_setg(errp, "virtio-tmem needs a 'pool' (a tmem-pool object)");
        return;
    }
    if (t->weight > TMEM_WEIGHT_MAX) {
        error_setg(errp, "weight %u is out of range (0-%u)", t->weight,
                   TMEM_WEIGHT_MAX);
        return;
    }
    if (t->cap && t->cap < tmem_page_cost() + tmem_object_cost()) {
        error_setg(errp, "cap %" PRIu64 " is too small to hold a page "
                   "(minimum %" PRIu64 ")", t->cap,
                   tmem_page_cost() + tmem_object_cost());
        return;
    }
    if (!t->max_batch || t->max_batch > VIRTIO_TMEM_MAX_BATCH) {
        error_setg(errp, "max-batch %u is out of range (1-%u)", t->max_batch,
                   VIRTIO_TMEM_MAX_BATCH);
        return;
    }
    t->client = tmem_pool_attach(t->pool, dev, t->weight, t->cap,
                                 virtio_tmem_changed, errp);
    if (!t->client) {
        return;
    }
    t->rbuf = g_malloc(TMEM_REQ_MAX_READ);
    t->wbuf = g_malloc(TMEM_REQ_MAX_WRITE);
    virtio_init(vdev, VIRTIO_ID_TMEM, sizeof(struct virtio_tmem_config));
    t->vq = virtio_add_queue(vdev, VIRTIO_TMEM_QUEUE_SIZE,
                             virtio_tmem_handle);
    virtio_tmem_migration_realize(t);
}

static void virtio_tmem_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOTmem *t = VIRTIO_TMEM(dev);

    virtio_tmem_migration_unrealize(t);
    virtio_delete_queue(t->vq);
    virtio_cleanup(vdev);
    tmem_pool_detach(t->pool, dev);
    t->client = NULL;
    g_free(t->rbuf);
    g_free(t->wbuf);
}

static const VMStateDescription vmstate_virtio_tmem = {
    .name = "virtio-tmem",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_tmem_properties[] = {
    DEFINE_PROP_LINK("pool", VirtIOTmem, pool, TYPE_TMEM_POOL, TmemPool *),
    DEFINE_PROP_UINT32("weight", VirtIOTmem, weight, 100),
    DEFINE_PROP_SIZE("cap", VirtIOTmem, cap, 0),
    DEFINE_PROP_BOOL("persistent", VirtIOTmem, persistent, true),
    DEFINE_PROP_UINT32("max-batch", VirtIOTmem, max_batch,
                       VIRTIO_TMEM_MAX_BATCH),
};

static void virtio_tmem_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_tmem_properties);
    dc->vmsd = &vmstate_virtio_tmem;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_tmem_realize;
    vdc->unrealize = virtio_tmem_unrealize;
    vdc->get_config = virtio_tmem_get_config;
    vdc->get_features = virtio_tmem_get_features;
    vdc->reset = virtio_tmem_reset;
    vdc->vmsd = &vmstate_virtio_tmem_device;
}

static const TypeInfo virtio_tmem_info = {
    .name = TYPE_VIRTIO_TMEM,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOTmem),
    .class_init = virtio_tmem_class_init,
};

static void virtio_tmem_register_types(void)
{
    type_register_static(&virtio_tmem_info);
}

type_init(virtio_tmem_register_types)
