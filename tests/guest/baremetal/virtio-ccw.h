/*
 * Minimal virtio-ccw transport (virtio 1.x, revision 1) for the bare-metal
 * tests: feature negotiation, config space, one split virtqueue per
 * device, notification by DIAGNOSE 0x500 and polling of the used ring.
 * No interruptions: requests are submitted one at a time and waited for.
 *
 * Rings are little-endian (virtio 1.x); the CCW control blocks
 * (SET_VQ info, revision) are big-endian; feature words are
 * little-endian.  s390x is big-endian, so the code swaps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VIRTIO_CCW_H
#define VIRTIO_CCW_H

#include <stdbool.h>
#include <stdint.h>
#include "css.h"

#define VIRTIO_CCW_CU_TYPE          0x3832

/* virtio-ccw channel commands */
#define CCW_CMD_SET_VQ              0x13
#define CCW_CMD_VDEV_RESET          0x33
#define CCW_CMD_READ_FEAT           0x12
#define CCW_CMD_WRITE_FEAT          0x11
#define CCW_CMD_READ_CONF           0x22
#define CCW_CMD_WRITE_CONF          0x21
#define CCW_CMD_WRITE_STATUS        0x31
#define CCW_CMD_READ_VQ_CONF        0x32
#define CCW_CMD_READ_STATUS         0x72
#define CCW_CMD_SET_VIRTIO_REV      0x83
#define CCW_CMD_SET_IND_ADAPTER     0x73

/* device status bits */
#define VIRTIO_S_ACKNOWLEDGE        1
#define VIRTIO_S_DRIVER             2
#define VIRTIO_S_DRIVER_OK          4
#define VIRTIO_S_FEATURES_OK        8
#define VIRTIO_S_NEEDS_RESET        0x40
#define VIRTIO_S_FAILED             0x80

#define VIRTIO_F_VERSION_1          32

/* split virtqueue, little-endian fields */
struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} __attribute__((packed));

#define VRING_DESC_F_NEXT           1
#define VRING_DESC_F_WRITE          2
#define VRING_AVAIL_F_NO_INTERRUPT  1

#define VQ_MAX                      128

struct vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[VQ_MAX];
    uint16_t used_event;
} __attribute__((packed));

struct vring_used_elem {
    uint32_t id;
    uint32_t len;
} __attribute__((packed));

struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[VQ_MAX];
    uint16_t avail_event;
} __attribute__((packed));

/* One segment of a descriptor chain. */
struct vq_seg {
    uint64_t addr;
    uint32_t len;
    bool write;                 /* device-writable */
};

/* Driver-side errors (negative; css_run() codes are -1..-5). */
#define VCCW_ERR_TIMEOUT            (-10)   /* no used element in time */
#define VCCW_ERR_USED_ID            (-11)   /* used element for another head */
#define VCCW_ERR_ARGS               (-12)   /* chain too long / no queue */
#define VCCW_ERR_NOTIFY             (-13)   /* DIAG 0x500 returned an error */
#define VCCW_ERR_FEATURES           (-14)   /* FEATURES_OK did not stick */

/* Ring memory of one queue: three 4 KiB-aligned pages. */
struct vccw_ring {
    struct vring_desc desc[VQ_MAX] __attribute__((aligned(4096)));
    struct vring_avail avail __attribute__((aligned(4096)));
    struct vring_used used __attribute__((aligned(4096)));
} __attribute__((aligned(4096)));

struct vccw_dev {
    uint32_t schid;
    int devno;
    bool rev_set;               /* SET_VIRTIO_REV done (allowed once) */
    uint64_t host_features;     /* offered by the device */
    uint64_t features;          /* negotiated */
    uint16_t vq_num;            /* queue size in use, 0 if none */
    uint16_t vq_max;            /* from READ_VQ_CONF */
    uint16_t avail_idx;         /* next avail index (host order) */
    uint16_t last_used;         /* used index seen last */
    uint64_t timeout_us;        /* for a used element */
    struct vccw_ring *ring;
    struct irb irb;             /* of the last channel program */
    /* called while vccw_submit() waits for the used element */
    void (*wait_hook)(struct vccw_dev *d);
    uint64_t polls;             /* times the last submit found no answer */
};

/* Find the n-th device with virtio device id dev_id (and device number
 * devno unless negative).  Returns false if there is none. */
bool vccw_find(struct vccw_dev *d, uint8_t dev_id, int devno, unsigned n,
               struct vccw_ring *ring);

/*
 * Bring the device up: revision 1, reset, ACK + DRIVER, features
 * (wanted & offered, plus VERSION_1), FEATURES_OK (checked), queue 0 of
 * qsize entries (0: the device maximum), DRIVER_OK.  Returns 0 or a
 * negative error; diagnostics say which step failed.
 */
int vccw_init(struct vccw_dev *d, uint64_t wanted, uint16_t qsize);

int vccw_reset(struct vccw_dev *d);
int vccw_set_rev(struct vccw_dev *d, uint16_t rev);
int vccw_read_features(struct vccw_dev *d, uint64_t *features);
int vccw_write_features(struct vccw_dev *d, uint64_t features);
int vccw_write_status(struct vccw_dev *d, uint8_t status);
int vccw_read_status(struct vccw_dev *d, uint8_t *status);
int vccw_read_vq_conf(struct vccw_dev *d, uint16_t index, uint16_t *num_max);
int vccw_setup_vq(struct vccw_dev *d, uint16_t index, uint16_t num);
/* Read len bytes of config space at offset 0 (raw, little-endian). */
int vccw_read_config(struct vccw_dev *d, void *buf, uint16_t len);

/*
 * Adapter (thin) interruption indicators: the device sets bit
 * @bit (numbered from the most significant bit of the byte at @ind) and
 * the summary byte when it notifies.  Big-endian fields.
 */
int vccw_set_ind_adapter(struct vccw_dev *d, void *summary, void *ind,
                         uint64_t bit, uint8_t isc);

/* Notify queue index by DIAGNOSE 0x500 subcode 3; returns its result. */
long vccw_notify(struct vccw_dev *d, uint16_t index);

/*
 * Put a chain of n segments (readable ones first, as virtio requires)
 * on queue 0 starting at descriptor 0, notify, and wait for its used
 * element.  Returns 0 and the used length in *used_len, or an error.
 */
int vccw_submit(struct vccw_dev *d, const struct vq_seg *segs, unsigned n,
                uint32_t *used_len);

bool vccw_has_feature(const struct vccw_dev *d, unsigned bit);

/* little-endian helpers */
static inline uint16_t le16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t le32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t le64(uint64_t v) { return __builtin_bswap64(v); }

/* Full serialization: make stores visible to the device / other CPU. */
static inline void vccw_mb(void)
{
    asm volatile("bcr 14,0" : : : "memory");
}

#endif /* VIRTIO_CCW_H */
