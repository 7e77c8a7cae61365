/*
 * Bare-metal driver for the virtio-tmem-ccw device (see tmem.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "tmem.h"

#define MAX_BATCH       VIRTIO_TMEM_MAX_BATCH

/*
 * Request memory, shared by all devices (requests are synchronous and
 * issued by one CPU): the readable head (prefix + headers), the NEW_POOL
 * payloads and the footers.
 */
static struct {
    struct virtio_tmem_batch prefix;
    struct virtio_tmem_hdr hdr[MAX_BATCH];
} head __attribute__((aligned(64)));
static struct virtio_tmem_new_pool np[MAX_BATCH] __attribute__((aligned(8)));
static struct virtio_tmem_footer foot[MAX_BATCH] __attribute__((aligned(8)));
static struct vq_seg segs[2 * MAX_BATCH + 2];

const char *tmem_status_name(int status)
{
    static const char *const names[] = {
        "OK", "MISS", "NOSPACE", "DUP_DROPPED", "FROZEN", "STALE",
        "NOPOOL", "DENIED", "INVALID", "UNSUPPORTED", "IOERR",
    };

    if (status >= 0 && status < (int)(sizeof(names) / sizeof(names[0]))) {
        return names[status];
    }
    if (status == TMEM_NOT_WRITTEN) {
        return "not written";
    }
    switch (status) {
    case TMEM_ERR_USED_LEN:  return "bad used length";
    case TMEM_ERR_NO_FOOTER: return "footer not written";
    case TMEM_ERR_ARGS:      return "bad arguments";
    case VCCW_ERR_TIMEOUT:   return "timeout";
    case VCCW_ERR_USED_ID:   return "bad used element";
    case VCCW_ERR_ARGS:      return "bad chain";
    case VCCW_ERR_NOTIFY:    return "notify failed";
    default:                 return status < 0 ? css_strerror(status) : "?";
    }
}

bool tmem_find(struct tmem_dev *d, int devno, unsigned n,
               struct vccw_ring *ring)
{
    memset(&d->cfg, 0, sizeof(d->cfg));
    d->last_used_len = 0;
    return vccw_find(&d->v, VIRTIO_ID_TMEM, devno, n, ring);
}

bool tmem_has(const struct tmem_dev *d, unsigned feature)
{
    return vccw_has_feature(&d->v, feature);
}

int tmem_read_config(struct tmem_dev *d)
{
    struct virtio_tmem_config c;
    int rc;

    rc = vccw_read_config(&d->v, &c, sizeof(c));
    if (rc) {
        return rc;
    }
    d->cfg.page_shifts = le32(c.page_shifts);
    d->cfg.max_pools = le16(c.max_pools);
    d->cfg.num_queues = le16(c.num_queues);
    d->cfg.max_batch = le32(c.max_batch);
    d->cfg.epoch = le32(c.epoch);
    d->cfg.eph_target_pages = le64(c.eph_target_pages);
    d->cfg.pers_limit_pages = le64(c.pers_limit_pages);
    d->cfg.status = le32(c.status);
    d->cfg.reserved = le32(c.reserved);
    return 0;
}

int tmem_init(struct tmem_dev *d, uint64_t features)
{
    int rc = vccw_init(&d->v, features, 0);

    if (rc) {
        return rc;
    }
    return tmem_read_config(d);
}

void tmem_hdr(struct virtio_tmem_hdr *h, uint8_t op, uint32_t pool,
              const struct tmem_oid *oid, uint32_t index, uint32_t len)
{
    memset(h, 0, sizeof(*h));
    h->op = op;
    h->pool = le32(pool);
    if (oid) {
        h->oid[0] = le64(oid->v[0]);
        h->oid[1] = le64(oid->v[1]);
        h->oid[2] = le64(oid->v[2]);
    }
    h->index = le32(index);
    h->len = le32(len);
}

void tmem_new_pool_payload(struct virtio_tmem_new_pool *p, uint32_t flags)
{
    memset(p, 0, sizeof(*p));
    p->flags = le32(flags);
}

void tmem_footer_clear(struct virtio_tmem_footer *f)
{
    f->status = le16(TMEM_NOT_WRITTEN);
    f->reserved = 0xffff;
    f->value = 0xffffffff;
}

int tmem_raw(struct tmem_dev *d, const struct vq_seg *s, unsigned n,
             uint32_t *used_len)
{
    uint32_t len = 0;
    int rc = vccw_submit(&d->v, s, n, &len);

    d->last_used_len = len;
    if (used_len) {
        *used_len = len;
    }
    return rc;
}

