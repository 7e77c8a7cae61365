/*
 * Minimal virtio-ccw transport for the bare-metal tests (see virtio-ccw.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "virtio-ccw.h"

#define CCW_TIMEOUT_US      2000000UL
#define USED_TIMEOUT_US     5000000UL

/* Control blocks of the virtio-ccw commands (big-endian unless noted). */
struct rev_info {
    uint16_t revision;
    uint16_t length;
} __attribute__((packed));

struct feat_desc {
    uint32_t features;          /* little-endian */
    uint8_t index;
} __attribute__((packed));

struct vq_info {
    uint64_t desc;
    uint32_t res0;
    uint16_t index;
    uint16_t num;
    uint64_t avail;
    uint64_t used;
} __attribute__((packed));

struct vq_config {
    uint16_t index;
    uint16_t num_max;
} __attribute__((packed));

/* One CCW and a bounce area, shared by all devices: everything here is
 * synchronous and single-threaded. */
static struct ccw1 ccw;
static union {
    struct rev_info rev;
    struct feat_desc feat;
    struct vq_info vq;
    struct vq_config vqc;
    uint8_t status;
    uint8_t raw[256];
} blk __attribute__((aligned(8)));

static int run_cmd(struct vccw_dev *d, uint8_t cmd, uint8_t flags,
                   void *data, uint16_t count)
{
    int rc;

    ccw.cmd = cmd;
    ccw.flags = flags;
    ccw.count = count;
    ccw.cda = (uint32_t)(uintptr_t)data;
    vccw_mb();
    rc = css_run(d->schid, &ccw, &d->irb, CCW_TIMEOUT_US);
    vccw_mb();
    return rc;
}

bool vccw_has_feature(const struct vccw_dev *d, unsigned bit)
{
    return (d->features >> bit) & 1;
}

bool vccw_find(struct vccw_dev *d, uint8_t dev_id, int devno, unsigned n,
               struct vccw_ring *ring)
{
    memset(d, 0, sizeof(*d));
    d->ring = ring;
    d->timeout_us = USED_TIMEOUT_US;
    d->schid = css_find(VIRTIO_CCW_CU_TYPE, dev_id, devno, n);
    if (!d->schid) {
        return false;
    }
    d->devno = css_devno(d->schid);
    return true;
}

int vccw_set_rev(struct vccw_dev *d, uint16_t rev)
{
    int rc;

    blk.rev.revision = rev;
    blk.rev.length = 0;
    rc = run_cmd(d, CCW_CMD_SET_VIRTIO_REV, 0, &blk, sizeof(blk.rev));
    if (!rc) {
        d->rev_set = true;
    }
    return rc;
}

int vccw_reset(struct vccw_dev *d)
{
    int rc = run_cmd(d, CCW_CMD_VDEV_RESET, CCW_FLAG_SLI, NULL, 0);

    d->features = 0;
    d->vq_num = 0;
    return rc;
}

int vccw_read_features(struct vccw_dev *d, uint64_t *features)
{
    uint64_t f = 0;
    unsigned i;

    for (i = 0; i < 2; i++) {
        int rc;

        blk.feat.features = 0;
        blk.feat.index = i;
        rc = run_cmd(d, CCW_CMD_READ_FEAT, 0, &blk, sizeof(blk.feat));
        if (rc) {
            return rc;
        }
        f |= (uint64_t)le32(blk.feat.features) << (32 * i);
    }
    *features = f;
    return 0;
}

