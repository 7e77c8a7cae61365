// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-tmem guest driver: the swap block device /dev/tmemswapN.
 *
 * Block n (4 KiB) of the device is the page with index n of object 0 of the
 * device's pool.  Every request carries at most max_batch pages (the queue
 * limits say so), so it becomes exactly one chain.
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

/* Read or write @n pages from the lower device, starting at @sector. */
static int tmem_lower_io(struct tmem_dev *td, blk_opf_t opf, sector_t sector,
			 struct page **pages, unsigned int n)
{
	struct bio *bio;
	unsigned int i;
	int err;

	/*
	 * Our own bio_set: swap-out holds bios of fs_bio_set while it waits
	 * for us, so under pressure its reserve may be empty until we finish.
	 */
	bio = bio_alloc_bioset(td->lower, n, opf | REQ_SYNC, GFP_NOIO,
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
	if (op_is_write(opf))
		atomic64_add(n, &td->st.lower_writes);
	else
		atomic64_add(n, &td->st.lower_reads);
	return err;
}

/* Collect the request's pages into c->ops; false if a segment is odd. */
static bool tmem_collect(struct tmem_dev *td, struct request *rq,
			 struct tmem_chain *c, u8 op, unsigned int *np)
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
	*np = n;
	return n > 0;
}

static void tmem_flush_ops(struct tmem_dev *td, struct tmem_chain *c,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		c->ops[i].op = VIRTIO_TMEM_OP_FLUSH_PAGE;
		c->ops[i].page = NULL;
	}
	tmem_submit(td, c, n);
	for (i = 0; i < n; i++) {
		if (c->ops[i].status == VIRTIO_TMEM_OK) {
			atomic64_inc(&td->st.flushes);
			if (td->stored)
				clear_bit(c->ops[i].index, td->stored);
		}
	}
}

static blk_status_t tmem_write(struct tmem_dev *td, struct request *rq,
			       struct tmem_chain *c)
{
	struct page *pages[VIRTIO_TMEM_MAX_BATCH];
	blk_status_t ret = BLK_STS_OK;
	unsigned int i, n, nfail = 0;

	if (!tmem_collect(td, rq, c, VIRTIO_TMEM_OP_PUT, &n))
		return BLK_STS_IOERR;

	if (td->mode == TMEM_EPHEMERAL) {
		for (i = 0; i < n; i++)
			pages[i] = c->ops[i].page;
		if (tmem_lower_io(td, REQ_OP_WRITE, blk_rq_pos(rq), pages, n)) {
			/* no older copy may stay readable in the pool */
			tmem_flush_ops(td, c, n);
			return BLK_STS_IOERR;
		}
	}

	tmem_submit(td, c, n);
	for (i = 0; i < n; i++) {
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
		tmem_flush_ops(td, c, nfail);
	return ret;
}

static blk_status_t tmem_read(struct tmem_dev *td, struct request *rq,
			      struct tmem_chain *c)
{
	struct page *pages[VIRTIO_TMEM_MAX_BATCH];
	blk_status_t ret = BLK_STS_OK;
	unsigned int i, n, run = 0;

	if (!tmem_collect(td, rq, c, VIRTIO_TMEM_OP_GET, &n))
		return BLK_STS_IOERR;
	tmem_submit(td, c, n);
	atomic64_add(n, &td->st.gets);

	for (i = 0; i <= n; i++) {
		bool miss = i < n && c->ops[i].status != VIRTIO_TMEM_OK;

		if (i < n) {
			if (!miss)
				atomic64_inc(&td->st.hits);
			else if (c->ops[i].status == VIRTIO_TMEM_MISS)
				atomic64_inc(&td->st.misses);
			else
				atomic64_inc(&td->st.errors);
		}
		if (td->mode == TMEM_PERSISTENT) {
			if (!miss)
				continue;
			/* never written: a sparse block reads as zeros */
			if (c->ops[i].status == VIRTIO_TMEM_MISS &&
			    !test_bit(c->ops[i].index, td->stored)) {
				zero_user(c->ops[i].page, 0, PAGE_SIZE);
				continue;
			}
			atomic64_inc(&td->st.lost);
			ret = BLK_STS_IOERR;
			continue;
		}
		/* ephemeral: read each run of misses from the lower device */
		if (miss) {
			pages[run++] = c->ops[i].page;
			continue;
		}
		if (run) {
			sector_t s = (sector_t)c->ops[i - run].index *
				     SECTORS_PER_PAGE;

			if (tmem_lower_io(td, REQ_OP_READ, s, pages, run))
				ret = BLK_STS_IOERR;
			run = 0;
		}
	}
	return ret;
}

static blk_status_t tmem_discard(struct tmem_dev *td, struct request *rq,
				 struct tmem_chain *c)
{
	u64 first = blk_rq_pos(rq) / SECTORS_PER_PAGE;
	u64 count = blk_rq_bytes(rq) / PAGE_SIZE;
	unsigned int i;

	if (blk_rq_pos(rq) % SECTORS_PER_PAGE || first + count > td->pages ||
	    count > td->max_batch)
		return BLK_STS_IOERR;
	if (!count)
		return BLK_STS_OK;
	for (i = 0; i < count; i++)
		c->ops[i].index = first + i;
	tmem_flush_ops(td, c, count);
	if (td->mode == TMEM_EPHEMERAL && bdev_max_discard_sectors(td->lower))
		blkdev_issue_discard(td->lower, blk_rq_pos(rq),
				     blk_rq_sectors(rq), GFP_NOIO);
	return BLK_STS_OK;
}

/*
 * A request is served by a worker, never in queue_rq: queue_rq may run
 * inside submit_bio, where a bio to the lower device would only be queued
 * until we return, and waiting for it would never end.
 */
static void tmem_work(struct work_struct *work)
{
	struct tmem_chain *c = container_of(work, struct tmem_chain, work);
	struct request *rq = blk_mq_rq_from_pdu(c);
	struct tmem_dev *td = rq->q->queuedata;
	blk_status_t st;

	switch (req_op(rq)) {
	case REQ_OP_READ:
		st = tmem_read(td, rq, c);
		break;
	case REQ_OP_WRITE:
		st = tmem_write(td, rq, c);
		break;
	case REQ_OP_DISCARD:
		st = tmem_discard(td, rq, c);
		break;
	case REQ_OP_FLUSH:
		st = BLK_STS_OK;	/* nothing is cached in the guest */
		break;
	default:
		st = BLK_STS_NOTSUPP;
		break;
	}
	blk_mq_end_request(rq, st);
}

static blk_status_t tmem_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct tmem_dev *td = hctx->queue->queuedata;
	struct tmem_chain *c = blk_mq_rq_to_pdu(bd->rq);

	blk_mq_start_request(bd->rq);
	INIT_WORK(&c->work, tmem_work);
	queue_work(td->wq, &c->work);
	return BLK_STS_OK;
}

static const struct blk_mq_ops tmem_mq_ops = {
	.queue_rq = tmem_queue_rq,
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
