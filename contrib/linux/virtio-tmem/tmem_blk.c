// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-tmem guest driver: the swap block device /dev/tmemswapN.
 *
 * Block n (4 KiB) of the device is the page with index n of object 0 of the
 * device's pool.  Every request carries at most max_batch pages (the queue
 * limits say so), so it becomes exactly one chain.  queue_rq puts that
 * chain on the ring and returns; the answer finishes the request from the
 * virtqueue interrupt (or at once: the host often answers during the
 * notify), so requests never wait on a worker.
 *
 * persistent: writes are PUTs.  A refused PUT fails the request; the swap
 * code then keeps the page in memory.  A bitmap records which blocks the
 * pool holds, so that a read of a block that was never written gives
 * zeros and a read of a stored block that misses is an error, not zeros.
 *
 * ephemeral: every write goes to the lower device and is then PUT; reads try
 * the pool (an ephemeral GET removes the page) and fall back to the lower
 * device.  The host may drop the pool's pages at any time; the lower device
 * has them all.
 */
#include <linux/bio.h>
#include <linux/idr.h>
#include <linux/slab.h>
#include <linux/module.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/version.h>

#include "tmem.h"

#define SECTORS_PER_PAGE	(PAGE_SIZE >> SECTOR_SHIFT)

static int tmem_major;
static DEFINE_IDA(tmem_ida);

/* What a request's chain is doing: how tmem_rq_end() goes on. */
enum {
	TMEM_ST_PUT,		/* write: PUT the pages */
	TMEM_ST_UNDO,		/* write failed: FLUSH what may be stale */
	TMEM_ST_GET,		/* read: GET the pages */
	TMEM_ST_LOWER_WRITE,	/* ephemeral write: the lower device first */
	TMEM_ST_DISCARD,	/* FLUSH the discarded blocks */
};

static struct tmem_dev *tmem_rq_dev(struct tmem_chain *c)
{
	return blk_mq_rq_from_pdu(c)->q->queuedata;
}

static void tmem_rq_end(struct tmem_chain *c, blk_status_t st)
{
	blk_mq_end_request(blk_mq_rq_from_pdu(c), st);
}

static void tmem_rq_chain_end(struct tmem_chain *c);

/* Sends a chain that found the ring full outside queue_rq. */
static void tmem_send_work(struct work_struct *work)
{
	struct tmem_chain *c = container_of(work, struct tmem_chain, work);
	struct tmem_dev *td = tmem_rq_dev(c);

	if (tmem_queue_wait(td, c, c->n)) {
		tmem_chain_fail(td, c);
		tmem_rq_chain_end(c);
	}
}

/* Send ops[0..n-1] of a request's chain from a context that cannot sleep. */
static void tmem_rq_send(struct tmem_dev *td, struct tmem_chain *c,
			 unsigned int n)
{
	int err;

	c->end = tmem_rq_chain_end;
	err = tmem_queue(td, c, n, NULL);
	if (err == -ENOSPC) {
		c->n = n;
		INIT_WORK(&c->work, tmem_send_work);
		queue_work(td->wq, &c->work);
	} else if (err) {
		tmem_chain_fail(td, c);
		tmem_rq_chain_end(c);
	}
}

/* Turn ops[0..n-1] into FLUSH_PAGEs of the same blocks and send them. */
static void tmem_rq_undo(struct tmem_dev *td, struct tmem_chain *c,
			 unsigned int n, blk_status_t result)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		c->ops[i].op = VIRTIO_TMEM_OP_FLUSH_PAGE;
		c->ops[i].page = NULL;
	}
	c->stage = TMEM_ST_UNDO;
	c->result = result;
	tmem_rq_send(td, c, n);
}

/* Collect the request's pages into c->ops; false if a segment is odd. */
static bool tmem_collect(struct tmem_dev *td, struct request *rq,
			 struct tmem_chain *c, u8 op)
{
	u64 first = blk_rq_pos(rq) / SECTORS_PER_PAGE;
	struct req_iterator it;
	struct bio_vec bv;
	unsigned int n = 0;