int vccw_write_features(struct vccw_dev *d, uint64_t features)
{
    unsigned i;

    for (i = 0; i < 2; i++) {
        int rc;

        blk.feat.features = le32((uint32_t)(features >> (32 * i)));
        blk.feat.index = i;
        rc = run_cmd(d, CCW_CMD_WRITE_FEAT, 0, &blk, sizeof(blk.feat));
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int vccw_write_status(struct vccw_dev *d, uint8_t status)
{
    blk.status = status;
    return run_cmd(d, CCW_CMD_WRITE_STATUS, 0, &blk, 1);
}

int vccw_read_status(struct vccw_dev *d, uint8_t *status)
{
    int rc;

    blk.status = 0xff;
    rc = run_cmd(d, CCW_CMD_READ_STATUS, 0, &blk, 1);
    *status = blk.status;
    return rc;
}

int vccw_read_vq_conf(struct vccw_dev *d, uint16_t index, uint16_t *num_max)
{
    int rc;

    blk.vqc.index = index;
    blk.vqc.num_max = 0;
    rc = run_cmd(d, CCW_CMD_READ_VQ_CONF, 0, &blk, sizeof(blk.vqc));
    *num_max = blk.vqc.num_max;
    return rc;
}

int vccw_setup_vq(struct vccw_dev *d, uint16_t index, uint16_t num)
{
    struct vccw_ring *r = d->ring;
    int rc;

    if (!r || num > VQ_MAX || (num & (num - 1))) {
        return VCCW_ERR_ARGS;
    }
    memset(r, 0, sizeof(*r));
    /* we poll the used ring: no interruptions wanted */
    r->avail.flags = le16(VRING_AVAIL_F_NO_INTERRUPT);
    memset(&blk.vq, 0, sizeof(blk.vq));
    blk.vq.desc = (uint64_t)(uintptr_t)r->desc;
    blk.vq.index = index;
    blk.vq.num = num;
    blk.vq.avail = (uint64_t)(uintptr_t)&r->avail;
    blk.vq.used = (uint64_t)(uintptr_t)&r->used;
    rc = run_cmd(d, CCW_CMD_SET_VQ, 0, &blk, sizeof(blk.vq));
    if (!rc) {
        d->vq_num = num;
        d->avail_idx = 0;
        d->last_used = 0;
    }
    return rc;
}

int vccw_read_config(struct vccw_dev *d, void *buf, uint16_t len)
{
    int rc;

    if (len > sizeof(blk.raw)) {
        return VCCW_ERR_ARGS;
    }
    memset(blk.raw, 0, len);
    rc = run_cmd(d, CCW_CMD_READ_CONF, CCW_FLAG_SLI, &blk, len);
    memcpy(buf, blk.raw, len);
    return rc;
}

int vccw_init(struct vccw_dev *d, uint64_t wanted, uint16_t qsize)
{
    uint8_t status;
    int rc;

    /* the revision can only be set once per subchannel reset */
    if (!d->rev_set) {
        rc = vccw_set_rev(d, 1);
        if (rc) {
            diag("virtio-ccw 0x%x: SET_VIRTIO_REV 1 failed: %s", d->schid,
                 css_strerror(rc));
            return rc;
        }
    }
    rc = vccw_reset(d);
    if (rc) {
        diag("virtio-ccw 0x%x: RESET failed: %s", d->schid,
             css_strerror(rc));
        return rc;
    }
    rc = vccw_write_status(d, VIRTIO_S_ACKNOWLEDGE);
    if (!rc) {
        rc = vccw_write_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    }
    if (rc) {
        diag("virtio-ccw 0x%x: WRITE_STATUS ACK/DRIVER failed: %s", d->schid,
             css_strerror(rc));
        return rc;
    }
    rc = vccw_read_features(d, &d->host_features);
    if (rc) {
        diag("virtio-ccw 0x%x: READ_FEAT failed: %s", d->schid,
             css_strerror(rc));
        return rc;
    }
    d->features = (wanted & d->host_features) | (1UL << VIRTIO_F_VERSION_1);
    rc = vccw_write_features(d, d->features);
    if (rc) {
        diag("virtio-ccw 0x%x: WRITE_FEAT failed: %s", d->schid,
             css_strerror(rc));
        return rc;
    }
    rc = vccw_write_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER |
                           VIRTIO_S_FEATURES_OK);
    if (!rc) {
        rc = vccw_read_status(d, &status);
    }
    if (rc || !(status & VIRTIO_S_FEATURES_OK)) {
        diag("virtio-ccw 0x%x: FEATURES_OK did not stick (features 0x%lx, "
             "offered 0x%lx): %s", d->schid, d->features, d->host_features,
             rc ? css_strerror(rc) : "status bit clear");
        return rc ? rc : VCCW_ERR_FEATURES;
    }
    rc = vccw_read_vq_conf(d, 0, &d->vq_max);
    if (rc || !d->vq_max) {
        diag("virtio-ccw 0x%x: READ_VQ_CONF failed: %s, max %u", d->schid,
             css_strerror(rc), d->vq_max);
        return rc ? rc : VCCW_ERR_ARGS;
    }
    if (!qsize) {
        qsize = d->vq_max < VQ_MAX ? d->vq_max : VQ_MAX;
    }
    rc = vccw_setup_vq(d, 0, qsize);
    if (rc) {
        diag("virtio-ccw 0x%x: SET_VQ 0 (size %u) failed: %s", d->schid,
             qsize, css_strerror(rc));
        return rc;
    }
    rc = vccw_write_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER |
                           VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
    if (rc) {
        diag("virtio-ccw 0x%x: DRIVER_OK failed: %s", d->schid,
             css_strerror(rc));
        return rc;
    }
    return 0;
}

int vccw_set_ind_adapter(struct vccw_dev *d, void *summary, void *ind,
                         uint64_t bit, uint8_t isc)
{
    struct {
        uint64_t summary;
        uint64_t ind;
        uint64_t bit;
        uint8_t isc;
    } __attribute__((packed)) *t = (void *)blk.raw;

    memset(blk.raw, 0, sizeof(*t));
    t->summary = (uint64_t)(uintptr_t)summary;     /* big-endian host */
    t->ind = (uint64_t)(uintptr_t)ind;
    t->bit = bit;
    t->isc = isc;
    return run_cmd(d, CCW_CMD_SET_IND_ADAPTER, 0, t, sizeof(*t));
}

long vccw_notify(struct vccw_dev *d, uint16_t index)
{
    /* KVM/QEMU hypercall: r1 = 3 (virtio-ccw notify), r2 = subchannel
     * id, r3 = queue index, r4 = cookie; result in r2 */
    register uint64_t r1 asm("1") = 3;
    register uint64_t r2 asm("2") = d->schid;
    register uint64_t r3 asm("3") = index;
    register uint64_t r4 asm("4") = 0;

    asm volatile("diag 2,4,0x500"
                 : "+d"(r2)
                 : "d"(r1), "d"(r3), "d"(r4)
                 : "cc", "memory");
    return (long)r2;
}

int vccw_submit(struct vccw_dev *d, const struct vq_seg *segs, unsigned n,
                uint32_t *used_len)
{
    volatile struct vring_used *used;
    struct vccw_ring *r = d->ring;
    uint64_t start;
    unsigned i;
    long nrc;

    if (!d->vq_num || !n || n > d->vq_num) {
        return VCCW_ERR_ARGS;
    }
    used = &r->used;
    /* one request at a time: the chain always starts at descriptor 0 */
    for (i = 0; i < n; i++) {
        uint16_t flags = segs[i].write ? VRING_DESC_F_WRITE : 0;

        if (i + 1 < n) {
            flags |= VRING_DESC_F_NEXT;
        }
        r->desc[i].addr = le64(segs[i].addr);
        r->desc[i].len = le32(segs[i].len);
        r->desc[i].flags = le16(flags);
        r->desc[i].next = le16(i + 1 < n ? i + 1 : 0);
    }
    r->avail.ring[d->avail_idx % d->vq_num] = le16(0);
    vccw_mb();
    d->avail_idx++;
    r->avail.idx = le16(d->avail_idx);
    vccw_mb();

    nrc = vccw_notify(d, 0);
    if (nrc < 0) {
        diag("virtio-ccw 0x%x: notify returned %ld", d->schid, nrc);
        return VCCW_ERR_NOTIFY;
    }

    start = rt_now_us();
    d->polls = 0;
    while (le16(used->idx) == d->last_used) {
        if (d->wait_hook) {
            d->wait_hook(d);
        }
        d->polls++;
        if (rt_now_us() - start > d->timeout_us) {
            diag("virtio-ccw 0x%x: no used element within %lu us "
                 "(avail %u, used %u)", d->schid, d->timeout_us,
                 d->avail_idx, d->last_used);
            return VCCW_ERR_TIMEOUT;
        }
    }
    vccw_mb();
    {
        volatile struct vring_used_elem *e =
            &used->ring[d->last_used % d->vq_num];
        uint32_t id = le32(e->id), len = le32(e->len);

        d->last_used++;
        if (le16(used->idx) != d->last_used) {
            diag("virtio-ccw 0x%x: used index ran ahead to %u (expected %u)",
                 d->schid, le16(used->idx), d->last_used);
            return VCCW_ERR_USED_ID;
        }
        if (id != 0) {
            diag("virtio-ccw 0x%x: used element for head %u, expected 0",
                 d->schid, id);
            return VCCW_ERR_USED_ID;
        }
        if (used_len) {
            *used_len = len;
        }
    }
    return 0;
}
