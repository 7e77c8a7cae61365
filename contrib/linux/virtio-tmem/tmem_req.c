// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-tmem guest driver: request chains.
 *
 * A chain is: readable prefix and headers, readable PUT pages and NEW_POOL
 * payload; writable GET pages, then one footer per operation.  The device
 * is not trusted: a chain whose used length is wrong, or a status this
 * driver does not know, fails the operation; nothing it writes is used
 * beyond the footers and the GET pages it was given.
 */
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "tmem.h"

/* Footers start out as a value that is not a status (see the ABI). */
#define TMEM_NO_STATUS	0xffff

/* Check what the device wrote for @c and set each operation's status. */
static void tmem_chain_check(struct tmem_dev *td, struct tmem_chain *c)
{
	unsigned int i;

	if (c->used_len != c->wlen) {
		dev_err_ratelimited(&td->vdev->dev,
				    "used length %u, expected %u\n",
				    c->used_len, c->wlen);
		tmem_chain_fail(td, c);
		return;
	}
	for (i = 0; i < c->n; i++) {
		u16 s = le16_to_cpu(c->foot[i].status);

		c->ops[i].status = s <= VIRTIO_TMEM_IOERR ? s : VIRTIO_TMEM_IOERR;
		c->ops[i].value = le32_to_cpu(c->foot[i].value);
	}
}

/* Every operation of @c failed without an answer from the device. */
void tmem_chain_fail(struct tmem_dev *td, struct tmem_chain *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		c->ops[i].status = VIRTIO_TMEM_IOERR;
	atomic64_inc(&td->st.errors);
}

static void tmem_chain_end(struct tmem_chain *c)
{
	if (c->end)
		c->end(c);
	else
		complete(&c->done);
}

/*
 * Virtqueue callback (interrupt context), also called by whoever just
 * notified the device, which often answers during the notify.  The end
 * callbacks run without vq_lock: they may put chains on the ring again.
 */
void tmem_vq_done(struct virtqueue *vq)
{
	struct tmem_dev *td = vq->vdev->priv;
	struct tmem_chain *c, *list = NULL;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&td->vq_lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((c = virtqueue_get_buf(vq, &len))) {
			c->used_len = len;
			c->on_ring = false;
			c->next_done = list;
			list = c;
		}
	} while (!virtqueue_enable_cb(vq) && !virtqueue_is_broken(vq));
	spin_unlock_irqrestore(&td->vq_lock, flags);
	if (!list)
		return;

	wake_up_all(&td->vq_wait);
	if (td->disk)
		blk_mq_start_stopped_hw_queues(td->disk->queue, true);
	while (list) {
		c = list;
		list = c->next_done;
		tmem_chain_check(td, c);
		tmem_chain_end(c);
	}
}

/* Lay out ops[0..n-1] of @c as a chain: headers, then the pages. */
static int tmem_prepare(struct tmem_dev *td, struct tmem_chain *c,
			unsigned int n)
{
	unsigned int i, nout = 1, nin = 0, nsg_out = 1, nsg_in = 1;

	if (n == 0 || n > td->max_batch) {
		c->n = 0;
		return -EINVAL;
	}
	c->n = n;

	for (i = 0; i < n; i++) {
		if (c->ops[i].op == VIRTIO_TMEM_OP_PUT ||
		    c->ops[i].op == VIRTIO_TMEM_OP_NEW_POOL)
			nsg_out++;
		else if (c->ops[i].op == VIRTIO_TMEM_OP_GET)
			nsg_in++;
	}
	sg_init_table(c->out_sg, nsg_out);
	sg_init_table(c->in_sg, nsg_in);
	c->nsg = nsg_out + nsg_in;
	c->wlen = 0;

	memset(&c->req.prefix, 0, sizeof(c->req.prefix));
	c->req.prefix.count = cpu_to_le16(n);
	for (i = 0; i < n; i++) {
		struct virtio_tmem_hdr *h = &c->req.hdr[i];
		struct tmem_op *op = &c->ops[i];

		memset(h, 0, sizeof(*h));
		h->op = op->op;
		h->pool = cpu_to_le32(td->pool);
		h->index = cpu_to_le32(op->index);
		c->foot[i].status = cpu_to_le16(TMEM_NO_STATUS);
		c->foot[i].value = 0;
		switch (op->op) {
		case VIRTIO_TMEM_OP_PUT:
			h->len = cpu_to_le32(VIRTIO_TMEM_PAGE_SIZE);
			sg_set_page(&c->out_sg[nout++], op->page,
				    VIRTIO_TMEM_PAGE_SIZE, 0);
			break;
		case VIRTIO_TMEM_OP_GET:
			h->len = cpu_to_le32(VIRTIO_TMEM_PAGE_SIZE);
			sg_set_page(&c->in_sg[nin++], op->page,
				    VIRTIO_TMEM_PAGE_SIZE, 0);
			c->wlen += VIRTIO_TMEM_PAGE_SIZE;
			break;
		case VIRTIO_TMEM_OP_NEW_POOL:
			sg_set_buf(&c->out_sg[nout++], &c->np, sizeof(c->np));
			break;
		}
	}
	sg_set_buf(&c->out_sg[0], &c->req,
		   sizeof(c->req.prefix) + n * sizeof(c->req.hdr[0]));
	sg_set_buf(&c->in_sg[nin], c->foot, n * sizeof(c->foot[0]));
	c->wlen += n * sizeof(c->foot[0]);
	c->used_len = 0;
	return 0;
}

