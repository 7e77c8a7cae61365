/*
 * qemu-cmm: guest ABI of the virtio-tmem device (experimental)
 *
 * A plain C header with no QEMU dependencies: the device model and the
 * bare-metal guest driver in tests/guest/ both include it.  The ABI is
 * described in docs/interop/virtio-tmem.rst.  Every multi-byte field is
 * little-endian (virtio 1.x).
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VIRTIO_TMEM_ABI_H
#define HW_VIRTIO_TMEM_ABI_H

#include <stdint.h>

/* Fork-local, unregistered device ID (counting down from 63). */
#define VIRTIO_ID_TMEM                  63

/* Device feature bits (the device-specific range, 0-23). */
#define VIRTIO_TMEM_F_PERSISTENT        0   /* persistent pools allowed */
#define VIRTIO_TMEM_F_BATCH             3   /* several operations per chain */
#define VIRTIO_TMEM_F_EPOCH             5   /* config.epoch is maintained */

#define VIRTIO_TMEM_PAGE_SHIFT          12
#define VIRTIO_TMEM_PAGE_SIZE           (1u << VIRTIO_TMEM_PAGE_SHIFT)
#define VIRTIO_TMEM_MAX_POOLS           16
#define VIRTIO_TMEM_MAX_BATCH           64
#define VIRTIO_TMEM_QUEUE_SIZE          128 /* default; the transport may
                                               report a larger maximum */

/* config.status bits */
#define VIRTIO_TMEM_S_FROZEN            (1u << 0)

struct virtio_tmem_config {
    uint32_t page_shifts;       /* bitmap of page shifts: bit 12 = 4 KiB */
    uint16_t max_pools;         /* pool slots per device */
    uint16_t num_queues;        /* request queues (1) */
    uint32_t max_batch;         /* operations per chain */
    uint32_t epoch;             /* bumped when ephemeral content is dropped */
    uint64_t eph_target_pages;  /* advisory fair share of ephemeral pages */
    uint64_t pers_limit_pages;  /* hard limit on persistent pages */
    uint32_t status;            /* VIRTIO_TMEM_S_* */
    uint32_t reserved;
} __attribute__((packed));

/* Operations */
enum {
    VIRTIO_TMEM_OP_NEW_POOL     = 1,
    VIRTIO_TMEM_OP_DESTROY_POOL = 2,
    VIRTIO_TMEM_OP_PUT          = 3,
    VIRTIO_TMEM_OP_GET          = 4,
    VIRTIO_TMEM_OP_FLUSH_PAGE   = 5,
    VIRTIO_TMEM_OP_FLUSH_OBJECT = 6,
    VIRTIO_TMEM_OP_FLUSH_POOL   = 7,
};

/* Status codes written to a footer */
enum {
    VIRTIO_TMEM_OK              = 0,
    VIRTIO_TMEM_MISS            = 1,    /* GET found nothing */
    VIRTIO_TMEM_NOSPACE         = 2,    /* PUT refused: pool, cap, quota */
    VIRTIO_TMEM_DUP_DROPPED     = 3,    /* duplicate PUT failed, old gone */
    VIRTIO_TMEM_FROZEN          = 4,    /* PUTs refused for now */
    VIRTIO_TMEM_STALE           = 5,    /* pool handle generation mismatch */
    VIRTIO_TMEM_NOPOOL          = 6,    /* slot not in use or out of range */
    VIRTIO_TMEM_DENIED          = 7,    /* feature not negotiated or no quota */
    VIRTIO_TMEM_INVALID         = 8,    /* malformed operation or chain */
    VIRTIO_TMEM_UNSUPPORTED     = 9,    /* e.g. page size, shared pools */
    VIRTIO_TMEM_IOERR           = 10,   /* guest buffer not accessible */
};

/*
 * A request is one descriptor chain:
 *   device-readable:  virtio_tmem_batch, count x virtio_tmem_hdr, then the
 *                     readable payloads of the operations in order
 *                     (PUT: len bytes of data; NEW_POOL: virtio_tmem_new_pool)
 *   device-writable:  the writable payloads in order (GET: len bytes),
 *                     then count x virtio_tmem_footer
 * The total readable and writable lengths must match this layout exactly;
 * how the bytes are split into descriptors does not matter.  count must be
 * 1 unless VIRTIO_TMEM_F_BATCH was negotiated, and at most max_batch.
 */
struct virtio_tmem_batch {
    uint16_t count;
    uint16_t reserved0;         /* must be 0 */
    uint32_t reserved1;         /* must be 0 */
} __attribute__((packed));

struct virtio_tmem_hdr {
    uint8_t op;                 /* VIRTIO_TMEM_OP_* */
    uint8_t flags;              /* must be 0 (no flags defined yet) */
    uint16_t reserved0;         /* must be 0 */
    uint32_t pool;              /* slot (bits 0-15), generation (16-31) */
    uint64_t oid[3];            /* 192-bit object id */
    uint32_t index;             /* page index within the object */
    uint32_t len;               /* PUT/GET: 4096, otherwise 0 */
    uint64_t reserved1;         /* must be 0 */
} __attribute__((packed));

/* NEW_POOL payload */
#define VIRTIO_TMEM_POOL_PERSISTENT     (1u << 0)
#define VIRTIO_TMEM_POOL_SHARED         (1u << 1)   /* not supported */
#define VIRTIO_TMEM_POOL_PAGESHIFT(f)   (((f) >> 4) & 0xf)  /* shift - 12 */
#define VIRTIO_TMEM_POOL_VERSION(f)     (((f) >> 24) & 0xff)
#define VIRTIO_TMEM_POOL_ABI_VERSION    1
#define VIRTIO_TMEM_POOL_KNOWN_FLAGS    (VIRTIO_TMEM_POOL_PERSISTENT | \
                                         VIRTIO_TMEM_POOL_SHARED | \
                                         (0xfu << 4) | (0xffu << 24))

struct virtio_tmem_new_pool {
    uint32_t flags;
    uint32_t reserved0;         /* must be 0 */
    uint8_t uuid[16];           /* shared pools only; must be 0 */
    uint64_t reserved1;         /* must be 0 */
} __attribute__((packed));

struct virtio_tmem_footer {
    uint16_t status;            /* VIRTIO_TMEM_OK ... */
    uint16_t reserved;
    uint32_t value;             /* NEW_POOL: handle; STALE: epoch;
                                   FLUSH_*: pages found; else 0 */
} __attribute__((packed));

#define VIRTIO_TMEM_POOL_HANDLE(slot, gen) \
    ((uint32_t)(slot) | ((uint32_t)(gen) << 16))
#define VIRTIO_TMEM_POOL_SLOT(h)        ((h) & 0xffff)
#define VIRTIO_TMEM_POOL_GEN(h)         ((h) >> 16)

#endif
