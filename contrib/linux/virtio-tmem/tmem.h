/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-tmem guest driver: shared definitions.
 *
 * Who calls what:
 *  - tmem_main.c: the virtio driver (probe, remove, config change) and sysfs.
 *  - tmem_req.c: puts chains on the ring and hands each answered chain to
 *    its end callback.  tmem_queue() never sleeps (queue_rq, interrupt and
 *    bio completion context); tmem_queue_wait() and tmem_submit() may.
 *    vq_lock orders the ring; end callbacks run without it, from the
 *    virtqueue interrupt or from whoever polled the ring after a notify.
 *  - tmem_blk.c: the block device /dev/tmemswapN.  queue_rq puts a
 *    request's chain on the ring (or, in ephemeral mode, sends the write to
 *    the lower device first) and the end callbacks finish it.  Only what
 *    must sleep goes to td->wq: lower-device reads of pages the pool
 *    missed, lower discards, and chains that found the ring full outside
 *    queue_rq.
 */
#ifndef VIRTIO_TMEM_H
#define VIRTIO_TMEM_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "tmem_abi.h"

/* One operation of a chain.  The caller fills op, index and page. */
struct tmem_op {
	u8 op;
	u32 index;
	struct page *page;	/* PUT source, GET destination, else NULL */
	u16 status;		/* what the device answered, or IOERR */
	u32 value;
};

/*
 * The memory of one chain: the device reads req and np and writes foot.
 * It lives in the blk-mq request (or is kmalloc'ed), never on the stack.
 */
struct tmem_chain {
	struct {
		struct virtio_tmem_batch prefix;
		struct virtio_tmem_hdr hdr[VIRTIO_TMEM_MAX_BATCH];
	} __packed req;
	struct virtio_tmem_footer foot[VIRTIO_TMEM_MAX_BATCH];
	struct virtio_tmem_new_pool np;
	struct tmem_op ops[VIRTIO_TMEM_MAX_BATCH];
	struct scatterlist out_sg[VIRTIO_TMEM_MAX_BATCH + 2];
	struct scatterlist in_sg[VIRTIO_TMEM_MAX_BATCH + 1];
	unsigned int n;			/* operations in the chain */
	unsigned int nsg;		/* descriptors it needs, unless indirect */
	unsigned int wlen;		/* bytes the device must write */
	unsigned int used_len;		/* bytes it says it wrote */
	bool on_ring;			/* the device owns it (under vq_lock) */
	/* called once the statuses are set; NULL: complete @done */
	void (*end)(struct tmem_chain *c);
	struct tmem_chain *next_done;	/* tmem_vq_done's list */
	struct completion done;

	/* what a blk-mq request is doing (tmem_blk.c) */
	u8 stage;
	blk_status_t result;
	struct work_struct work;
};

enum tmem_mode {
	TMEM_PERSISTENT,
	TMEM_EPHEMERAL,		/* write-through to a lower block device */
};

/* requests in flight, and so the lower bios they may hold at once */
#define TMEM_QUEUE_DEPTH	16

struct tmem_stats {
	atomic64_t puts;	/* PUTs stored */
	atomic64_t refused;	/* PUTs refused: NOSPACE, FROZEN */
	atomic64_t gets;	/* GETs sent */
	atomic64_t hits;
	atomic64_t misses;
	atomic64_t flushes;	/* pages flushed by discards */
	atomic64_t errors;	/* chains or operations that failed otherwise */
	atomic64_t lost;	/* persistent reads of a stored page that missed */
	atomic64_t lower_reads;	/* pages read from the lower device */
	atomic64_t lower_writes;
};

struct tmem_dev {
	struct virtio_device *vdev;
	struct virtqueue *vq;
	spinlock_t vq_lock;		/* the virtqueue */
	wait_queue_head_t vq_wait;	/* ring space freed */
	unsigned int max_batch;
	enum tmem_mode mode;
	u32 pool;			/* pool handle */
	int index;			/* N of tmemswapN */
	bool flush_on_close;		/* give pages back at the last close */

	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct workqueue_struct *wq;	/* what must sleep (see above) */
	u64 pages;			/* device size */
	unsigned long *stored;		/* persistent: pages the pool holds */

	struct block_device *lower;	/* ephemeral: the lower device */
	void *lower_handle;		/* what holds it open */
	struct bio_set lower_bs;	/* bios to it, never from fs_bio_set */
	char lower_path[64];

	struct tmem_stats st;
};

/* tmem_req.c */
void tmem_vq_done(struct virtqueue *vq);
int tmem_queue(struct tmem_dev *td, struct tmem_chain *c, unsigned int n,
	       struct blk_mq_hw_ctx *hctx);
int tmem_queue_wait(struct tmem_dev *td, struct tmem_chain *c, unsigned int n);
void tmem_chain_fail(struct tmem_dev *td, struct tmem_chain *c);
int tmem_submit(struct tmem_dev *td, struct tmem_chain *c, unsigned int n);
int tmem_new_pool(struct tmem_dev *td, bool persistent, u32 *handle);

/* tmem_blk.c */
int tmem_blk_init(void);
void tmem_blk_exit(void);
int tmem_blk_add(struct tmem_dev *td, const struct attribute_group **groups);
void tmem_blk_remove(struct tmem_dev *td);
int tmem_lower_open(struct tmem_dev *td, const char *path);
void tmem_lower_close(struct tmem_dev *td);

#endif
