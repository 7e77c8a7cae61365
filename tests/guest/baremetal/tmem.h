/*
 * Bare-metal driver for the virtio-tmem-ccw device (device id 63) on top
 * of virtio-ccw.h.  The guest ABI is include/hw/virtio/tmem-abi.h.
 *
 * Single operations return the footer status (VIRTIO_TMEM_*, >= 0) or a
 * negative driver/transport error.  tmem_batch() sends up to max_batch
 * operations in one chain; tmem_raw() sends an arbitrary chain for the
 * hostile tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TMEM_H
#define TMEM_H

#include <stdbool.h>
#include <stdint.h>
#include "virtio-ccw.h"
#include "hw/virtio/tmem-abi.h"

#define TMEM_PAGE               VIRTIO_TMEM_PAGE_SIZE

/* Driver errors (negative, beyond the transport's). */
#define TMEM_ERR_USED_LEN       (-20)   /* used length not as expected */
#define TMEM_ERR_NO_FOOTER      (-21)   /* footer of this op not written */
#define TMEM_ERR_ARGS           (-22)

/* Footer status value the driver pre-fills: "not written by the device". */
#define TMEM_NOT_WRITTEN        0xffff

/* Every feature this driver knows. */
#define TMEM_FEATURES_ALL       ((1UL << VIRTIO_TMEM_F_PERSISTENT) | \
                                 (1UL << VIRTIO_TMEM_F_BATCH) | \
                                 (1UL << VIRTIO_TMEM_F_EPOCH))

struct tmem_oid {
    uint64_t v[3];
};

struct tmem_dev {
    struct vccw_dev v;
    struct virtio_tmem_config cfg;  /* host byte order after read */
    uint32_t last_used_len;         /* of the last chain */
};

/* One operation of a batch. */
struct tmem_op {
    uint8_t op;                     /* VIRTIO_TMEM_OP_* */
    uint32_t pool;
    struct tmem_oid oid;
    uint32_t index;
    void *page;                     /* PUT source / GET destination */
    uint32_t pool_flags;            /* NEW_POOL */
    /* results */
    uint16_t status;                /* TMEM_NOT_WRITTEN if untouched */
    uint32_t value;
};

/* Find the n-th virtio-tmem device (with device number devno unless
 * negative); ring is the queue memory it will use. */
bool tmem_find(struct tmem_dev *d, int devno, unsigned n,
               struct vccw_ring *ring);
/* Negotiate the wanted features (VERSION_1 always), set up queue 0,
 * DRIVER_OK, read the config.  Returns 0 or a negative error. */
int tmem_init(struct tmem_dev *d, uint64_t features);
/* Re-read the config space into d->cfg. */
int tmem_read_config(struct tmem_dev *d);
bool tmem_has(const struct tmem_dev *d, unsigned feature);

int tmem_new_pool(struct tmem_dev *d, uint32_t flags, uint32_t *handle);
int tmem_destroy_pool(struct tmem_dev *d, uint32_t pool);
int tmem_put(struct tmem_dev *d, uint32_t pool, const struct tmem_oid *oid,
             uint32_t index, const void *page);
int tmem_get(struct tmem_dev *d, uint32_t pool, const struct tmem_oid *oid,
             uint32_t index, void *page);
int tmem_flush_page(struct tmem_dev *d, uint32_t pool,
                    const struct tmem_oid *oid, uint32_t index,
                    uint32_t *found);
int tmem_flush_object(struct tmem_dev *d, uint32_t pool,
                      const struct tmem_oid *oid, uint32_t *found);
int tmem_flush_pool(struct tmem_dev *d, uint32_t pool, uint32_t *found);

/*
 * Run n operations (1..VIRTIO_TMEM_MAX_BATCH) in one chain; status and
 * value of each are filled in.  Returns 0 if the device answered with
 * the expected used length, else a negative error (statuses are still
 * filled in as far as the device wrote them).
 */
int tmem_batch(struct tmem_dev *d, struct tmem_op *ops, unsigned n);

/* Send an arbitrary chain; *used_len gets the used length. */
int tmem_raw(struct tmem_dev *d, const struct vq_seg *segs, unsigned n,
             uint32_t *used_len);

/* Fill a header in device byte order. */
void tmem_hdr(struct virtio_tmem_hdr *h, uint8_t op, uint32_t pool,
              const struct tmem_oid *oid, uint32_t index, uint32_t len);
/* Fill a NEW_POOL payload in device byte order. */
void tmem_new_pool_payload(struct virtio_tmem_new_pool *p, uint32_t flags);
/* Decode a footer. */
static inline uint16_t tmem_footer_status(const struct virtio_tmem_footer *f)
{
    return le16(f->status);
}
static inline uint32_t tmem_footer_value(const struct virtio_tmem_footer *f)
{
    return le32(f->value);
}
/* Prefill a footer with TMEM_NOT_WRITTEN. */
void tmem_footer_clear(struct virtio_tmem_footer *f);

/* Pool flags for NEW_POOL with the ABI version set. */
#define TMEM_POOL_FLAGS(persistent) \
    (((uint32_t)VIRTIO_TMEM_POOL_ABI_VERSION << 24) | \
     ((persistent) ? VIRTIO_TMEM_POOL_PERSISTENT : 0))

const char *tmem_status_name(int status);

/* A TAP assertion that a status is want, naming both on failure. */
#define is_st(got, want, ...) ({                                        \
    int _s = (got), _w = (want);                                        \
    bool _r = rt_ok(_s == _w, __VA_ARGS__);                             \
    if (!_r) {                                                          \
        diag("  status %d (%s), expected %d (%s)", _s,                  \
             tmem_status_name(_s), _w, tmem_status_name(_w));           \
    }                                                                   \
    _r;                                                                 \
})

/* Test data: fill a page with a pattern derived from seed; count the
 * 8-byte words that differ from it; check that a page is all zero. */
void tmem_fill(void *page, uint64_t seed);
unsigned tmem_check(const void *page, uint64_t seed);
bool tmem_is_zero(const void *page);

#endif /* TMEM_H */