	if (blk_rq_pos(rq) % SECTORS_PER_PAGE ||
	    first + blk_rq_bytes(rq) / PAGE_SIZE > td->pages)
		return false;
	rq_for_each_segment(bv, rq, it) {
		/* the queue's limits promise whole, aligned pages */
		if (bv.bv_len != PAGE_SIZE || bv.bv_offset || n == td->max_batch)
			return false;
		c->ops[n].op = op;
		c->ops[n].index = first + n;
		c->ops[n].page = bv.bv_page;
		n++;
	}
	c->n = n;
	return n > 0;
}

/* The PUTs of a write were answered. */
static void tmem_put_done(struct tmem_dev *td, struct tmem_chain *c)
{
	blk_status_t ret = BLK_STS_OK;
	unsigned int i, nfail = 0;

	for (i = 0; i < c->n; i++) {
		switch (c->ops[i].status) {
		case VIRTIO_TMEM_OK:
			atomic64_inc(&td->st.puts);
			if (td->stored)
				set_bit(c->ops[i].index, td->stored);
			continue;
		case VIRTIO_TMEM_NOSPACE:
		case VIRTIO_TMEM_FROZEN:
			atomic64_inc(&td->st.refused);
			break;
		default:
			/* not executed, maybe: an older copy may remain */
			atomic64_inc(&td->st.errors);
			c->ops[nfail++].index = c->ops[i].index;
			break;
		}
		/* refused: the device holds no copy of this block now */
		if (td->stored)
			clear_bit(c->ops[i].index, td->stored);
		if (td->mode == TMEM_PERSISTENT)
			ret = BLK_STS_IOERR;
	}
	if (nfail)
		tmem_rq_undo(td, c, nfail, ret);
	else
		tmem_rq_end(c, ret);
}

/*
 * The FLUSHes after a failed write were answered.  A block the device may
 * still hold an older copy of fails the write, so that swap keeps the page
 * and writes it again rather than later read the stale copy.
 */
static void tmem_undo_done(struct tmem_dev *td, struct tmem_chain *c)
{
	blk_status_t ret = c->result;
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		switch (c->ops[i].status) {
		case VIRTIO_TMEM_OK:
			atomic64_inc(&td->st.flushes);
			fallthrough;
		case VIRTIO_TMEM_MISS:
			if (td->stored)
				clear_bit(c->ops[i].index, td->stored);
			break;
		default:
			ret = BLK_STS_IOERR;
			break;
		}
	}
	tmem_rq_end(c, ret);
}

/* Read @n pages from the lower device at @sector, and wait for them. */
static int tmem_lower_read(struct tmem_dev *td, sector_t sector,
			   struct page **pages, unsigned int n)
{
	struct bio *bio;
	unsigned int i;
	int err;

	/*
	 * Our own bio_set: swap-out holds bios of fs_bio_set while it waits
	 * for us, so under pressure its reserve may be empty until we finish.
	 */
	bio = bio_alloc_bioset(td->lower, n, REQ_OP_READ | REQ_SYNC, GFP_NOIO,
			       &td->lower_bs);
	bio->bi_iter.bi_sector = sector;
	for (i = 0; i < n; i++) {
		if (bio_add_page(bio, pages[i], PAGE_SIZE, 0) != PAGE_SIZE) {
			bio_put(bio);
			return -EIO;
		}
	}
	err = submit_bio_wait(bio);
	bio_put(bio);
	atomic64_add(n, &td->st.lower_reads);
	return err;
}

/* Ephemeral: read each run of pages the pool missed from the lower device. */
static void tmem_miss_work(struct work_struct *work)
{
	struct tmem_chain *c = container_of(work, struct tmem_chain, work);
	struct tmem_dev *td = tmem_rq_dev(c);
	struct page *pages[VIRTIO_TMEM_MAX_BATCH];
	blk_status_t ret = BLK_STS_OK;
	unsigned int i, run = 0;

	for (i = 0; i <= c->n; i++) {
		if (i < c->n && c->ops[i].status != VIRTIO_TMEM_OK) {
			pages[run++] = c->ops[i].page;
			continue;
		}
		if (run) {
			sector_t s = (sector_t)c->ops[i - run].index *
				     SECTORS_PER_PAGE;

			if (tmem_lower_read(td, s, pages, run))
				ret = BLK_STS_IOERR;
			run = 0;
		}
	}
	tmem_rq_end(c, ret);
}