/*
 * Put a prepared chain on the ring and notify.  With the ring full, stop
 * @hctx under the lock, so that the completion that makes room restarts it.
 */
static int tmem_add(struct tmem_dev *td, struct tmem_chain *c,
		    struct blk_mq_hw_ctx *hctx)
{
	struct scatterlist *sgs[2] = { c->out_sg, c->in_sg };
	unsigned long flags;
	bool kick = false;
	int err;

	spin_lock_irqsave(&td->vq_lock, flags);
	c->on_ring = true;
	err = virtqueue_add_sgs(td->vq, sgs, 1, 1, c, GFP_ATOMIC);
	if (!err)
		kick = virtqueue_kick_prepare(td->vq);
	else
		c->on_ring = false;
	if (err == -ENOSPC && hctx)
		blk_mq_stop_hw_queue(hctx);
	spin_unlock_irqrestore(&td->vq_lock, flags);
	if (err)
		return err;
	if (kick)
		virtqueue_notify(td->vq);
	/* @c may have ended here: the caller must not touch it any more */
	tmem_vq_done(td->vq);
	return 0;
}

/*
 * Send ops[0..n-1] of @c as one chain; c->end runs once the device has
 * answered.  Never sleeps.  On an error, c->end does not run: -ENOSPC
 * means the ring is full (and @hctx, if any, is stopped).
 */
int tmem_queue(struct tmem_dev *td, struct tmem_chain *c, unsigned int n,
	       struct blk_mq_hw_ctx *hctx)
{
	int err = tmem_prepare(td, c, n);

	return err ? err : tmem_add(td, c, hctx);
}

/* As tmem_queue(), but waits for room on the ring.  May sleep. */
int tmem_queue_wait(struct tmem_dev *td, struct tmem_chain *c, unsigned int n)
{
	int err = tmem_prepare(td, c, n);

	if (err)
		return err;
	while ((err = tmem_add(td, c, NULL)) == -ENOSPC)
		wait_event_timeout(td->vq_wait,
				   td->vq->num_free >= c->nsg ||
				   virtqueue_is_broken(td->vq), HZ / 10);
	return err;
}

/*
 * Send ops[0..n-1] of @c as one chain and wait for it.  Returns 0 when the
 * device answered (each op's status is then set), or a negative errno when
 * the chain as a whole failed (each op's status is then IOERR).
 */
int tmem_submit(struct tmem_dev *td, struct tmem_chain *c, unsigned int n)
{
	int err;

	c->end = NULL;
	init_completion(&c->done);
	err = tmem_queue_wait(td, c, n);
	if (err)
		goto fail;
	while (!wait_for_completion_io_timeout(&c->done, HZ)) {
		if (virtqueue_is_broken(td->vq)) {
			/* the device will not touch the chain again */
			dev_err_ratelimited(&td->vdev->dev,
					    "device broken: request lost\n");
			err = -EIO;
			goto fail;
		}
	}
	if (c->used_len != c->wlen)
		return -EIO;	/* tmem_chain_check() failed every op */
	return 0;

fail:
	tmem_chain_fail(td, c);
	return err;
}

int tmem_new_pool(struct tmem_dev *td, bool persistent, u32 *handle)
{
	struct tmem_chain *c;
	u32 flags = VIRTIO_TMEM_POOL_VERSION_1;
	int err;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	if (persistent)
		flags |= VIRTIO_TMEM_POOL_PERSISTENT;
	c->np.flags = cpu_to_le32(flags);
	c->ops[0].op = VIRTIO_TMEM_OP_NEW_POOL;
	err = tmem_submit(td, c, 1);
	if (!err && c->ops[0].status != VIRTIO_TMEM_OK) {
		dev_err(&td->vdev->dev, "NEW_POOL failed with status %u\n",
			c->ops[0].status);
		err = c->ops[0].status == VIRTIO_TMEM_DENIED ? -EPERM : -EIO;
	}
	if (!err)
		*handle = c->ops[0].value;
	kfree(c);
	return err;
}