int tmem_batch(struct tmem_dev *d, struct tmem_op *ops, unsigned n)
{
    uint32_t expect_used = 0, used = 0;
    unsigned i, ns = 0;
    int rc;

    if (!n || n > MAX_BATCH) {
        return TMEM_ERR_ARGS;
    }
    head.prefix.count = le16(n);
    head.prefix.reserved0 = 0;
    head.prefix.reserved1 = 0;
    for (i = 0; i < n; i++) {
        bool data = ops[i].op == VIRTIO_TMEM_OP_PUT ||
                    ops[i].op == VIRTIO_TMEM_OP_GET;

        tmem_hdr(&head.hdr[i], ops[i].op, ops[i].pool, &ops[i].oid,
                 ops[i].index, data ? TMEM_PAGE : 0);
        tmem_footer_clear(&foot[i]);
        ops[i].status = TMEM_NOT_WRITTEN;
        ops[i].value = 0;
    }

    /* readable: prefix + headers, then PUT data / NEW_POOL payloads */
    segs[ns].addr = (uintptr_t)&head;
    segs[ns].len = sizeof(head.prefix) + n * sizeof(head.hdr[0]);
    segs[ns++].write = false;
    for (i = 0; i < n; i++) {
        if (ops[i].op == VIRTIO_TMEM_OP_PUT) {
            segs[ns].addr = (uintptr_t)ops[i].page;
            segs[ns].len = TMEM_PAGE;
            segs[ns++].write = false;
        } else if (ops[i].op == VIRTIO_TMEM_OP_NEW_POOL) {
            tmem_new_pool_payload(&np[i], ops[i].pool_flags);
            segs[ns].addr = (uintptr_t)&np[i];
            segs[ns].len = sizeof(np[i]);
            segs[ns++].write = false;
        }
    }
    /* writable: GET buffers, then the footers */
    for (i = 0; i < n; i++) {
        if (ops[i].op == VIRTIO_TMEM_OP_GET) {
            segs[ns].addr = (uintptr_t)ops[i].page;
            segs[ns].len = TMEM_PAGE;
            segs[ns++].write = true;
            expect_used += TMEM_PAGE;
        }
    }
    segs[ns].addr = (uintptr_t)foot;
    segs[ns].len = n * sizeof(foot[0]);
    segs[ns++].write = true;
    expect_used += n * sizeof(foot[0]);

    rc = tmem_raw(d, segs, ns, &used);
    if (rc) {
        return rc;
    }
    for (i = 0; i < n; i++) {
        ops[i].status = tmem_footer_status(&foot[i]);
        ops[i].value = tmem_footer_value(&foot[i]);
    }
    if (used != expect_used) {
        diag("tmem: used length %u, expected %u", used, expect_used);
        return TMEM_ERR_USED_LEN;
    }
    return 0;
}

/* One operation; returns its status or a negative error. */
static int tmem_one(struct tmem_dev *d, struct tmem_op *op)
{
    int rc = tmem_batch(d, op, 1);

    if (rc) {
        return rc;
    }
    if (op->status == TMEM_NOT_WRITTEN) {
        return TMEM_ERR_NO_FOOTER;
    }
    return op->status;
}

int tmem_new_pool(struct tmem_dev *d, uint32_t flags, uint32_t *handle)
{
    struct tmem_op op = { .op = VIRTIO_TMEM_OP_NEW_POOL, .pool_flags = flags };
    int rc = tmem_one(d, &op);

    if (handle) {
        *handle = op.value;
    }
    return rc;
}

int tmem_destroy_pool(struct tmem_dev *d, uint32_t pool)
{
    struct tmem_op op = { .op = VIRTIO_TMEM_OP_DESTROY_POOL, .pool = pool };

    return tmem_one(d, &op);
}

int tmem_put(struct tmem_dev *d, uint32_t pool, const struct tmem_oid *oid,
             uint32_t index, const void *page)
{
    struct tmem_op op = {
        .op = VIRTIO_TMEM_OP_PUT, .pool = pool, .oid = *oid, .index = index,
        .page = (void *)page,
    };

    return tmem_one(d, &op);
}

int tmem_get(struct tmem_dev *d, uint32_t pool, const struct tmem_oid *oid,
             uint32_t index, void *page)
{
    struct tmem_op op = {
        .op = VIRTIO_TMEM_OP_GET, .pool = pool, .oid = *oid, .index = index,
        .page = page,
    };

    return tmem_one(d, &op);
}

int tmem_flush_page(struct tmem_dev *d, uint32_t pool,
                    const struct tmem_oid *oid, uint32_t index,
                    uint32_t *found)
{
    struct tmem_op op = {
        .op = VIRTIO_TMEM_OP_FLUSH_PAGE, .pool = pool, .oid = *oid,
        .index = index,
    };
    int rc = tmem_one(d, &op);

    if (found) {
        *found = op.value;
    }
    return rc;
}

int tmem_flush_object(struct tmem_dev *d, uint32_t pool,
                      const struct tmem_oid *oid, uint32_t *found)
{
    struct tmem_op op = {
        .op = VIRTIO_TMEM_OP_FLUSH_OBJECT, .pool = pool, .oid = *oid,
    };
    int rc = tmem_one(d, &op);

    if (found) {
        *found = op.value;
    }
    return rc;
}

int tmem_flush_pool(struct tmem_dev *d, uint32_t pool, uint32_t *found)
{
    struct tmem_op op = { .op = VIRTIO_TMEM_OP_FLUSH_POOL, .pool = pool };
    int rc = tmem_one(d, &op);

    if (found) {
        *found = op.value;
    }
    return rc;
}

/* ---- test data ---------------------------------------------------------- */

static uint64_t pattern(uint64_t seed, unsigned w)
{
    /* different for every (seed, word), never a repeating byte */
    return (seed * 0x9e3779b97f4a7c15UL) ^ ((w + 1) * 0xbf58476d1ce4e5b9UL);
}

void tmem_fill(void *page, uint64_t seed)
{
    uint64_t *p = page;
    unsigned w;

    for (w = 0; w < TMEM_PAGE / 8; w++) {
        p[w] = pattern(seed, w);
    }
}

unsigned tmem_check(const void *page, uint64_t seed)
{
    const uint64_t *p = page;
    unsigned w, bad = 0;

    for (w = 0; w < TMEM_PAGE / 8; w++) {
        bad += p[w] != pattern(seed, w);
    }
    return bad;
}

bool tmem_is_zero(const void *page)
{
    const uint64_t *p = page;
    unsigned w;

    for (w = 0; w < TMEM_PAGE / 8; w++) {
        if (p[w]) {
            return false;
        }
    }
    return true;
}