/* The GETs of a read were answered. */
static void tmem_get_done(struct tmem_dev *td, struct tmem_chain *c)
{
	blk_status_t ret = BLK_STS_OK;
	unsigned int i, nmiss = 0;

	atomic64_add(c->n, &td->st.gets);
	for (i = 0; i < c->n; i++) {
		struct tmem_op *op = &c->ops[i];

		if (op->status == VIRTIO_TMEM_OK) {
			atomic64_inc(&td->st.hits);
			continue;
		}
		nmiss++;
		if (op->status == VIRTIO_TMEM_MISS)
			atomic64_inc(&td->st.misses);
		else
			atomic64_inc(&td->st.errors);
		if (td->mode == TMEM_EPHEMERAL)
			continue;
		/* never written: a sparse block reads as zeros */
		if (op->status == VIRTIO_TMEM_MISS &&
		    !test_bit(op->index, td->stored)) {
			zero_user(op->page, 0, PAGE_SIZE);
			continue;
		}
		atomic64_inc(&td->st.lost);
		ret = BLK_STS_IOERR;
	}
	if (td->mode == TMEM_EPHEMERAL && nmiss) {
		INIT_WORK(&c->work, tmem_miss_work);
		queue_work(td->wq, &c->work);
		return;
	}
	tmem_rq_end(c, ret);
}

/* Ephemeral: the discard reaches the lower device too. */
static void tmem_discard_work(struct work_struct *work)
{
	struct tmem_chain *c = container_of(work, struct tmem_chain, work);
	struct tmem_dev *td = tmem_rq_dev(c);
	struct request *rq = blk_mq_rq_from_pdu(c);

	blkdev_issue_discard(td->lower, blk_rq_pos(rq), blk_rq_sectors(rq),
			     GFP_NOIO);
	tmem_rq_end(c, BLK_STS_OK);
}

static void tmem_discard_done(struct tmem_dev *td, struct tmem_chain *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		if (c->ops[i].status != VIRTIO_TMEM_OK)
			continue;
		atomic64_inc(&td->st.flushes);
		if (td->stored)
			clear_bit(c->ops[i].index, td->stored);
	}
	if (td->mode == TMEM_EPHEMERAL && bdev_max_discard_sectors(td->lower)) {
		INIT_WORK(&c->work, tmem_discard_work);
		queue_work(td->wq, &c->work);
		return;
	}
	tmem_rq_end(c, BLK_STS_OK);
}

/* A request's chain was answered (any context, no locks held). */
static void tmem_rq_chain_end(struct tmem_chain *c)
{
	struct tmem_dev *td = tmem_rq_dev(c);

	switch (c->stage) {
	case TMEM_ST_PUT:
		tmem_put_done(td, c);
		break;
	case TMEM_ST_UNDO:
		tmem_undo_done(td, c);
		break;
	case TMEM_ST_GET:
		tmem_get_done(td, c);
		break;
	case TMEM_ST_DISCARD:
		tmem_discard_done(td, c);
		break;
	default:
		WARN_ON_ONCE(1);
		tmem_rq_end(c, BLK_STS_IOERR);
		break;
	}
}

/* Ephemeral: the lower device has the write; now the pool gets it. */
static void tmem_lower_write_done(struct bio *bio)
{
	struct tmem_chain *c = bio->bi_private;
	struct tmem_dev *td = tmem_rq_dev(c);
	blk_status_t st = bio->bi_status;

	bio_put(bio);
	atomic64_add(c->n, &td->st.lower_writes);
	if (st) {
		/* no older copy may stay readable in the pool */
		tmem_rq_undo(td, c, c->n, st);
		return;
	}
	c->stage = TMEM_ST_PUT;
	tmem_rq_send(td, c, c->n);
}

