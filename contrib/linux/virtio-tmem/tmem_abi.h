/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-tmem guest ABI (device 63, qemu-cmm only), as described in
 * docs/interop/virtio-tmem.rst.  All fields are little-endian.
 */
#ifndef VIRTIO_TMEM_ABI_H
#define VIRTIO_TMEM_ABI_H

#include <linux/types.h>

#define VIRTIO_ID_TMEM			63

#define VIRTIO_TMEM_F_PERSISTENT	0
#define VIRTIO_TMEM_F_BATCH		3
#define VIRTIO_TMEM_F_EPOCH		5

#define VIRTIO_TMEM_PAGE_SIZE		4096
#define VIRTIO_TMEM_MAX_BATCH		64
#define VIRTIO_TMEM_S_FROZEN		(1u << 0)

struct virtio_tmem_config {
	__le32 page_shifts;
	__le16 max_pools;
	__le16 num_queues;
	__le32 max_batch;
	__le32 epoch;
	__le64 eph_target_pages;
	__le64 pers_limit_pages;
	__le32 status;
	__le32 reserved;
};

enum {
	VIRTIO_TMEM_OP_NEW_POOL = 1,
	VIRTIO_TMEM_OP_DESTROY_POOL = 2,
	VIRTIO_TMEM_OP_PUT = 3,
	VIRTIO_TMEM_OP_GET = 4,
	VIRTIO_TMEM_OP_FLUSH_PAGE = 5,
	VIRTIO_TMEM_OP_FLUSH_OBJECT = 6,
	VIRTIO_TMEM_OP_FLUSH_POOL = 7,
};

enum {
	VIRTIO_TMEM_OK = 0,
	VIRTIO_TMEM_MISS = 1,
	VIRTIO_TMEM_NOSPACE = 2,
	VIRTIO_TMEM_DUP_DROPPED = 3,
	VIRTIO_TMEM_FROZEN = 4,
	VIRTIO_TMEM_STALE = 5,
	VIRTIO_TMEM_NOPOOL = 6,
	VIRTIO_TMEM_DENIED = 7,
	VIRTIO_TMEM_INVALID = 8,
	VIRTIO_TMEM_UNSUPPORTED = 9,
	VIRTIO_TMEM_IOERR = 10,
};

struct virtio_tmem_batch {
	__le16 count;
	__le16 reserved0;
	__le32 reserved1;
};

struct virtio_tmem_hdr {
	u8 op;
	u8 flags;
	__le16 reserved0;
	__le32 pool;
	__le64 oid[3];
	__le32 index;
	__le32 len;
	__le64 reserved1;
};

#define VIRTIO_TMEM_POOL_PERSISTENT	(1u << 0)
#define VIRTIO_TMEM_POOL_VERSION_1	(1u << 24)

struct virtio_tmem_new_pool {
	__le32 flags;
	__le32 reserved0;
	u8 uuid[16];
	__le64 reserved1;
};

struct virtio_tmem_footer {
	__le16 status;
	__le16 reserved;
	__le32 value;
};

#endif