/*
 * Ephemeral writes start on the lower device; queue_rq may sleep then
 * (BLK_MQ_F_BLOCKING), and the bio completes later, maybe only after we
 * return if we run inside submit_bio.  Our own bio_set: swap-out holds
 * bios of fs_bio_set while it waits for us, so under pressure its reserve
 * may be empty until we finish; ours has one bio per request in flight.
 */
static void tmem_lower_write(struct tmem_dev *td, struct request *rq,
			     struct tmem_chain *c)
{
	struct bio *bio;
	unsigned int i;

	bio = bio_alloc_bioset(td->lower, c->n, REQ_OP_WRITE, GFP_NOIO,
			       &td->lower_bs);
	bio->bi_iter.bi_sector = blk_rq_pos(rq);
	bio->bi_private = c;
	bio->bi_end_io = tmem_lower_write_done;
	for (i = 0; i < c->n; i++) {
		if (bio_add_page(bio, c->ops[i].page, PAGE_SIZE, 0) !=
		    PAGE_SIZE) {
			bio->bi_status = BLK_STS_IOERR;
			bio_endio(bio);
			return;
		}
	}
	c->stage = TMEM_ST_LOWER_WRITE;
	submit_bio(bio);
}

static blk_status_t tmem_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct tmem_dev *td = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	struct tmem_chain *c = blk_mq_rq_to_pdu(rq);
	u64 first = blk_rq_pos(rq) / SECTORS_PER_PAGE;
	unsigned int i;
	int err;

	blk_mq_start_request(rq);
	c->end = tmem_rq_chain_end;
	switch (req_op(rq)) {
	case REQ_OP_READ:
		if (!tmem_collect(td, rq, c, VIRTIO_TMEM_OP_GET))
			return BLK_STS_IOERR;
		c->stage = TMEM_ST_GET;
		break;
	case REQ_OP_WRITE:
		if (!tmem_collect(td, rq, c, VIRTIO_TMEM_OP_PUT))
			return BLK_STS_IOERR;
		if (td->mode == TMEM_EPHEMERAL) {
			tmem_lower_write(td, rq, c);
			return BLK_STS_OK;
		}
		c->stage = TMEM_ST_PUT;
		break;
	case REQ_OP_DISCARD:
		c->n = blk_rq_bytes(rq) / PAGE_SIZE;
		if (blk_rq_pos(rq) % SECTORS_PER_PAGE ||
		    first + c->n > td->pages || c->n > td->max_batch)
			return BLK_STS_IOERR;
		if (!c->n) {
			blk_mq_end_request(rq, BLK_STS_OK);
			return BLK_STS_OK;
		}
		for (i = 0; i < c->n; i++) {
			c->ops[i].op = VIRTIO_TMEM_OP_FLUSH_PAGE;
			c->ops[i].index = first + i;
			c->ops[i].page = NULL;
		}
		c->stage = TMEM_ST_DISCARD;
		break;
	case REQ_OP_FLUSH:
		/* nothing is cached in the guest */
		blk_mq_end_request(rq, BLK_STS_OK);
		return BLK_STS_OK;
	default:
		return BLK_STS_NOTSUPP;
	}

	err = tmem_queue(td, c, c->n, hctx);
	if (err == -ENOSPC)
		return BLK_STS_DEV_RESOURCE;	/* the next completion reruns us */
	return err ? BLK_STS_IOERR : BLK_STS_OK;
}

/*
 * A device that broke with chains on the ring never answers them: fail
 * those.  Anything else (a slow host, a lower device) is waited for.
 */
static enum blk_eh_timer_return tmem_timeout(struct request *rq)
{
	struct tmem_dev *td = rq->q->queuedata;
	struct tmem_chain *c = blk_mq_rq_to_pdu(rq);
	unsigned long flags;
	bool fail;

	spin_lock_irqsave(&td->vq_lock, flags);
	fail = c->on_ring && virtqueue_is_broken(td->vq);
	if (fail)
		c->on_ring = false;
	spin_unlock_irqrestore(&td->vq_lock, flags);
	if (!fail)
		return BLK_EH_RESET_TIMER;
	dev_err_ratelimited(&td->vdev->dev, "device broken: request failed\n");
	atomic64_inc(&td->st.errors);
	blk_mq_end_request(rq, BLK_STS_IOERR);
	return BLK_EH_DONE;
}

static const struct blk_mq_ops tmem_mq_ops = {
	.queue_rq = tmem_queue_rq,
	.timeout = tmem_timeout,
};

/*
 * Last close (swapoff, or mkswap done): swap content is dead once the swap
 * is off, so give the host its memory back at once rather than when the
 * kernel gets round to discarding.  Block 0 stays: it holds the signature
 * mkswap wrote, which the next swapon reads.
 */
static void tmem_last_close(struct tmem_dev *td)
{
	struct tmem_chain *c;
	struct page *page = NULL;
	bool keep;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return;
	keep = td->mode == TMEM_PERSISTENT && test_bit(0, td->stored);
	if (keep) {
		page = alloc_page(GFP_KERNEL);
		c->ops[0].op = VIRTIO_TMEM_OP_GET;
		c->ops[0].page = page;
		if (!page || tmem_submit(td, c, 1) ||
		    c->ops[0].status != VIRTIO_TMEM_OK)
			goto out;	/* keep everything rather than lose block 0 */
	}
	c->ops[0].op = VIRTIO_TMEM_OP_FLUSH_POOL;
	c->ops[0].page = NULL;
	if (tmem_submit(td, c, 1) || c->ops[0].status != VIRTIO_TMEM_OK)
		goto out;
	atomic64_add(c->ops[0].value, &td->st.flushes);
	if (td->stored)
		bitmap_zero(td->stored, td->pages);
	if (keep) {
		c->ops[0].op = VIRTIO_TMEM_OP_PUT;
		c->ops[0].index = 0;
		c->ops[0].page = page;
		if (!tmem_submit(td, c, 1) && c->ops[0].status == VIRTIO_TMEM_OK)
			set_bit(0, td->stored);
	}
out:
	if (page)
		__free_page(page);
	kfree(c);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
static void tmem_release(struct gendisk *disk)
#else
static void tmem_release(struct gendisk *disk, fmode_t mode)
#endif
{
	struct tmem_dev *td = disk->private_data;

	/* called with the disk's open_mutex held, when the last opener goes */
	if (td->flush_on_close)
		tmem_last_close(td);
}

static const struct block_device_operations tmem_fops = {
	/* an open device (active swap) pins the module */
	.owner = THIS_MODULE,
	.release = tmem_release,
};

/* Open the lower device exclusively, as ours. */
static int tmem_lower_get(struct tmem_dev *td, const char *path)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct file *f;

	f = bdev_file_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE, td,
				   NULL);
	if (IS_ERR(f))
		return PTR_ERR(f);
	td->lower_handle = f;
	td->lower = file_bdev(f);
#else
	struct block_device *bdev;

	bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE | FMODE_EXCL,
				  td);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	td->lower_handle = bdev;
	td->lower = bdev;
#endif
	return 0;
}

int tmem_lower_open(struct tmem_dev *td, const char *path)
{
	int err;

	err = bioset_init(&td->lower_bs, TMEM_QUEUE_DEPTH, 0,
			  BIOSET_NEED_BVECS);
	if (err)
		return err;
	err = tmem_lower_get(td, path);
	if (err) {
		bioset_exit(&td->lower_bs);
		return err;
	}
	strscpy(td->lower_path, path, sizeof(td->lower_path));
	return 0;
}

void tmem_lower_close(struct tmem_dev *td)
{
	if (!td->lower_handle)
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	fput(td->lower_handle);
#else
	blkdev_put(td->lower, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
#endif
	td->lower_handle = NULL;
	td->lower = NULL;
	bioset_exit(&td->lower_bs);
}

int tmem_blk_add(struct tmem_dev *td, const struct attribute_group **groups)
{
	unsigned int sectors = td->max_batch * SECTORS_PER_PAGE;
	struct gendisk *disk;
	int err;

	if (td->mode == TMEM_PERSISTENT) {
		td->stored = vzalloc(BITS_TO_LONGS(td->pages) * sizeof(long));
		if (!td->stored)
			return -ENOMEM;
	}

	td->index = ida_alloc(&tmem_ida, GFP_KERNEL);
	if (td->index < 0) {
		err = td->index;
		goto free_bitmap;
	}
	/* swap-out is memory reclaim: the queue needs a rescuer */
	td->wq = alloc_workqueue("tmemswap%d", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0,
				 td->index);
	if (!td->wq) {
		err = -ENOMEM;
		goto free_index;
	}

	memset(&td->tag_set, 0, sizeof(td->tag_set));
	td->tag_set.ops = &tmem_mq_ops;
	td->tag_set.nr_hw_queues = 1;
	td->tag_set.queue_depth = TMEM_QUEUE_DEPTH;
	td->tag_set.numa_node = NUMA_NO_NODE;
	td->tag_set.cmd_size = sizeof(struct tmem_chain);
	td->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	/* ephemeral writes allocate and submit lower bios in queue_rq */
	if (td->mode == TMEM_EPHEMERAL)
		td->tag_set.flags |= BLK_MQ_F_BLOCKING;
	td->tag_set.driver_data = td;
	err = blk_mq_alloc_tag_set(&td->tag_set);
	if (err)
		goto free_wq;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	{
		struct queue_limits lim = {
			.logical_block_size = PAGE_SIZE,
			.physical_block_size = PAGE_SIZE,
			.io_min = PAGE_SIZE,
			.max_hw_sectors = sectors,
			.max_segments = td->max_batch,
			.max_segment_size = PAGE_SIZE,
			.max_hw_discard_sectors = sectors,
			.discard_granularity = PAGE_SIZE,
			.dma_alignment = PAGE_SIZE - 1,
		};

		disk = blk_mq_alloc_disk(&td->tag_set, &lim, td);
	}
#else
	disk = blk_mq_alloc_disk(&td->tag_set, td);
	if (!IS_ERR(disk)) {
		struct request_queue *q = disk->queue;

		blk_queue_logical_block_size(q, PAGE_SIZE);
		blk_queue_physical_block_size(q, PAGE_SIZE);
		blk_queue_io_min(q, PAGE_SIZE);
		blk_queue_max_hw_sectors(q, sectors);
		blk_queue_max_segments(q, td->max_batch);
		blk_queue_max_segment_size(q, PAGE_SIZE);
		blk_queue_max_discard_sectors(q, sectors);
		q->limits.discard_granularity = PAGE_SIZE;
		blk_queue_dma_alignment(q, PAGE_SIZE - 1);
		blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
		blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, q);
	}
#endif
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto free_tags;
	}
	disk->major = tmem_major;
	disk->first_minor = td->index;
	disk->minors = 1;
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &tmem_fops;
	disk->private_data = td;
	snprintf(disk->disk_name, DISK_NAME_LEN, "tmemswap%d", td->index);
	set_capacity(disk, td->pages * SECTORS_PER_PAGE);
	td->disk = disk;

	err = device_add_disk(&td->vdev->dev, disk, groups);
	if (err)
		goto put_disk;
	return 0;

put_disk:
	put_disk(disk);
	td->disk = NULL;
free_tags:
	blk_mq_free_tag_set(&td->tag_set);
free_wq:
	destroy_workqueue(td->wq);
free_index:
	ida_free(&tmem_ida, td->index);
free_bitmap:
	vfree(td->stored);
	td->stored = NULL;
	return err;
}

/* Waits for the requests in flight; later ones fail. */
void tmem_blk_remove(struct tmem_dev *td)
{
	del_gendisk(td->disk);
	put_disk(td->disk);
	blk_mq_free_tag_set(&td->tag_set);
	destroy_workqueue(td->wq);
	ida_free(&tmem_ida, td->index);
	vfree(td->stored);
	td->stored = NULL;
	td->disk = NULL;
}

int tmem_blk_init(void)
{
	tmem_major = register_blkdev(0, "tmemswap");
	return tmem_major < 0 ? tmem_major : 0;
}

void tmem_blk_exit(void)
{
	unregister_blkdev(tmem_major, "tmemswap");
	ida_destroy(&tmem_ida);
}
